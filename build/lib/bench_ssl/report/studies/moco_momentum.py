"""MoCo's momentum ablation (Sec. 4.1): the key encoder's momentum m; m = 0 (a copy of the query encoder)
fails to train, 0.99 .. 0.9999 work, 0.999 is best."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, number


class MocoMomentum(Study):
    figure = "MoCo momentum ablation"
    title = "momentum of the key encoder"
    citation = "He et al. 2020, MoCo, arXiv:1911.05722"
    paper_table = "moco_momentum_ablation"
    paper_setup = "ImageNet, ResNet-50, K = 4096"
    expected = "m = 0 fails (training oscillates); accuracy rises with m up to 0.999 and stays there at 0.9999"
    parts = ("momentum m",)
    kind = "line"
    x = 0

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((number(m),), number(v), "" if v.replace(".", "").isdigit() else v)
                for m, v in zip(df["momentum_m"], df["top1"])]

    def key_of(self, run: dict):
        if run.get("method.name") != "moco":
            return None
        return (number(run.get("method.momentum")),)

    def label(self, key) -> str:
        return f"m = {key[0]:g}"

    def part_label(self, part, value) -> str:
        return f"{value:g}"

    def claims(self, match) -> list[Claim]:
        return [
            Claim("a momentum encoder beats a copied one: m = 0.9 > m = 0 (fails in the paper)", ((0.9,),), ((0.0,),)),
            Claim("m = 0.99 beats m = 0.9", ((0.99,),), ((0.9,),)),
            Claim("m = 0.999 beats m = 0.9", ((0.999,),), ((0.9,),)),
        ]


STUDY = STUDIES.register("moco_momentum")(MocoMomentum())
