"""SupCon Table 9: the augmentation of each stage, SimAugment, AutoAugment, RandAugment or Stacked RandAugment
for the contrastive pretraining crossed with the same four for the linear classifier. One pretraining run gives
its four linear-stage cells (the `linear_augment` protocol)."""

from __future__ import annotations

import pandas as pd

from ...eval.linear_augment import AUGMENTATIONS
from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, field_rows, number, views

NAMES = {"autoaugment": "AutoAugment", "randaugment": "RandAugment", "simaugment": "SimAugment",
         "stacked_randaugment": "Stacked RandAugment"}  # ours -> the paper's


class SupConAugmentations(Study):
    figure = "SupCon Table 9"
    title = "the augmentation of the contrastive and of the linear stage"
    citation = "Khosla et al. 2020, SupCon, arXiv:2004.11362"
    paper_table = "supcon_table9_augmentations"
    paper_setup = "ImageNet, ResNet-50"
    expected = ("AutoAugment and RandAugment pretraining beat SimAugment pretraining (linear stages pooled: 77.4 and 77.2 "
                "vs 76.6); the best pair is AutoAugment for both stages (78.6)")
    parts = ("contrastive augmentation", "linear augmentation")
    orders = {0: list(NAMES.values()), 1: list(NAMES.values())}
    kind = "bar"
    x, hue = 1, 0
    metric_text = "linear top-1 (%), the linear classifier trained on views of each augmentation"

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((c, lin), number(v)) for c, lin, v in
                zip(df["contrastive_augmentation"], df["linear_classifier_augmentation"], df["top1"])]

    def cell_rows(self, runs: pd.DataFrame) -> pd.DataFrame:
        """One row per (run, linear-stage augmentation), from the linear_aug_<name>_top1 fields."""
        return pd.concat([field_rows(runs, f"linear_aug_{ours}_top1", linear_augmentation=name)
                          for ours, name in NAMES.items()], ignore_index=True)

    def key_of(self, run: dict):
        if run.get("method.name") != "supcon":
            return None
        v1, v2 = views(run, "augment.view1"), views(run, "augment.view2")
        pre = next((NAMES[k] for k, ops in AUGMENTATIONS.items() if v1 == ops and v2 == ops), None)
        if pre is None:
            return None
        lin = run.get("linear_augmentation")
        return (pre, lin) if lin in NAMES.values() else (pre,)

    def label(self, key) -> str:
        return f"{key[0]} → {key[1]}" if len(key) == 2 else f"{key[0]} pretraining"

    def part_label(self, part, value) -> str:
        return {"AutoAugment": "AutoAug", "RandAugment": "RandAug", "SimAugment": "SimAug",
                "Stacked RandAugment": "Stacked RA"}.get(value, str(value))

    def claims(self, match) -> list[Claim]:
        pooled = lambda pre: tuple((pre, lin) for lin in NAMES.values())  # noqa: E731
        return [
            Claim("AutoAugment pretraining beats SimAugment pretraining (linear stages pooled)", pooled("AutoAugment"),
                  pooled("SimAugment")),
            Claim("RandAugment pretraining beats SimAugment pretraining (linear stages pooled)", pooled("RandAugment"),
                  pooled("SimAugment")),
        ]


STUDY = STUDIES.register("supcon_augmentations")(SupConAugmentations())
