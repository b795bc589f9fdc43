"""MoCo v2 Table 2 at equal budget: MoCo v1, SimCLR and MoCo v2 at batch 256. With a small batch MoCo v2's
queue of negatives beats SimCLR's in-batch ones, and SimCLR (with MLP head, blur and cosine) beats MoCo v1."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study
from .mocov2_ablation import ingredients

V1, SIMCLR, V2 = "MoCo v1", "SimCLR", "MoCo v2"


class MocoV2VsSimCLR(Study):
    figure = "MoCo v2 Table 2"
    title = "MoCo v1, SimCLR and MoCo v2 at batch 256"
    citation = "Chen et al. 2020, MoCo v2, arXiv:2003.04297"
    paper_table = "mocov2_table2_vs_simclr"
    paper_setup = "ImageNet, ResNet-50, batch 256, 200 epochs"
    expected = "MoCo v2 > SimCLR > MoCo v1 at batch 256 (67.5 / 61.9 / 60.6)"
    parts = ("method",)
    orders = {0: [V1, SIMCLR, V2]}
    kind = "bar"
    x = 0

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        rows = (df["epochs"].astype(str) == "200") & (df["batch"].astype(str) == "256")  # the equal-budget rows
        return [PaperCell((m,), float(v)) for m, v in zip(df.loc[rows, "method"], df.loc[rows, "imagenet_top1"])]

    def key_of(self, run: dict):
        cases = {"simclr": {(True, True, True): SIMCLR},  # SimCLR with MoCo v2's three ingredients
                 "moco": {(False, False, False): V1, (True, True, True): V2}}
        case = cases.get(run.get("method.name"), {}).get(ingredients(run))
        return (case,) if case else None

    def claims(self, match) -> list[Claim]:
        return [
            Claim("MoCo v2 beats SimCLR at batch 256", ((V2,),), ((SIMCLR,),)),
            Claim("SimCLR beats MoCo v1 at batch 256", ((SIMCLR,),), ((V1,),)),
            Claim("MoCo v2 beats MoCo v1", ((V2,),), ((V1,),)),
        ]


STUDY = STUDIES.register("mocov2_vs_simclr")(MocoV2VsSimCLR())
