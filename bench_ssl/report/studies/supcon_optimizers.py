"""SupCon Table 8: the optimizer of each stage, LARS, RMSProp or SGD with momentum for the contrastive
pretraining crossed with the same three for the linear classifier. One pretraining run gives its three
linear-stage cells (the `linear_optimizers` protocol), so the grid costs three pretrainings a seed."""

from __future__ import annotations

import pandas as pd

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, field_rows, number

OPTIMIZERS = {"lars": "LARS", "rmsprop": "RMSProp", "sgd": "Momentum"}  # ours -> the paper's name


class SupConOptimizers(Study):
    figure = "SupCon Table 8"
    title = "the optimizer of the contrastive and of the linear stage"
    citation = "Khosla et al. 2020, SupCon, arXiv:2004.11362"
    paper_table = "supcon_table8_optimizers"
    paper_setup = "ImageNet, ResNet-50"
    expected = ("LARS pretraining beats RMSProp and SGD-momentum pretraining by about a point (linear stages pooled); "
                "the best pair is LARS then RMSProp (78.7), and every pair lies within 2.6 points")
    parts = ("contrastive optimizer", "linear optimizer")
    orders = {0: list(OPTIMIZERS.values()), 1: list(OPTIMIZERS.values())}
    kind = "bar"
    x, hue = 1, 0
    metric_text = "linear top-1 (%), the linear classifier fitted with each optimizer"

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((c, lin), number(v))
                for c, lin, v in zip(df["contrastive_optimizer"], df["linear_optimizer"], df["top1"])]

    def cell_rows(self, runs: pd.DataFrame) -> pd.DataFrame:
        """One row per (run, linear optimizer), from the linear_<optimizer>_top1 fields."""
        return pd.concat([field_rows(runs, f"linear_{ours}_top1", linear_optimizer=name)
                          for ours, name in OPTIMIZERS.items()], ignore_index=True)

    def key_of(self, run: dict):
        pre = OPTIMIZERS.get(run.get("optim.name"))
        if run.get("method.name") != "supcon" or pre is None:
            return None
        lin = run.get("linear_optimizer")
        return (pre, lin) if lin in OPTIMIZERS.values() else (pre,)

    def label(self, key) -> str:
        return f"{key[0]} → {key[1]}" if len(key) == 2 else f"{key[0]} pretraining"

    def claims(self, match) -> list[Claim]:
        linear = list(OPTIMIZERS.values())
        pooled = lambda pre: tuple((pre, lin) for lin in linear)  # noqa: E731
        return [
            Claim("LARS pretraining beats RMSProp pretraining (linear stages pooled)", pooled("LARS"), pooled("RMSProp")),
            Claim("LARS pretraining beats SGD-momentum pretraining (linear stages pooled)", pooled("LARS"),
                  pooled("Momentum")),
        ]


STUDY = STUDIES.register("supcon_optimizers")(SupConOptimizers())
