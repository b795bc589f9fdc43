"""How well a reproduced figure agrees with the published one: rank correlations (Spearman, Kendall tau-b)
over the cells both have, whether the paper's best setting is also ours, and the sign of each effect the
paper claims. Missing cells (not run yet, failed, or not in the paper) are left out, never imputed.

Every number of ours carries its uncertainty (`cell_se`: seed-to-seed spread plus the binomial sampling error
of an accuracy on n test images), and a verdict says "agrees" or "opposite" only when the 95% interval of our
difference excludes zero; otherwise it is "inconclusive": noise is never reported as a finding."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..results.formats import finite as _finite


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


Z95 = 1.959964  # two-sided 95% normal quantile
MIN_CELLS = 5  # below this many cells, a rank correlation is shown but not counted as evidence
RESAMPLES = 2000


def cell_se(values, n_test: float | None) -> float:
    """Standard error (points) of a cell's mean accuracy `values` (in %, one per seed) on `n_test` test images:
    the seeds' spread (s^2 / k, when k >= 2) plus the test-set sampling error p(1-p)/n of the mean accuracy,
    which seeds evaluated on the same test set share. NaN when neither is known (one seed, no test-set size)."""
    v = np.asarray([x for x in values if _finite(x)], dtype=float)
    if v.size == 0:
        return math.nan
    var = float(v.var(ddof=1)) / v.size if v.size > 1 else 0.0
    known = v.size > 1
    if n_test and n_test > 0:
        p = min(max(float(v.mean()) / 100.0, 0.0), 1.0)
        var += p * (1.0 - p) / float(n_test) * 100.0**2
        known = True
    return math.sqrt(var) if known else math.nan


def interval(mean: float, se: float) -> tuple[float, float]:
    """The 95% interval mean ± 1.96 se (NaN when either is unknown)."""
    if not (_finite(mean) and _finite(se)):
        return math.nan, math.nan
    return mean - Z95 * se, mean + Z95 * se


def resolution(se: float) -> float:
    """The smallest difference between two cells with standard error `se` each that a 95% test can tell apart."""
    return Z95 * math.sqrt(2.0) * se if _finite(se) else math.nan


def sign_verdict(delta: float, se: float) -> str:
    """'agrees' (the claimed direction), 'opposite', or 'inconclusive' when the 95% interval contains zero."""
    if not _finite(delta):
        return "n/a"
    if not _finite(se):
        return "inconclusive"  # no estimate of the noise: the sign alone is not evidence
    lo, hi = interval(delta, se)
    return "agrees" if lo > 0 else "opposite" if hi < 0 else "inconclusive"


@dataclass
class Correlation:
    group: str  # which cells: "all", or a subset the study names (e.g. "SimCLR")
    n: int  # cells with both values
    spearman: float
    kendall: float
    spearman_ci: tuple = (math.nan, math.nan)  # bootstrap over cells and over our noise
    kendall_ci: tuple = (math.nan, math.nan)
    p_value: float = math.nan  # permutation test of Spearman's rho (two-sided)

    @property
    def evidence(self) -> bool:
        """Enough cells, and an order unlikely under no relation (permutation p < 0.05)."""
        return self.n >= MIN_CELLS and _finite(self.spearman) and _finite(self.p_value) and self.p_value < 0.05


def correlations(groups: dict[str, tuple]) -> list[Correlation]:
    """{group: (ours, paper) or (ours, paper, ours_se)} -> one Correlation per group, with a bootstrap 95%
    interval (cells resampled, ours redrawn within its standard error) and a permutation p-value."""
    out = []
    for name, data in groups.items():
        ours, paper = data[0], data[1]
        se = data[2] if len(data) > 2 else [math.nan] * len(ours)
        a, b = _pairs(ours, paper)
        corr = Correlation(name, len(a), spearman(ours, paper), kendall(ours, paper))
        if _finite(corr.spearman):
            keep = np.isfinite(np.asarray(ours, dtype=float)) & np.isfinite(np.asarray(paper, dtype=float))
            s = np.nan_to_num(np.asarray(se, dtype=float)[keep], nan=0.0)
            corr.spearman_ci, corr.kendall_ci = _bootstrap(a, b, s)
            corr.p_value = _permutation_p(a, b, corr.spearman)
        out.append(corr)
    return out


def _bootstrap(a: np.ndarray, b: np.ndarray, se: np.ndarray) -> tuple[tuple, tuple]:
    rng = np.random.default_rng(0)  # fixed: the same report twice gives the same interval
    rhos, taus = [], []
    for _ in range(RESAMPLES):
        idx = rng.integers(0, len(a), len(a))
        noisy = a[idx] + rng.standard_normal(len(a)) * se[idx]
        rho, tau = spearman(noisy, b[idx]), kendall(noisy, b[idx])
        if _finite(rho):
            rhos.append(rho)
        if _finite(tau):
            taus.append(tau)
    q = lambda xs: (float(np.quantile(xs, 0.025)), float(np.quantile(xs, 0.975))) if xs else (math.nan, math.nan)  # noqa: E731
    return q(rhos), q(taus)


def _permutation_p(a: np.ndarray, b: np.ndarray, rho: float) -> float:
    """P(|rho| >= |observed|) when our values are unrelated to the paper's (ours shuffled)."""
    rng = np.random.default_rng(1)
    hits = sum(abs(spearman(rng.permutation(a), b)) >= abs(rho) - 1e-12 for _ in range(RESAMPLES))
    return (hits + 1) / (RESAMPLES + 1)


