"""What a report reads from a sweep's results folder: sweep.json, one row per run (bench_ssl.results.load),
the per-epoch learning curves (metrics.jsonl) and the environment the runs recorded in result.json."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import BenchSSLError
from ..results import RunDir, load, read_manifest
from . import METRICS

METHODS = {"simclr": "SimCLR", "moco": "MoCo", "memory_bank": "memory bank", "end_to_end": "end-to-end", "supcon": "SupCon",
           "supervised": "supervised (cross-entropy)", "byol": "BYOL", "simsiam": "SimSiam", "rotation": "rotation",
           "jigsaw": "jigsaw", "relative_patch": "relative patch", "exemplar": "exemplar", "colorization": "colorization",
           "inpainting": "inpainting", "counting": "counting"}
BACKBONES = {"resnet18": "ResNet-18", "resnet34": "ResNet-34", "resnet50": "ResNet-50", "convnet": "small ConvNet"}


class ReportError(BenchSSLError):
    """The report cannot be made (no such folder, no runs, an unknown format): one line for the user."""


@dataclass
class Sweep:
    path: Path
    name: str  # the results folder's sweep name, e.g. temperature_quick
    file: str | None  # the sweep file it was launched from (sweep.json)
    description: str
    varying: list[str]
    runs: pd.DataFrame  # bench_ssl.results.load + `value`: the metric in %, NaN unless done
    metric: str  # linear_top1, or knn_top1 where no run has a linear evaluation
    metric_label: str
    command: dict | None = None  # the command line that launched it (sweep.json), for an exact "Reproduce"
    study: bool = False  # an Optuna study's results folder (bench_ssl.tune)


def load_sweep(path: str | Path, metric: str | None = None) -> Sweep:
    path = Path(path)
    if not path.exists():
        raise ReportError(f"{path} does not exist; give a sweep's results folder, e.g. results/temperature_quick")
    if not path.is_dir():
        raise ReportError(f"{path} is not a folder; give a sweep's results folder, e.g. results/temperature_quick")
    if RunDir(path).is_run():
        raise ReportError(f"{path} is one run's folder; a report compares the runs of a sweep: give the sweep's "
                          f"folder, e.g. {path.parent}")
    manifest = read_manifest(path) or {}
    runs = load(path)
    if runs.empty:
        raise ReportError(f"{path} holds no runs (no sweep.json, no run folders); run the sweep first, "
                          f"e.g. python -m bench_ssl.sweep sweeps/temperature.yaml --profile quick")
    sweeps = sorted(set(runs["sweep"]))
    if not manifest and (len(sweeps) > 1 or sweeps[0] != path.name):
        raise ReportError(f"{path} holds {len(sweeps)} sweeps ({', '.join(sweeps[:5])}{', ...' if len(sweeps) > 5 else ''}); "
                          f"give one sweep's folder, e.g. {path / sweeps[0]}")
    if metric is None:
        metric = next((m for m in METRICS if m in runs and pd.to_numeric(runs[m], errors="coerce").notna().any()), "linear_top1")
    elif metric not in METRICS:
        raise ReportError(f"--metric {metric!r} is not known; use one of {', '.join(METRICS)}")
    values = pd.to_numeric(runs[metric], errors="coerce") * 100 if metric in runs else pd.Series(np.nan, index=runs.index)
    runs = runs.assign(value=values.where(runs["status"] == "done"))
    varying = list(manifest.get("varying") or _varying(runs))
    return Sweep(path=path, name=str(manifest.get("name") or path.name), file=manifest.get("file"),
                 description=str(manifest.get("description") or ""), varying=varying, runs=runs, metric=metric,
                 metric_label=METRICS[metric], command=manifest.get("command"), study=(path / "study.json").exists())


def _varying(runs: pd.DataFrame) -> list[str]:
    config = [c for c in runs.columns if "." in c and not c.startswith(("versions.", "output.", "data.cache_dir"))] + ["seed"]
    return [c for c in config if c in runs and runs[c].astype(str).nunique() > 1]


def curves(run_dir: str | Path) -> list[dict]:
    """The run's metrics (one record per epoch); a line being written right now is skipped."""
    try:
        return RunDir(run_dir).read_metrics()
    except (NotADirectoryError, UnicodeDecodeError):
        return []


def dataset_name(root: str) -> str:
    base = Path(str(root)).name.lower()
    for token, name in (("cifar100", "CIFAR-100"), ("cifar-100", "CIFAR-100"), ("cifar10", "CIFAR-10"),
                        ("cifar-10", "CIFAR-10"), ("stl10", "STL-10"), ("stl-10", "STL-10")):
        if token in base:
            return name
    return Path(str(root)).name or "dataset"


