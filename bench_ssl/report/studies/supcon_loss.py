"""SupCon Table 1: where the sum over an anchor's positives sits. L_out (outside the log: the mean of their
log-probabilities) beats L_in (inside: the log of their mean probability) by 11 points on ImageNet."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, number

VARIANTS = {"out": "L_out", "in": "L_in"}


class SupConLoss(Study):
    figure = "SupCon Table 1"
    title = "the positives' sum outside (L_out) or inside (L_in) the log"
    citation = "Khosla et al. 2020, SupCon, arXiv:2004.11362"
    paper_table = "supcon_table1_lout_vs_lin"
    paper_setup = "ImageNet, ResNet-50, batch 6144"
    expected = "L_out beats L_in (78.7 vs 67.4)"
    parts = ("loss",)
    orders = {0: list(VARIANTS.values())}
    kind = "bar"
    x = 0

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell(("L_out" if str(loss).startswith("L_out") else "L_in",), number(v))
                for loss, v in zip(df["loss"], df["top1"])]

    def key_of(self, run: dict):
        if run.get("method.name") != "supcon":
            return None
        v = VARIANTS.get(run.get("method.supcon_variant", "out"))
        return (v,) if v else None

    def claims(self, match) -> list[Claim]:
        return [Claim("L_out beats L_in", (("L_out",),), (("L_in",),))]


STUDY = STUDIES.register("supcon_loss")(SupConLoss())