@dataclass
class Best:
    paper_label: str | None  # the paper's best among the cells both have
    paper_value: float
    ours_label: str | None  # our best among the same cells (the first of `ties`)
    ours_value: float
    rank_in_ours: int | None  # where the paper's best lands in our ranking (1 = our best too)
    n: int
    paper_overall_label: str | None = None  # the paper's best over every published cell (may not be in our sweep)
    ties: list = None  # every cell that shares our best value
    runner_up_label: str | None = None  # our best cell outside the ties
    runner_up_value: float = math.nan
    gap_se: float = math.nan  # standard error of (our best - runner-up)
    paper_gap: float = math.nan  # our best - the paper's best cell, in ours
    paper_gap_se: float = math.nan

    @property
    def agrees(self) -> bool | None:
        return None if self.paper_label is None else self.rank_in_ours == 1

    @property
    def distinguishable(self) -> bool | None:
        """Our best stands clear of the runner-up (95%); None when it cannot be said."""
        if self.runner_up_label is None or not _finite(self.gap_se):
            return None
        return self.ours_value - self.runner_up_value > Z95 * self.gap_se

    @property
    def verdict(self) -> str:
        """'agrees' (the paper's best is our clear best), 'opposite' (another cell is clearly better than the
        paper's best in ours), else 'inconclusive' (a tie, or the best cells within noise of each other)."""
        if self.paper_label is None:
            return "n/a"
        if self.agrees:
            return "agrees" if self.distinguishable and not (self.ties and len(self.ties) > 1) else "inconclusive"
        return sign_verdict(-self.paper_gap, self.paper_gap_se) if _finite(self.paper_gap_se) else "inconclusive"


