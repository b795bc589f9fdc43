"""SupCon Table 5: positives per anchor. Going from SimCLR's one positive to three is most of SupCon's gain;
beyond about five more positives change little."""

from __future__ import annotations

import math

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, number

ALL = "all"


class SupConPositives(Study):
    figure = "SupCon Table 5"
    title = "positives per anchor"
    citation = "Khosla et al. 2020, SupCon, arXiv:2004.11362"
    paper_table = "supcon_table5_num_positives"
    paper_setup = "ImageNet, ResNet-50, batch 6144, 350 epochs"
    expected = "a steep rise from 1 to 3 positives, flat from about 5 (69.3 / 76.6 / 78.0 / 78.4 / 78.3 / 78.5 for all)"
    parts = ("positives per anchor",)
    orders = {0: [1, 3, 5, 7, 9, ALL]}
    kind = "line"
    x = 0
    separate_x = (ALL,)

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        out = []
        for n, v in zip(df["max_positives_per_anchor"], df["top1"]):
            head = str(n).split()[0]
            out.append(PaperCell((int(head) if head.isdigit() else ALL,), number(v)))
        return out

    def key_of(self, run: dict):
        if run.get("method.name") != "supcon" or run.get("method.supcon_variant", "out") != "out":
            return None
        n = number(run.get("method.max_positives"))  # NaN: not set (None in a config, empty in the table)
        return (ALL,) if math.isnan(n) else (int(n),)

    def label(self, key) -> str:
        return "all" if key[0] == ALL else f"{key[0]} positive{'s' if key[0] != 1 else ''}"

    def claims(self, match) -> list[Claim]:
        return [
            Claim("3 positives beat 1 (SimCLR's single positive)", ((3,),), ((1,),)),
            Claim("every same-class positive beats 1", ((ALL,),), ((1,),)),
            Claim("9 positives beat 3", ((9,),), ((3,),)),
        ]


STUDY = STUDIES.register("supcon_positives")(SupConPositives())
