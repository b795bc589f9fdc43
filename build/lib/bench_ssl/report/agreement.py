"""How well a reproduced figure agrees with the published one: rank correlations (Spearman, Kendall tau-b)
over the cells both have, whether the paper's best setting is also ours, and the sign of each effect the
paper claims. Missing cells (not run yet, failed, or not in the paper) are left out, never imputed."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats


def _pairs(ours, paper) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(ours, dtype=float), np.asarray(paper, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def spearman(ours, paper) -> float:
    """Spearman's rho (Pearson correlation of the average ranks, so ties share a rank) over the pairs where
    both values exist; NaN with fewer than 3 pairs or when one side is constant."""
    a, b = _pairs(ours, paper)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(a, b).statistic)


def kendall(ours, paper) -> float:
    """Kendall's tau-b (corrected for ties on either side) over the pairs where both values exist; NaN
    with fewer than 3 pairs or when one side is constant."""
    a, b = _pairs(ours, paper)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.kendalltau(a, b, variant="b").statistic)


@dataclass
class Correlation:
    group: str  # which cells: "all", or a subset the study names (e.g. "SimCLR")
    n: int  # cells with both values
    spearman: float
    kendall: float


def correlations(groups: dict[str, tuple[list, list]]) -> list[Correlation]:
    """{group: (ours, paper)} -> one Correlation per group."""
    out = []
    for name, (ours, paper) in groups.items():
        a, _ = _pairs(ours, paper)
        out.append(Correlation(name, len(a), spearman(ours, paper), kendall(ours, paper)))
    return out


@dataclass
class Best:
    paper_label: str | None  # the paper's best among the cells both have
    paper_value: float
    ours_label: str | None  # our best among the same cells
    ours_value: float
    rank_in_ours: int | None  # where the paper's best lands in our ranking (1 = our best too)
    n: int
    paper_overall_label: str | None = None  # the paper's best over every published cell (may not be in our sweep)

    @property
    def agrees(self) -> bool | None:
        return None if self.paper_label is None else self.rank_in_ours == 1


def best_setting(labels: list[str], ours, paper, paper_overall: tuple[str, float] | None = None) -> Best:
    """The paper's best cell and ours, over the cells both have. Ties count in the paper's favour: if our
    best value is shared by several cells including the paper's best, it is our best too."""
    a, b = np.asarray(ours, dtype=float), np.asarray(paper, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    overall = paper_overall[0] if paper_overall else None
    if not keep.any():
        return Best(paper_label=None, paper_value=math.nan, ours_label=None, ours_value=math.nan, rank_in_ours=None,
                    n=0, paper_overall_label=overall)
    idx = np.flatnonzero(keep)
    p = idx[np.argmax(b[idx])]
    o = idx[np.argmax(a[idx])]
    rank = 1 + int(np.sum(a[idx] > a[p]))  # competition ranking: ties share the better rank
    return Best(paper_label=labels[p], paper_value=float(b[p]), ours_label=labels[o] if a[o] > a[p] else labels[p],
                ours_value=float(a[o]), rank_in_ours=rank, n=int(keep.sum()), paper_overall_label=overall)


@dataclass
class Claim:
    """An effect the paper claims: the mean of the `higher` cells exceeds the mean of the `lower` cells
    (cells named by their paper keys)."""

    text: str
    higher: tuple
    lower: tuple


@dataclass
class ClaimResult:
    text: str
    paper_delta: float  # mean(higher) - mean(lower) in the paper (NaN when a side is not a number, e.g. 'fail')
    ours_delta: float  # the same difference in our results (NaN when a cell is missing)
    verdict: str  # "agrees", "opposite", "tie" or "n/a" (a cell is missing)
    note: str = ""


def check_claims(claims: list[Claim], ours: dict, paper: dict, notes: dict | None = None) -> list[ClaimResult]:
    """ours / paper: {paper key: value} (NaN or absent = missing); notes: {paper key: text} for published
    cells that are not numbers (e.g. MoCo's m = 0: 'fail')."""
    notes = notes or {}
    out = []
    for c in claims:
        pd_, od = _delta(c, paper), _delta(c, ours)
        if math.isnan(od):
            verdict = "n/a"
        else:
            verdict = "agrees" if od > 0 else "opposite" if od < 0 else "tie"
        note = "; ".join(f"paper {k if isinstance(k, str) else ', '.join(map(str, k))}: {notes[k]}"
                         for k in (*c.higher, *c.lower) if k in notes)
        missing = [k for k in (*c.higher, *c.lower) if not _finite(ours.get(k))]
        if missing and verdict == "n/a":
            note = "; ".join(filter(None, [note, f"not run / no result: {len(missing)} cell(s)"]))
        out.append(ClaimResult(c.text, pd_, od, verdict, note))
    return out


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _delta(c: Claim, values: dict) -> float:
    hi = [values.get(k) for k in c.higher]
    lo = [values.get(k) for k in c.lower]
    if not all(map(_finite, hi + lo)):
        return math.nan
    return float(np.mean(np.asarray(hi, dtype=float)) - np.mean(np.asarray(lo, dtype=float)))


__all__ = ["Best", "Claim", "ClaimResult", "Correlation", "best_setting", "check_claims", "correlations", "kendall", "spearman"]
