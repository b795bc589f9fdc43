"""SimCLR Table 1: colour distortion strength 1/8 .. 1 and 1 (+blur), SimCLR against the supervised baseline:
the contrastive model wants strong colour distortion, the supervised one does not."""

from __future__ import annotations

import math

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, number, views

STRENGTHS = ["1/8", "1/4", "1/2", "1", "1 (+Blur)", "AutoAug"]
NAMES = {0.125: "1/8", 0.25: "1/4", 0.5: "1/2", 1.0: "1"}
METHODS = {"simclr": "SimCLR", "supervised": "Supervised"}


class ColorStrength(Study):
    figure = "SimCLR Table 1"
    title = "colour distortion strength, SimCLR vs supervised"
    citation = "Chen et al. 2020, SimCLR, arXiv:2002.05709"
    paper_table = "simclr_table1_color_strength"
    paper_setup = "ImageNet, ResNet-50, 100 epochs"
    expected = ("SimCLR improves as colour distortion gets stronger (and with blur on top); the supervised model gets "
                "slightly worse")
    parts = ("method", "colour strength")
    orders = {0: ["SimCLR", "Supervised"], 1: STRENGTHS}
    kind = "line"
    x, facet = 1, 0
    separate_x = ("AutoAug",)  # a policy, not a strength: not joined to the strength curve

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((m, s), number(v)) for m, s, v in zip(df["method"], df["color_distortion_strength"], df["top1"])]

    def key_of(self, run: dict):
        method = METHODS.get(run.get("method.name"))
        v1 = views(run, "augment.view1")
        if method is None or "color" not in v1:
            return None
        s = number(run.get("augment.color.strength"))
        if math.isnan(s):
            return None
        label = NAMES.get(s, f"{s:g}")
        return (method, f"{label} (+Blur)" if "blur" in v1 else label)

    def claims(self, match) -> list[Claim]:
        return [
            Claim("SimCLR gains from stronger colour distortion: 1 > 1/8", (("SimCLR", "1"),), (("SimCLR", "1/8"),)),
            Claim("supervised training does not: 1/8 > 1", (("Supervised", "1/8"),), (("Supervised", "1"),)),
            Claim("blur on top of strength 1 helps SimCLR", (("SimCLR", "1 (+Blur)"),), (("SimCLR", "1"),)),
            Claim("the supervised model beats SimCLR at strength 1/2", (("Supervised", "1/2"),), (("SimCLR", "1/2"),)),
        ]

    def groups(self) -> dict:
        return {"SimCLR": lambda k: k[0] == "SimCLR", "Supervised": lambda k: k[0] == "Supervised"}


STUDY = STUDIES.register("color_strength")(ColorStrength())
