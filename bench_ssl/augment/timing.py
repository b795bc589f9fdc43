"""Micro-benchmark of an augmentation pipeline: median milliseconds per batch.

Usage: python -m bench_ssl.augment.timing crop flip color --batch 512 --size 32 --device cuda
"""

from __future__ import annotations

import statistics
import time

import torch

from . import build_pipeline
from ..arguments import ArgumentParser


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_pipeline(names, batch=512, size=32, device="cuda", repeats=20, params=None, warmup=3, seed=0) -> float:
    """Median ms per pipeline call on a random (batch,3,size,size) float batch, after warm-up."""
    device = torch.device(device)
    pipe = build_pipeline(list(names), params)
    gen = torch.Generator(device=device).manual_seed(seed)
    x = torch.rand((batch, 3, size, size), generator=gen, device=device)
    for _ in range(warmup):
        pipe(x, gen)
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        pipe(x, gen)
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None) -> None:
    ap = ArgumentParser(prog="python -m bench_ssl.augment.timing", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="+")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args(argv)
    ms = time_pipeline(a.names, a.batch, a.size, a.device, a.repeats)
    print(f"{' '.join(a.names)}  batch={a.batch} size={a.size} device={a.device}: {ms:.3f} ms/batch")


if __name__ == "__main__":
    main()
