"""SupCon Table 7: supervised contrastive pretraining then a linear classifier, against cross-entropy scored
two ways on the same runs: its own jointly trained classifier (1 stage) and a linear classifier refit on its
frozen backbone (2 stages). A cross-entropy run gives both cells, from the `classifier` and `linear` protocols."""

from __future__ import annotations

import pandas as pd

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, field_rows, number

SUPCON, CE1, CE2 = "Supervised Contrastive", "Cross Entropy (1 stage)", "Cross Entropy (2 stage)"
# cell -> (method, the result field that scores it)
CELLS = {SUPCON: ("supcon", "linear_top1"), CE1: ("supervised", "classifier_top1"), CE2: ("supervised", "linear_top1")}


class SupConTwoStage(Study):
    figure = "SupCon Table 7"
    title = "two-stage SupCon against one- and two-stage cross-entropy"
    citation = "Khosla et al. 2020, SupCon, arXiv:2004.11362"
    paper_table = "supcon_table7_two_stage_ce"
    paper_setup = "ImageNet, ResNet-50"
    expected = ("SupCon then a linear classifier beats cross-entropy's own classifier (78.7 vs 77.1), which beats a "
                "linear classifier refit on the cross-entropy backbone (73.7)")
    parts = ("model",)
    orders = {0: list(CELLS)}
    kind = "bar"
    x = 0
    metric_text = "top-1 (%): SupCon and CE (2 stage) by the linear protocol, CE (1 stage) by its own classifier"
    metric_label = paper_metric_label = "top-1 (%)"

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((m,), number(v)) for m, v in zip(df["model"], df["top1"]) if m in CELLS]

    def cell_rows(self, runs: pd.DataFrame) -> pd.DataFrame:
        """A SupCon run gives one row (its linear top-1), a cross-entropy run two (its classifier's top-1 and the
        linear protocol's); a finished run without the field gives none."""
        method = runs["method.name"] if "method.name" in runs else pd.Series(None, index=runs.index, dtype=object)
        return pd.concat([field_rows(runs[method == m], field, cell=cell) for cell, (m, field) in CELLS.items()],
                         ignore_index=True)

    def key_of(self, run: dict):
        cell = run.get("cell")
        if cell in CELLS:
            return (cell,)
        return {"supcon": (SUPCON,), "supervised": ("Cross Entropy",)}.get(run.get("method.name"))

    def part_label(self, part, value) -> str:
        return {SUPCON: "SupCon", CE1: "CE, 1 stage", CE2: "CE, 2 stages"}.get(value, str(value))

    def claims(self, match) -> list[Claim]:
        return [
            Claim("SupCon (2 stage) beats cross-entropy's own classifier (1 stage)", ((SUPCON,),), ((CE1,),)),
            Claim("cross-entropy's own classifier beats a linear classifier refit on its backbone", ((CE1,),), ((CE2,),)),
            Claim("SupCon beats cross-entropy, both two-stage", ((SUPCON,),), ((CE2,),)),
        ]


STUDY = STUDIES.register("supcon_two_stage")(SupConTwoStage())