def _span(values, unit: str, plural: str | None = None) -> str:
    vals = sorted({int(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))})
    if not vals:
        return ""
    plural = plural or unit + "s"
    if len(vals) == 1:
        return f"{vals[0]:,} {unit if vals[0] == 1 else plural}"
    return f"{vals[0]:,}–{vals[-1]:,} {plural}"


def _col(runs: pd.DataFrame, name: str) -> list:
    return list(runs[name].dropna()) if name in runs else []


def setup(runs: pd.DataFrame) -> dict:
    """What was run, for captions: dataset, images, backbone, epochs, batch, seeds, method(s)."""
    datasets = sorted({dataset_name(r) for r in _col(runs, "data.root")}) or ["?"]
    n_train = _col(runs, "num_train")
    per_class = _col(runs, "data.train_per_class")
    if n_train:
        images = _span(n_train, "train image")
    elif per_class:
        images = _span(per_class, "train image per class", "train images per class")
    else:
        images = "all train images"
    backbones = sorted({BACKBONES.get(b, str(b)) for b in _col(runs, "model.backbone")})
    seeds = sorted({int(s) for s in _col(runs, "seed")})
    return {
        "dataset": " / ".join(datasets),
        "images": images,
        "backbone": " / ".join(backbones) or "?",
        "epochs": _span(_col(runs, "optim.epochs"), "epoch"),
        "batch": _batch(_col(runs, "optim.batch_size")),
        "seeds": f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}",
        "methods": ", ".join(sorted({METHODS.get(m, str(m)) for m in _col(runs, "method.name")})),
    }


def _batch(values) -> str:
    vals = sorted({int(v) for v in values})
    if not vals:
        return ""
    return f"batch {vals[0]}" if len(vals) == 1 else f"batch {vals[0]}–{vals[-1]}"


def short_setup(s: dict) -> str:
    return ", ".join(x for x in (s["dataset"], s["backbone"], s["epochs"], s["seeds"]) if x)


def environment(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """(field, value) rows: devices, library versions, commits, GPU-hours and wall time, hosts, dates."""
    done = runs[runs["status"] == "done"]
    rows: list[tuple[str, str]] = []

    def counts(col: str) -> str:
        if col not in done or done[col].dropna().empty:
            return "–"
        vc = done[col].dropna().astype(str).value_counts()
        return "; ".join(f"{v} ({n} run{'s' if n != 1 else ''})" if len(vc) > 1 else f"{v}" for v, n in vc.items())

    status = runs["status"].value_counts()
    rows.append(("runs", ", ".join(f"{n} {s}" for s, n in status.items()) + f" (of {len(runs)})"))
    rows.append(("device", counts("device")))
    for col in sorted(c for c in done.columns if c.startswith("versions.")):
        rows.append((col.split(".", 1)[1], counts(col)))
    rows.append(("commit", counts("git_commit")))
    wall = pd.to_numeric(done.get("wall_time_s", pd.Series(dtype=float)), errors="coerce")
    device = done.get("device", pd.Series("", index=done.index)).fillna("").astype(str)
    gpu = ~device.str.lower().str.startswith("cpu") & (device != "")
    rows.append(("GPU-hours", f"{wall[gpu].sum() / 3600:.2f} (wall time of the runs on a GPU)"))
    rows.append(("CPU wall time", f"{wall[~gpu].sum() / 60:.1f} min (runs on the CPU)"))
    train = pd.to_numeric(done.get("train_time_s", pd.Series(dtype=float)), errors="coerce")
    if train.notna().any():
        rows.append(("training time", f"{train.sum() / 60:.1f} min in all, {train.median():.1f} s median per run"))
    mem = pd.to_numeric(done.get("peak_gpu_mem_gb", pd.Series(dtype=float)), errors="coerce")
    if mem.notna().any():
        rows.append(("peak GPU memory", f"{mem.max():.1f} GB"))
    rows.append(("hosts", counts("hostname")))
    start = done.get("started_at", pd.Series(dtype=str)).dropna()
    end = done.get("finished_at", pd.Series(dtype=str)).dropna()
    if len(start) and len(end):
        rows.append(("ran", f"{min(start)} → {max(end)}"))
    return rows


__all__ = ["METRICS", "ReportError", "Sweep", "curves", "dataset_name", "environment", "load_sweep", "setup", "short_setup"]
