"""Aggregate run folders into one pandas DataFrame: one row per run, flattened config plus metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..config import legacy
from ..errors import BenchSSLError, StoredFileError
from .manifest import MANIFEST, read_manifest
from .run_dir import RunDir
from .status import failure_summary, pruned_reason, run_status


# result.json fields that are nested or repeat the config: not table columns
_SKIP = {"config", "versions", "linear_val_top1", "protocols"}


def flatten(d: dict, prefix: str = "") -> dict:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists and tuples are kept as strings so the column stays hashable."""
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(value)
        else:
            out[name] = value
    return out


def _run_dirs(path: Path) -> list[tuple[str, RunDir]]:
    """(sweep name, run folder) under a run folder, a sweep folder, or a results root of sweep folders."""
    if RunDir(path).is_run():
        return [(path.parent.name, RunDir(path))]
    children = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    runs = [(path.name, RunDir(p)) for p in children if RunDir(p).is_run()]
    if runs or (path / MANIFEST).exists():
        return runs
    return [pair for child in children for pair in _run_dirs(child)]


def _sweep_dirs(path: Path) -> list[Path]:
    if (path / MANIFEST).exists():
        return [path]
    if RunDir(path).is_run():
        return []
    return [p for p in sorted(path.iterdir()) if p.is_dir() and (p / MANIFEST).exists()] if path.is_dir() else []


def load(path: str | Path) -> pd.DataFrame:
    """One row per run under `path` (a run, a sweep or a results folder): `run_id`, `sweep`, `status`
    (done/failed/running/pending/pruned), `error` for failed runs (the pruner's reason for pruned ones), `trial`
    for runs of an Optuna study, the flattened config (`method.temperature`, ...: only the parameters that
    apply to the run, so another method's knob is empty, NaN, in its row; runs written by bench_ssl 0.1 too)
    and every scalar of result.json (`linear_top1`, `knn_top1`, ...). Runs a sweep lists but has not started
    appear as pending."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; give a results folder, a sweep folder or a run folder")
    if not path.is_dir():
        raise BenchSSLError(f"{path} is not a folder; give a results folder, a sweep folder or a run folder, "
                            "e.g. results/temperature_quick")
    rows, seen = [], set()
    for sweep, run_dir in _run_dirs(path):
        row = {"run_id": run_dir.name, "sweep": sweep, "status": run_status(run_dir), "run_dir": str(run_dir.path)}
        if row["status"] == "failed":
            row["error"] = failure_summary(run_dir)
        elif row["status"] == "pruned":
            row["error"] = pruned_reason(run_dir)
        trial = run_dir.read_json(run_dir.trial)
        if trial is not None:  # a run of an Optuna study (bench_ssl.tune): its trial number(s)
            row["trial"] = ",".join(map(str, trial.get("trials", [])))
        row.update(flatten(run_dir.resolved_config() or {}))
        if row["status"] == "done":
            try:
                result = run_dir.read_result()
            except StoredFileError as exc:  # one bad folder does not stop the table of the others
                row.update(status="corrupt", error=str(exc))
            else:
                row.update(flatten({k: v for k, v in result.items() if k not in _SKIP}))
                row.update(flatten(result.get("versions", {}), "versions."))
        rows.append(row)
        seen.add((sweep, run_dir.name))
    for sweep_dir in _sweep_dirs(path):
        manifest = read_manifest(sweep_dir) or {}
        for entry in manifest.get("runs", []):
            folder = entry.get("folder", entry["run_id"])  # a v1 folder keeps its name (see RunDir.of)
            if (sweep_dir.name, folder) not in seen:
                rows.append({"run_id": folder, "sweep": sweep_dir.name, "status": "pending",
                             "run_dir": str(sweep_dir / folder), **flatten(legacy.as_today(entry.get("config") or {}))})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["run_id", "sweep", "status"])
    first = ["run_id", "sweep", "status"]
    return frame[first + [c for c in frame.columns if c not in first]]
