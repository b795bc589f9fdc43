"""Runs -> the cells of a study's figure: mean ± std over seeds of each cell, its standard error and 95%
interval (seeds and test-set size), how many of its runs are done, and the published value it is matched to."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .agreement import Best, ClaimResult, Correlation, best_setting, cell_se, check_claims, correlations, interval
from .studies.base import Match, Study


def _missing_note(statuses: pd.Series) -> str:
    """What a cell without a result shows: 'pruned' for a trial the pruner stopped (finished by design),
    else 'n/a' (pending, running, failed: the caption and the run table say which)."""
    return "pruned" if set(statuses) == {"pruned"} else "n/a"


def run_keys(study: Study, runs: pd.DataFrame) -> list:
    return [study.key_of(row) for row in runs.to_dict("records")]


def build_cells(study: Study, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, Match]:
    """(cells, paper, match). runs: the sweep's runs with a `value` column (the metric in %, NaN unless done).
    cells: one row per cell of ours in the study's order: key, label, one column per part, mean, std, n_done,
    n_runs, state (done / partial / missing), run_ids, paper_key, paper_label, paper, paper_note.
    paper: every published cell: key, label, value, note, matched (some cell of ours is matched to it)."""
    keys = run_keys(study, runs)
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            groups.setdefault(key, []).append(i)
    ordered = sorted(groups, key=study.sort_key)
    match = study.match(ordered)
    published = {c.key: c for c in study.paper()}
    rows = []
    for key in ordered:
        sub = runs.iloc[groups[key]]
        values = sub["value"].to_numpy(dtype=float)
        done = values[np.isfinite(values)]
        n_test = _n_test(sub, np.isfinite(values))
        se = cell_se(done, n_test)
        low, high = interval(float(done.mean()) if done.size else math.nan, se)
        pkey = match.paper_key.get(key)
        pcell = published.get(pkey) if pkey is not None else None
        rows.append({
            "key": key,
            "label": study.label(key),
            **{part: key[i] for i, part in enumerate(study.parts)},
            "mean": float(done.mean()) if done.size else math.nan,
            "std": float(done.std(ddof=1)) if done.size > 1 else math.nan,
            "se": se,
            "ci_low": low,
            "ci_high": high,
            "n_test": n_test,
            "n_done": int(done.size),
            "n_runs": len(sub),
            "state": "done" if done.size == len(sub) else "partial" if done.size else "missing",
            "statuses": ", ".join(f"{n} {s}" for s, n in sub["status"].value_counts().items()),
            "status_counts": sub["status"].value_counts().to_dict(),
            "missing_note": _missing_note(sub["status"]) if not done.size else "",
            "run_ids": list(sub["run_id"]),
            "paper_key": pkey,
            "paper_label": study.label(pkey) if pkey is not None else "",
            "paper": pcell.value if pcell else math.nan,
            "paper_note": pcell.note if pcell else "",
        })
    cells = pd.DataFrame(rows, columns=["key", "label", *study.parts, "mean", "std", "se", "ci_low", "ci_high", "n_test",
                                        "n_done", "n_runs", "state", "statuses", "status_counts", "missing_note",
                                        "run_ids", "paper_key", "paper_label", "paper", "paper_note"])
    matched = set(match.paper_key.values())
    paper = pd.DataFrame([{"key": c.key, "label": study.label(c.key), "value": c.value, "note": c.note,
                           "matched": c.key in matched} for c in study.paper()],
                         columns=["key", "label", "value", "note", "matched"])
    return cells, paper, match


def _n_test(sub: pd.DataFrame, done) -> float | None:
    """The test-set size the cell's finished runs were evaluated on (None when the results do not say)."""
    if "num_test" not in sub:
        return None
    n = pd.to_numeric(sub["num_test"], errors="coerce").to_numpy(dtype=float)[done]
    n = n[np.isfinite(n)]
    return float(np.median(n)) if n.size else None


def agreement(study: Study, cells: pd.DataFrame, paper: pd.DataFrame,
              match: Match) -> tuple[list[Correlation], Best, list[ClaimResult]]:
    """Rank correlations (all cells, then the study's subsets), the best setting, and the claimed effects."""
    both = cells[cells["paper_key"].notna()]
    groups = {"all cells": (list(both["mean"]), list(both["paper"]), list(both["se"]))}
    for name, pred in study.groups().items():
        sub = both[[pred(k) for k in both["paper_key"]]]
        groups[name] = (list(sub["mean"]), list(sub["paper"]), list(sub["se"]))
    corr = correlations(groups) if len(both) else []
    best = best_setting(list(both["paper_label"]), list(both["mean"]), list(both["paper"]), study.best_overall(),
                        se=list(both["se"]))
    ours = {k: m for k, m in zip(both["paper_key"], both["mean"])}
    ours_se = {k: e for k, e in zip(both["paper_key"], both["se"])}
    published = {k: v for k, v in zip(paper["key"], paper["value"])}
    notes = {k: n for k, n in zip(paper["key"], paper["note"]) if n}
    runs = {k: ids for k, ids in zip(both["paper_key"], both["run_ids"])}
    claims = check_claims(study.claims(match), ours, published, notes, ours_se, runs)
    return corr, best, claims


__all__ = ["agreement", "build_cells", "run_keys"]