def best_setting(labels: list[str], ours, paper, paper_overall: tuple[str, float] | None = None, se=None) -> Best:
    """The paper's best cell and ours, over the cells both have. Ties count in the paper's favour: if our
    best value is shared by several cells including the paper's best, it is our best too (and the verdict
    is inconclusive). `se`: our cells' standard errors, to tell the best from the runner-up."""
    a, b = np.asarray(ours, dtype=float), np.asarray(paper, dtype=float)
    e = np.asarray(se if se is not None else [math.nan] * len(a), dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    overall = paper_overall[0] if paper_overall else None
    if not keep.any():
        return Best(paper_label=None, paper_value=math.nan, ours_label=None, ours_value=math.nan, rank_in_ours=None,
                    n=0, paper_overall_label=overall)
    idx = np.flatnonzero(keep)
    p = idx[np.argmax(b[idx])]
    top = a[idx].max()
    tied = [int(i) for i in idx if a[i] == top]
    o = p if p in tied else tied[0]
    rank = 1 + int(np.sum(a[idx] > a[p]))  # competition ranking: ties share the better rank
    rest = [int(i) for i in idx if i not in tied]
    r = max(rest, key=lambda i: a[i]) if rest else None
    best = Best(paper_label=labels[p], paper_value=float(b[p]), ours_label=labels[o], ours_value=float(a[o]),
                rank_in_ours=rank, n=int(keep.sum()), paper_overall_label=overall, ties=[labels[i] for i in tied])
    if r is not None:
        best.runner_up_label, best.runner_up_value = labels[r], float(a[r])
        best.gap_se = math.sqrt(e[o] ** 2 + e[r] ** 2)
    best.paper_gap = float(a[o] - a[p])
    best.paper_gap_se = math.sqrt(e[o] ** 2 + e[p] ** 2)
    return best


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
    verdict: str  # "agrees" / "opposite" (the 95% interval excludes 0), "inconclusive", or "n/a" (a cell is missing)
    note: str = ""
    ours_se: float = math.nan  # standard error of ours_delta

    @property
    def ours_ci(self) -> tuple[float, float]:
        return interval(self.ours_delta, self.ours_se)


def check_claims(claims: list[Claim], ours: dict, paper: dict, notes: dict | None = None,
                 ours_se: dict | None = None, runs: dict | None = None) -> list[ClaimResult]:
    """ours / paper: {paper key: value} (NaN or absent = missing); notes: {paper key: text} for published
    cells that are not numbers (e.g. MoCo's m = 0: 'fail'); ours_se: {paper key: standard error of ours};
    runs: {paper key: the ids of the runs behind the cell}, so that cells of the same runs are not pooled as
    independent evidence."""
    notes, ours_se, runs = notes or {}, ours_se or {}, runs or {}
    out = []
    for c in claims:
        pd_, od = _delta(c, paper), _delta(c, ours)
        se = _delta_se(c, ours_se, runs)
        verdict = sign_verdict(od, se)
        note = "; ".join(f"paper {k if isinstance(k, str) else ', '.join(map(str, k))}: {notes[k]}"
                         for k in (*c.higher, *c.lower) if k in notes)
        missing = [k for k in (*c.higher, *c.lower) if not _finite(ours.get(k))]
        if missing and verdict == "n/a":
            note = "; ".join(filter(None, [note, f"not run / no result: {len(missing)} cell(s)"]))
        if verdict == "inconclusive":
            note = "; ".join(filter(None, ["difference within noise" if _finite(se) else "no estimate of the noise", note]))
        out.append(ClaimResult(c.text, pd_, od, verdict, note, se))
    return out


def _delta_se(c: Claim, se: dict, runs: dict | None = None) -> float:
    """SE of mean(higher) - mean(lower), the two sides' errors taken as independent (conservative: cells evaluated
    on the same test set share part of their sampling error). Within a side, cells of distinct runs average
    their errors down (SE / sqrt(k)); cells that share runs (the linear stages of one pretraining run, SupCon
    Table 8 / 9) do not, so such a side takes the mean of its cells' SEs, the bound for fully correlated errors:
    three readouts of the same two runs are not six runs' worth of evidence."""
    runs = runs or {}

    def side(keys) -> float:
        errs = [se.get(k) for k in keys]
        if not all(map(_finite, errs)):
            return math.nan
        ids = [set(runs.get(k) or ()) for k in keys]
        shared = any(ids[a] & ids[b] for a in range(len(ids)) for b in range(a + 1, len(ids)))
        return sum(errs) / len(errs) if shared else math.sqrt(sum(x * x for x in errs)) / len(errs)

    hi, lo = side(c.higher), side(c.lower)
    return math.sqrt(hi * hi + lo * lo) if _finite(hi) and _finite(lo) else math.nan


def summary(claims: list[ClaimResult], best: Best | None = None) -> dict[str, int]:
    """How many verdicts agree / are opposite / are inconclusive / cannot be made yet (best setting included)."""
    counts = {"agrees": 0, "opposite": 0, "inconclusive": 0, "n/a": 0}
    for v in [c.verdict for c in claims] + ([best.verdict] if best is not None else []):
        counts[v] = counts.get(v, 0) + 1
    return counts


def _delta(c: Claim, values: dict) -> float:
    hi = [values.get(k) for k in c.higher]
    lo = [values.get(k) for k in c.lower]
    if not all(map(_finite, hi + lo)):
        return math.nan
    return float(np.mean(np.asarray(hi, dtype=float)) - np.mean(np.asarray(lo, dtype=float)))


__all__ = ["MIN_CELLS", "Best", "Claim", "ClaimResult", "Correlation", "best_setting", "cell_se", "check_claims",
           "correlations", "interval", "kendall", "resolution", "sign_verdict", "spearman", "summary"]
