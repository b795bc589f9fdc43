"""Quick tables of results: `python -m bench_ssl.results PATH [--format csv|parquet|markdown] [--pivot ROW COL VALUE]`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..arguments import ArgumentParser
from ..errors import BenchSSLError
from ..output import atomic_open, atomic_write_text
from .manifest import read_manifest

SUMMARY = ["linear_top1", "linear_top5", "knn_top1", "epoch_time_s", "wall_time_s"]


def summary_columns(frame, path) -> list[str]:
    """run_id, (a study's trial,) status, the keys the sweep varies (from sweep.json), then the headline metrics."""
    varying: list[str] = []
    for sweep in frame["sweep"].unique():
        manifest = read_manifest(Path(path) / sweep if (Path(path) / sweep).is_dir() else Path(path)) or {}
        varying += [k for k in manifest.get("varying", []) if k not in varying]
    cols = ["run_id", "status", *varying, *SUMMARY]
    if "trial" in frame and frame["trial"].notna().any():  # an Optuna study's runs: which trial each is
        cols.insert(1, "trial")
    if frame["sweep"].nunique() > 1:
        cols.insert(1, "sweep")
    if "error" in frame:
        cols.append("error")
    return [c for c in cols if c in frame.columns]


def in_sweep_order(frame, path):
    """Rows in the order their sweeps list the runs (sweep.json), not by folder name."""
    rank: dict[str, int] = {}
    for sweep in frame["sweep"].unique() if "sweep" in frame else []:
        folder = Path(path) / sweep if (Path(path) / sweep).is_dir() else Path(path)
        for run in (read_manifest(folder) or {}).get("runs", []):
            rank.setdefault(run["run_id"], len(rank))
    order = frame["run_id"].map(lambda r: rank.get(r, len(rank)))
    return frame.assign(_order=order).sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = ArgumentParser(prog=prog or "python -m bench_ssl.results", description=__doc__)
    parser.add_argument("path", help="a results folder, a sweep folder (results/<sweep>) or a run folder")
    parser.add_argument("--format", choices=("markdown", "latex", "csv", "parquet"), default="markdown",
                        help="markdown and latex round accuracies to the test set's resolution; csv and parquet keep "
                             "full precision")
    parser.add_argument("--pivot", nargs=3, metavar=("ROW", "COL", "VALUE"),
                        help="mean ± std and n of VALUE for each (ROW, COL) over done runs, in sweep order, e.g. --pivot "
                             "method.temperature optim.batch_size linear_top1")
    parser.add_argument("--all-columns", action="store_true", help="every config and result column, not just the summary")
    parser.add_argument("--out", help="write to this file instead of stdout (required for parquet)")
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except (FileNotFoundError, BenchSSLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _main(args) -> int:
    from .formats import best_rows, decimals_for, is_accuracy, latex, pd_numeric, pivot, pivot_text, rounded
    from .table import load  # pandas: imported once the arguments are known

    frame = load(args.path)
    if frame.empty:
        print(f"error: {args.path} holds no runs (no sweep.json, no run folders); run a sweep first, e.g. "
              "python -m bench_ssl.sweep sweeps/temperature.yaml --profile quick, or give its results folder",
              file=sys.stderr)
        return 2
    frame = in_sweep_order(frame, args.path)
    unreadable = frame[frame["status"] == "corrupt"] if "status" in frame else frame.iloc[:0]
    for _, row in unreadable.iterrows():  # shown in the table too; the others are listed as usual
        print(f"warning: {row['error']}", file=sys.stderr)
    n_test = frame.loc[frame["status"] == "done", "num_test"].median() if "num_test" in frame else None
    if args.pivot:
        row, col, value = args.pivot
        missing = [c for c in (row, col, value) if c not in frame.columns]
        if missing:
            from ..registry import suggest

            print(f"error: no column {missing[0]!r}{suggest(missing[0], list(frame.columns))}; list them all with "
                  "--all-columns --format csv", file=sys.stderr)
            return 2
        table = pivot(frame, row, col, value)
        digits = decimals_for(n_test) if is_accuracy(value) else 4
        if args.format in ("csv", "parquet"):  # full precision, one column per (COL value, statistic)
            frame = table.copy()
            frame.columns = [f"{col}={c} {stat}" for c, stat in table.columns]
        else:
            frame = pivot_text(table, digits)
    elif not args.all_columns and not frame.empty:
        frame = frame[summary_columns(frame, args.path)]
    if args.format == "parquet":
        if not args.out:
            print("error: --format parquet writes a binary file: add --out FILE.parquet", file=sys.stderr)
            return 2
        with atomic_open(args.out) as f:
            frame.to_parquet(f)
        return 0
    if args.format == "csv":
        text = frame.to_csv(index=bool(args.pivot))
    elif args.format == "latex":
        shown = frame if args.pivot else rounded(frame, n_test)
        shown = shown if args.pivot else shown.set_index(shown.columns[0])
        best = best_rows(table) if args.pivot else {c: pd_numeric(shown[c]).idxmax() for c in shown.columns
                                                     if is_accuracy(c) and pd_numeric(shown[c]).notna().any()}
        text = latex(shown, index=True, best=best,
                     caption=f"bench_ssl results of {args.path}" + (f": {value}, mean ± std (n runs)" if args.pivot else ""))
    else:  # an empty cell: the parameter does not apply to that run (or the run has no result yet)
        shown = frame if args.pivot else rounded(frame, n_test)
        shown = shown.astype(object).where(shown.notna(), None)
        text = shown.to_markdown(index=bool(args.pivot), floatfmt=".4g", missingval="–")
    if args.out:
        atomic_write_text(args.out, text + "\n")
    else:
        try:
            print(text)
            sys.stdout.flush()
        except BrokenPipeError:  # `results ... | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    from ..cli import guarded

    sys.exit(guarded(main))
