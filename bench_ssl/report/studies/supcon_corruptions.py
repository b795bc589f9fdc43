"""SupCon Fig. 3: robustness to common corruptions. SupCon's mean corruption error (ImageNet-C there,
CIFAR-10-C-style here: 15 corruptions x 5 severities of the test set, the `corruption` protocol) is below
cross-entropy's, and so is its relative error (the rise over its clean error, which takes the clean accuracy
out); SimCLR is scored the same way beside them. Lower is better, so no best setting is named by the highest
value; the claims say which is lower."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..agreement import Claim
from ...registry import STUDIES
from .base import Match, PaperCell, Study, number

SUPCON, CE, SIMCLR = "Supervised Contrastive", "Cross-Entropy", "SimCLR"
METHODS = {"supcon": SUPCON, "supervised": CE, "simclr": SIMCLR}
PAPER_ROWS = {"Supervised Contrastive": SUPCON, "Cross-Entropy (our impl.)": CE}  # ResNet-50 rows
MCE, RELATIVE = "mean corruption error", "relative error (minus the clean error)"


class SupConCorruptions(Study):
    figure = "SupCon Fig. 3"
    title = "mean error under common corruptions"
    citation = "Khosla et al. 2020, SupCon, arXiv:2004.11362"
    paper_table = "supcon_fig3_imagenetc_mce"
    paper_setup = "ImageNet-C, ResNet-50; mCE normalised by AlexNet's errors (AlexNet = 100)"
    expected = ("SupCon's mean corruption error is below cross-entropy's (ImageNet-C, ResNet-50: mCE 67.2 vs 68.6, "
                "relative mCE 94.6 vs 96.2)")
    parts = ("model", "measure")
    orders = {0: [SUPCON, CE, SIMCLR], 1: [MCE, RELATIVE]}
    kind = "bar"
    x, facet = 0, 1
    metric_text = ("the mean top-1 error (%) over the corrupted test sets (15 corruptions x 5 severities; lower is "
                   "better) and its rise over the clean error, from the linear classifier, cross-entropy's from its own")
    metric_label = "error (%)"
    paper_metric_label = "mCE / relative mCE (AlexNet = 100)"

    @property
    def has_best(self) -> bool:
        return False  # an error: the highest cell is the worst

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        out = []
        for m, a, mce, rel in zip(df["loss"], df["architecture"], df["mCE"], df["rel_mCE"]):
            if m in PAPER_ROWS and a == "ResNet-50":
                out += [PaperCell((PAPER_ROWS[m], MCE), number(mce)), PaperCell((PAPER_ROWS[m], RELATIVE), number(rel))]
        return out

    def cell_rows(self, runs: pd.DataFrame) -> pd.DataFrame:
        """Two rows per run: its mean corruption error (%) and that minus its clean error. Their sampling noise is
        taken as one test set's (the 75 corrupted sets share their images, so they are far from independent)."""
        def field(name):
            return pd.to_numeric(runs[name], errors="coerce") if name in runs else pd.Series(np.nan, index=runs.index)

        mean, clean = field("corruption_mean_top1"), field("corruption_clean_top1")
        out = []
        for measure, value in ((MCE, (1 - mean) * 100), (RELATIVE, (clean - mean) * 100)):
            rows = runs.copy()
            rows["value"] = value.where(rows["status"] == "done")
            rows["measure"] = measure
            if "corruption_num_test" in rows:
                rows["num_test"] = rows["corruption_num_test"]
            out.append(rows[(rows["status"] != "done") | rows["value"].notna()])
        return pd.concat(out, ignore_index=True)

    def key_of(self, run: dict):
        m = METHODS.get(run.get("method.name"))
        if m is None:
            return None
        measure = run.get("measure")
        return (m, measure) if measure in (MCE, RELATIVE) else (m,)

    def label(self, key) -> str:
        return f"{key[0]}: {key[1]}" if len(key) == 2 else key[0]

    def height_in(self) -> float:
        return 0.6 + 2.3 * 2

    def match(self, keys):
        return Match({k: k for k in keys})  # SimCLR's cell is ours alone: the paper's figure has no SimCLR

    def part_label(self, part, value) -> str:
        return {SUPCON: "SupCon", CE: "CE"}.get(value, str(value)) if part == 0 else str(value)

    def claims(self, match) -> list[Claim]:
        return [Claim("SupCon's mean corruption error is below cross-entropy's", ((CE, MCE),), ((SUPCON, MCE),)),
                Claim("SupCon's error rises less under corruption than cross-entropy's (relative error)",
                      ((CE, RELATIVE),), ((SUPCON, RELATIVE),))]


STUDY = STUDIES.register("supcon_corruptions")(SupConCorruptions())
