"""Throughput of K small runs sharing one device, against the same K runs one after another: K processes packed
at once, and the K runs trained as one fused model in one process (`bench_ssl.fused`).

Small CIFAR runs do not fill an H100: several at once overlap one run's data loading, evaluation and
kernel-launch gaps with another's compute. Each run here is a real `python -m bench_ssl.run` process
(start-up, data, training, evaluation), as the sweep launcher would start it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..config import dump_yaml, load_config
from ..output import atomic_write_text


def _configs(cfg, k: int, root: Path, name: str) -> list[Path]:
    """k configs of `cfg` (seeds 0..k-1) written under root."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(k):
        c = load_config(cfg, [f"seed={seed}", f"name={name}{k}", f"output.root={root}", "output.keep_checkpoint=false"])
        path = root / f"k{k}-s{seed}.yaml"
        atomic_write_text(path, dump_yaml(c))
        paths.append(path)
    return paths


def _wait(procs: list, what: str) -> None:
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{what} failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")


def time_concurrent(cfg, k: int, root: Path) -> float:
    """Wall seconds for k runs (seeds 0..k-1) started together on this machine, a process each."""
    paths = _configs(cfg, k, root, "pack")
    t0 = time.perf_counter()
    _wait([subprocess.Popen([sys.executable, "-m", "bench_ssl.run", str(p)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True) for p in paths], "packed run")
    return time.perf_counter() - t0


def time_fused(cfg, k: int, root: Path) -> float:
    """Wall seconds for the same k runs trained as one fused model (`python -m bench_ssl.fused`), one process."""
    paths = _configs(cfg, k, root, "fused")
    t0 = time.perf_counter()
    _wait([subprocess.Popen([sys.executable, "-m", "bench_ssl.fused", *map(str, paths)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)], "fused group")
    return time.perf_counter() - t0


def packing(cfg, ks: list[int]) -> dict:
    """Runs/hour for each K and the speed-up over K sequential runs (K x the K=1 time)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_ssl-pack-") as tmp:
        time_concurrent(cfg, 1, Path(tmp) / "warmup")  # caches, cudnn, page cache: not timed
        single = None
        for k in ks:
            seconds = time_concurrent(cfg, k, Path(tmp) / f"k{k}")
            fused = time_fused(cfg, k, Path(tmp) / f"f{k}") if k > 1 else seconds
            single = seconds if k == 1 else single
            sequential = k * single if single else None
            rows.append({"k": k, "wall_s": seconds, "runs_per_hour": k / seconds * 3600,
                         "sequential_wall_s": sequential, "speedup": sequential / seconds if sequential else None,
                         "fused_wall_s": fused, "fused_runs_per_hour": k / fused * 3600,
                         "fused_speedup": sequential / fused if sequential else None})
    best = max(rows, key=lambda r: r["runs_per_hour"])
    run = {"backbone": cfg.model.backbone, "epochs": cfg.optim.epochs, "train_per_class": cfg.data.train_per_class,
           "linear_eval": "linear" in cfg.eval.protocols}
    return {"rows": rows, "best_k": best["k"], "run": run}
