"""Aggregate run folders into one pandas DataFrame: one row per run, flattened config plus metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from .manifest import read_manifest
from .status import RESULT, failure_summary, pruned_reason, run_status

# result.json fields that are nested or repeat the config: not table columns
_SKIP = {"config", "versions", "linear_val_top1"}


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


def _run_dirs(path: Path) -> list[tuple[str, Path]]:
    """(sweep name, run folder) under a run folder, a sweep folder, or a results root of sweep folders."""
    if (path / "config.yaml").exists() or (path / RESULT).exists():
        return [(path.parent.name, path)]
    children = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    runs = [(path.name, p) for p in children if (p / "config.yaml").exists() or (p / RESULT).exists()]
    if runs or (path / "sweep.json").exists():
        return runs
    return [pair for child in children for pair in _run_dirs(child)]


def _sweep_dirs(path: Path) -> list[Path]:
    if (path / "sweep.json").exists():
        return [path]
    if (path / "config.yaml").exists():
        return []
    return [p for p in sorted(path.iterdir()) if p.is_dir() and (p / "sweep.json").exists()] if path.is_dir() else []


def load(path: str | Path) -> pd.DataFrame:
    """One row per run under `path` (a run, a sweep or a results folder): `run_id`, `sweep`, `status`
    (done/failed/running/pending/pruned), `error` for failed runs (the pruner's reason for pruned ones), `trial`
    for runs of an Optuna study, the flattened config (`method.temperature`, ...)
    and every scalar of result.json (`linear_top1`, `knn_top1`, ...). Runs a sweep lists but has not started
    appear as pending."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; give a results folder, a sweep folder or a run folder")
    rows, seen = [], set()
    for sweep, run_dir in _run_dirs(path):
        row = {"run_id": run_dir.name, "sweep": sweep, "status": run_status(run_dir), "run_dir": str(run_dir)}
        if row["status"] == "failed":
            row["error"] = failure_summary(run_dir)
        elif row["status"] == "pruned":
            row["error"] = pruned_reason(run_dir)
        if (run_dir / "trial.json").exists():  # a run of an Optuna study (bench_ssl.tune): its trial number(s)
            row["trial"] = ",".join(map(str, json.loads((run_dir / "trial.json").read_text()).get("trials", [])))
        config_path = run_dir / "config.yaml"
        if config_path.exists():
            row.update(flatten(yaml.safe_load(config_path.read_text()) or {}))
        if row["status"] == "done":
            result = json.loads((run_dir / RESULT).read_text())
            row.update(flatten({k: v for k, v in result.items() if k not in _SKIP}))
            row.update(flatten(result.get("versions", {}), "versions."))
        rows.append(row)
        seen.add((sweep, run_dir.name))
    for sweep_dir in _sweep_dirs(path):
        manifest = read_manifest(sweep_dir) or {}
        for entry in manifest.get("runs", []):
            if (sweep_dir.name, entry["run_id"]) not in seen:
                rows.append({"run_id": entry["run_id"], "sweep": sweep_dir.name, "status": "pending",
                             "run_dir": str(sweep_dir / entry["run_id"]), **flatten(entry.get("config", {}))})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["run_id", "sweep", "status"])
    first = ["run_id", "sweep", "status"]
    return frame[first + [c for c in frame.columns if c not in first]]
