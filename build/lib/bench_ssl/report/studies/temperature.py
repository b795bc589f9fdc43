"""SimCLR Table 5: NT-Xent with and without l2 normalisation over temperatures: normalised with a moderate
temperature wins; without normalisation the contrastive task is solved but the representation is worse."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, number


class Temperature(Study):
    figure = "SimCLR Table 5"
    title = "l2 normalisation and temperature"
    citation = "Chen et al. 2020, SimCLR, arXiv:2002.05709"
    paper_table = "simclr_table5_l2norm_temperature"
    paper_setup = "ImageNet, ResNet-50, batch 4096, 100 epochs"
    expected = ("with l2 normalisation a moderate temperature is best (0.1 on ImageNet; 0.5 on CIFAR-10, Fig. B.8); "
                "without it, top-1 is lower at any temperature")
    parts = ("temperature τ", "l2 normalisation")
    orders = {1: ["yes", "no"]}
    kind = "line"
    x, hue = 0, 1
    categorical_x = False
    xlog = True

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((number(t), l2), number(v)) for l2, t, v in zip(df["l2_norm"], df["tau"], df["top1"])]

    def key_of(self, run: dict):
        if run.get("method.name") != "simclr" or run.get("method.loss", "nt_xent") != "nt_xent":
            return None
        return (number(run.get("method.temperature")), "yes" if run.get("method.normalize", True) else "no")

    def part_label(self, part, value) -> str:
        if part == 1:
            return {"yes": "l2-normalised", "no": "not normalised"}[value]
        return super().part_label(part, value)

    def label(self, key) -> str:
        return f"τ={key[0]:g}, {'l2' if key[1] == 'yes' else 'no l2'}"

    def claims(self, match) -> list[Claim]:
        return [
            Claim("with l2, τ = 0.1 beats τ = 1", ((0.1, "yes"),), ((1.0, "yes"),)),
            Claim("with l2, τ = 0.5 beats τ = 1", ((0.5, "yes"),), ((1.0, "yes"),)),
            Claim("l2-normalised (τ = 0.1, 0.5) beats unnormalised (τ = 10, 100)", ((0.1, "yes"), (0.5, "yes")),
                  ((10.0, "no"), (100.0, "no"))),
        ]

    def groups(self) -> dict:
        return {"l2-normalised": lambda k: k[1] == "yes"}


STUDY = STUDIES.register("temperature")(Temperature())
