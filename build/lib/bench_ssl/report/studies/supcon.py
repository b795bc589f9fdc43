"""SupCon Table 2: supervised contrastive learning against cross-entropy and SimCLR (linear top-1 on
CIFAR-10 / CIFAR-100, ResNet-50): SupCon > cross-entropy > SimCLR."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, number

METHODS = {"supervised": "Cross-Entropy", "simclr": "SimCLR", "supcon": "SupCon"}


class SupCon(Study):
    figure = "SupCon Table 2"
    title = "supervised contrastive vs cross-entropy vs SimCLR"
    citation = "Khosla et al. 2020, SupCon, arXiv:2004.11362"
    paper_table = "supcon_table2_main_results"
    expected = "SupCon > cross-entropy > SimCLR (CIFAR-10: 96.0 / 95.0 / 93.6)"
    parts = ("method",)
    orders = {0: ["SimCLR", "Max-Margin", "Cross-Entropy", "SupCon"]}
    kind = "bar"
    x = 0
    dataset = "CIFAR10"

    @property
    def paper_setup(self) -> str:
        return f"{self.dataset.replace('CIFAR', 'CIFAR-')}, ResNet-50"

    def configure(self, runs) -> None:
        """Compare with the paper's CIFAR-100 rows when the runs trained on CIFAR-100."""
        roots = " ".join(str(r) for r in runs.get("data.root", [])).lower()
        self.dataset = "CIFAR100" if "cifar100" in roots or "cifar-100" in roots else "CIFAR10"

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        df = df[df["dataset"] == self.dataset]
        return [PaperCell((m,), number(v)) for m, v in zip(df["method"], df["top1"])]

    def key_of(self, run: dict):
        m = METHODS.get(run.get("method.name"))
        return (m,) if m else None

    def claims(self, match) -> list[Claim]:
        return [
            Claim("SupCon beats cross-entropy", (("SupCon",),), (("Cross-Entropy",),)),
            Claim("cross-entropy beats SimCLR", (("Cross-Entropy",),), (("SimCLR",),)),
            Claim("SupCon beats SimCLR", (("SupCon",),), (("SimCLR",),)),
        ]


STUDY = STUDIES.register("supcon")(SupCon())
