"""Tables of results ready for a paper: pivots with mean ± std and n, accuracies rounded to what the test set
can resolve (one image of n is 1/n), and LaTeX (booktabs, the best of each column in bold). CSV and parquet
keep full precision."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

ACCURACY_SUFFIXES = ("_top1", "_top5")


def is_accuracy(column) -> bool:
    return isinstance(column, str) and column.endswith(ACCURACY_SUFFIXES)


def decimals_for(n_test) -> int:
    """Decimals of an accuracy (a fraction) that one test image of n moves: 500 -> 3, 10,000 -> 4."""
    try:
        n = float(n_test)
    except (TypeError, ValueError):
        return 4
    return 4 if not math.isfinite(n) or n <= 0 else max(1, math.ceil(math.log10(n)))


def pivot(frame: pd.DataFrame, row: str, col: str, value: str) -> pd.DataFrame:
    """mean, std and n of `value` per (row, col) over the done runs; rows and columns in the order the runs come
    (the sweep's order), not sorted. Columns: a MultiIndex (col level, statistic)."""
    done = frame[frame["status"] == "done"]
    rows = list(dict.fromkeys(done[row].map(_key)))
    cols = list(dict.fromkeys(done[col].map(_key)))
    grouped = done.assign(_r=done[row].map(_key), _c=done[col].map(_key)).groupby(["_r", "_c"], sort=False)[value]
    stats = grouped.agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    out = stats.unstack("_c").reorder_levels([1, 0], axis=1)
    out = out.reindex(index=rows, columns=pd.MultiIndex.from_product([cols, ["mean", "std", "n"]]))
    out.index.name, out.columns.names = row, [col, None]
    return out


def _key(v):
    return str(v) if isinstance(v, (list, dict)) else v


def pivot_text(p: pd.DataFrame, digits: int) -> pd.DataFrame:
    """The pivot as 'mean ± std (n=k)' strings (mean alone for one run, '–' for none)."""
    cols = list(dict.fromkeys(c for c, _ in p.columns))
    out = pd.DataFrame(index=p.index, columns=cols, dtype=object)
    for c in cols:
        for r in p.index:
            out.loc[r, c] = mean_std(p.loc[r, (c, "mean")], p.loc[r, (c, "std")], p.loc[r, (c, "n")], digits)
    out.columns.name = p.columns.names[0]
    return out


def mean_std(mean, std, n, digits: int) -> str:
    if not finite(mean) or not n:
        return "–"
    if int(n) < 2 or not finite(std):
        return f"{mean:.{digits}f} (n=1)"
    return f"{mean:.{digits}f} ± {std:.{digits}f} (n={int(n)})"


def rounded(frame: pd.DataFrame, n_test) -> pd.DataFrame:
    """Accuracy columns rounded to the test set's resolution (for markdown and LaTeX only)."""
    out = frame.copy()
    digits = decimals_for(n_test)
    for c in out.columns:
        if is_accuracy(c) and pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].round(digits)
    return out


def latex(frame: pd.DataFrame, index: bool, best: dict | None = None, caption: str = "") -> str:
    """A booktabs tabular of `frame` (strings as they are, numbers with 4 significant digits), `best`
    {column: row label} set in bold; LaTeX's special characters escaped."""
    cols = list(frame.columns)
    head = ([_tex(frame.index.name or "")] if index else []) + [_tex(c) for c in cols]
    lines = [r"\begin{tabular}{" + ("l" if index else "") + "l" * len(cols) + "}", r"\toprule", " & ".join(head) + r" \\",
             r"\midrule"]
    for label, row in frame.iterrows():
        cells = [_tex(label)] if index else []
        for c in cols:
            text = _cell(row[c])
            cells.append(r"\textbf{" + text + "}" if best and best.get(c) == label else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.insert(0, "% " + caption)
    return "\n".join(lines)


def pd_numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def best_rows(p: pd.DataFrame) -> dict:
    """{column: the row label of its highest mean} of a pivot (for bold)."""
    out = {}
    for c in dict.fromkeys(c for c, _ in p.columns):
        means = pd.to_numeric(p[(c, "mean")], errors="coerce")
        if means.notna().any():
            out[c] = means.idxmax()
    return out


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "--"
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return _tex(v)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
        "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "–": "--"}


def _tex(v) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(v))


def finite(v) -> bool:
    """A number that is not NaN or infinite (None and text are not)."""
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
