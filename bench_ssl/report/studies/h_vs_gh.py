"""SimCLR Table 3: what h and g(h) keep. A small MLP predicts the transformation applied to an image from the
frozen backbone features h and from the projection g(h); the contrastive loss makes g(h) invariant to the
views' transformations, so g(h) loses what h still holds. Each run gives all its cells (the `transform_probe`
protocol); the random guess of each task is drawn beside them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, field_rows, number

TASKS = {"grayscale": "Color vs grayscale", "rotation": "Rotation", "noise": "Orig. vs corrupted",
         "sobel": "Orig. vs Sobel filtered"}  # the probe's task -> the paper's row
REPRESENTATIONS = {"h": "h", "gh": "g(h)", "chance": "random guess"}


class HVsGh(Study):
    figure = "SimCLR Table 3"
    title = "what the representation h and the projection g(h) keep of the transformations"
    citation = "Chen et al. 2020, SimCLR, arXiv:2002.05709"
    paper_table = "simclr_table3_h_vs_gh"
    paper_setup = "ImageNet, ResNet-50; rotation, noise and Sobel added to the pretraining views"
    expected = ("the transformation applied is predicted far better from h than from g(h) (rotation: 67.6 vs 25.6, "
                "chance 25; noise: 99.5 vs 59.6; Sobel: 96.6 vs 56.3), least so for colour (99.3 vs 97.4, chance 80)")
    parts = ("what to predict", "representation")
    orders = {0: list(TASKS.values()), 1: list(REPRESENTATIONS.values())}
    kind = "bar"
    x, hue = 0, 1
    metric_text = "the probe's top-1 (%) predicting the transformation, from h, from g(h), and the random guess"
    metric_label = paper_metric_label = "probe top-1 (%)"

    @property
    def has_best(self) -> bool:
        return False  # four different prediction tasks: no cell is a rival setting of another

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        out = []
        for task, chance, h, gh in zip(df["what_to_predict"], df["random_guess"], df["acc_from_h"], df["acc_from_g_h"]):
            out += [PaperCell((task, "h"), number(h)), PaperCell((task, "g(h)"), number(gh)),
                    PaperCell((task, "random guess"), number(chance))]
        return out

    def cell_rows(self, runs: pd.DataFrame) -> pd.DataFrame:
        """One row per (run, task, representation) from probe_<task>_<h|gh|chance>; the random guess is a share
        of the probe's test labels, not an estimate, so no test-set error is added to it."""
        out = []
        for task, row in TASKS.items():
            for rep, name in REPRESENTATIONS.items():
                field = f"probe_{task}_{rep}" if rep == "chance" else f"probe_{task}_{rep}_top1"
                rows = field_rows(runs, field, task=row, representation=name)
                if rep == "chance":
                    rows["num_test"] = np.nan
                elif "probe_num_test" in rows:
                    rows["num_test"] = rows["probe_num_test"]
                out.append(rows)
        return pd.concat(out, ignore_index=True)

    def key_of(self, run: dict):
        if run.get("method.name") != "simclr":
            return None
        task, rep = run.get("task"), run.get("representation")
        return (task, rep) if task in TASKS.values() and rep in REPRESENTATIONS.values() else ("SimCLR",)

    def label(self, key) -> str:
        return f"{key[0]}: {key[1]}" if len(key) == 2 else key[0]

    def part_label(self, part, value) -> str:
        short = {"Color vs grayscale": "colour vs grey", "Rotation": "rotation", "Orig. vs corrupted": "noised",
                 "Orig. vs Sobel filtered": "Sobel"}
        return short.get(value, str(value)) if part == 0 else str(value)

    def claims(self, match) -> list[Claim]:
        return [Claim(f"{task}: h predicts it better than g(h)", ((task, "h"),), ((task, "g(h)"),))
                for task in TASKS.values()]


STUDY = STUDIES.register("h_vs_gh")(HVsGh())
