"""Benchmark: `python -m bench_ssl.bench [--quick] [--out FILE.json]`.

Measures, in one process and on the same model and step: (a) the standard recipe (PIL transforms in
DataLoader workers), (b) our pipeline (uint8 data and batched augmentation on the device), (c) compute only
(views prepared ahead on the device); then evaluation time and the throughput of K runs packed on one
device. Protocol: warm-up epoch(s), then the median of repeats. Writes JSON and prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

from ..arguments import ArgumentParser
from ..errors import BenchSSLError
from ..named_files import FILES

# (a)/(b)/(c) configuration: SimCLR, ResNet-18 with the CIFAR stem, CIFAR-10, batch 512, bf16 (on CUDA)
FULL = ["optim.epochs=100", "output.progress=false"]
QUICK = ["model.backbone=convnet", "data.train_per_class=50", "data.test_per_class=20", "optim.batch_size=100",
         "optim.epochs=100", "eval.linear.max_iter=50", "output.progress=false"]
# packed runs: a real small run each (data, training, evaluation)
PACK_FULL = ["optim.epochs=2", "optim.warmup_epochs=0", "eval.knn_every=0", "output.progress=false"]
PACK_QUICK = [*QUICK[:4], "optim.epochs=1", "optim.warmup_epochs=0", "eval.protocols=[knn]", "eval.knn_every=0",
              "output.progress=false"]


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    p = ArgumentParser(prog=prog or "python -m bench_ssl.bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="CPU-sized: small ConvNet, 500 images (what CI runs)")
    p.add_argument("--out", default="results/bench.json", help="JSON output (a .md table is written beside it)")
    p.add_argument("--data", help="CIFAR-10 (any accepted layout; default: the data.root default, $BENCH_SSL_DATA "
                                  "or the user cache)")
    p.add_argument("--workers", type=_count(0), help="DataLoader workers of the standard recipe (default: min(16, CPUs))")
    p.add_argument("--warmup", type=_count(0), default=1, help="untimed epochs before timing each variant")
    p.add_argument("--repeats", type=_count(1), default=3, help="timed epochs per variant (the median is reported)")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
    p.add_argument("--packing", type=_packing, default=None,
                   help="K values, e.g. 1,2,4,8 (quick: 1,2; 'none' to skip)")
    p.add_argument("--peak-tflops", type=_positive_float, help="the chip's dense bf16 TFLOP/s for the FLOP floor "
                                                                 "(default: from the device's name where bench/flops.py "
                                                                 "lists it)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    import torch

    from ..config import load_config
    from ..output import environment
    from ..train import resolve_device
    from .compare import compare
    from .flops import floor, ratio
    from .packing import packing
    from .table import markdown

    try:
        out_path = Path(args.out)
        _check_writable(out_path)  # before minutes of timing: a result that cannot be written is lost
        base = FILES / "configs" / "cifar10_resnet18.yaml"
        common = [*([f"data.root={args.data}"] if args.data else []), f"train.compile={str(args.compile).lower()}"]
        cfg = load_config(base, common + (QUICK if args.quick else FULL) + args.overrides)
        workers = args.workers if args.workers is not None else min(16, len(os.sched_getaffinity(0)))
        device = resolve_device(cfg.device)
        report = {
            "device": environment(device)["device"],
            "profile": "quick" if args.quick else "full",
            "config": {"backbone": cfg.model.backbone, "batch_size": cfg.optim.batch_size, "method": cfg.method.name,
                       "bf16": cfg.train.bf16 and device.type == "cuda", "compile": cfg.train.compile,
                       "channels_last": cfg.train.channels_last and device.type == "cuda", "standard_workers": workers,
                       "data": cfg.data.root},
            "protocol": {"warmup_epochs": args.warmup, "repeats": args.repeats, "statistic": "median"},
            "versions": {"torch": torch.__version__, "python": platform.python_version()},
        }
        report.update(compare(cfg, workers, args.warmup, args.repeats))
        report["flop_floor"] = floor(report["flops_per_step"], report["steps_per_epoch"], report["device"],
                                     args.peak_tflops)
        for name in ("ours", "compute_only", "graph", "compile"):
            report["flop_floor"][f"{name}_over_floor"] = ratio(report[f"{name}_epoch_s"],
                                                                report["flop_floor"]["floor_epoch_s"])
        _write(out_path, report)  # the comparison is kept even if packing is interrupted
        ks = args.packing if args.packing is not None else ([1, 2] if args.quick else [1, 2, 4, 8])
        if ks:
            pack_cfg = load_config(base, common + (PACK_QUICK if args.quick else PACK_FULL) + args.overrides)
            report["packing"] = packing(pack_cfg, ks)
            _write(out_path, report)
    except BenchSSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown(report))
    return 0


def _count(least: int):
    """An argparse type: an integer >= least."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {least}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number, e.g. 989 (an H100's dense bf16 TFLOP/s)")
    return value


def _packing(text: str) -> list[int]:
    """'1,2,4' -> [1, 2, 4]; 'none' -> [] (no packing rows)."""
    if text.strip().lower() == "none":
        return []
    try:
        ks = [int(k) for k in text.split(",")]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of runs per device >= 1, e.g. 1,2,4,8 (or 'none')")
    return sorted(set(ks))


def _check_writable(path: Path) -> None:
    import tempfile

    if path.is_dir():
        raise BenchSSLError(f"--out {path} is a folder; give a file name, e.g. {path / 'bench.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".bench-check-"):
            pass
    except OSError as exc:
        raise BenchSSLError(f"cannot write --out {path}: {exc.strerror or exc}; give a file in a writable folder, "
                            "e.g. --out results/bench.json") from None


def _write(path: Path, report: dict) -> None:
    from ..output import atomic_write_json, atomic_write_text
    from .table import markdown

    atomic_write_json(path, report)
    atomic_write_text(path.with_suffix(".md"), markdown(report) + "\n")


if __name__ == "__main__":
    from ..cli import guarded

    sys.exit(guarded(main))
