"""Checks before anything is launched: a problem every run would hit (no dataset, no GPU, no room for the
checkpoints) is one error before any run folder exists, instead of N failed runs; and the wall time the
sweep will take, so a GPU-sized sweep on a CPU is a choice, not a surprise.

`check_environment(cfg)` is what a single run checks; `preflight(configs, ...)` what a driver checks once for
all its runs: each dataset is located (downloaded into the user cache if it is the default one) and decoded
once, each device is resolved, the output folder is written to, and a short timed calibration (a few
training steps of one run, or the timings of the sweep's finished runs) gives the estimate.
"""

from __future__ import annotations

import copy
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BenchSSLError, ConfigError

CALIBRATION_STEPS = 3  # timed after one untimed step (which pays for allocation and kernel selection)
CPU_BATCH = 64  # on a CPU, calibration steps of at most this many images (its step time is linear in them)
EVAL_SHARE = 0.15  # evaluation and start-up, as a share of training time, when no finished run tells
GPU_SIZED_S = 3600.0  # on a CPU, an estimate above this asks before starting (--yes skips the question)
DISK_MARGIN = 1.2


@dataclass
class Estimate:
    """What the checks found: seconds per run (by run id), where the figure comes from, checkpoint bytes."""

    run_s: dict[str, float] = field(default_factory=dict)
    source: str = ""
    checkpoint_bytes: int = 0
    device: str = ""

    def total_s(self, parallel: int) -> float:
        return sum(self.run_s.values()) / max(1, parallel)


def locate_data(data) -> None:
    """The dataset of a data section exists (the default one is downloaded first) and its layout is known."""
    from ..data.detect import detect_format, require_exists
    from ..data.download import fetch_if_needed

    fetch_if_needed(data.root, data.format, data.download)
    require_exists(data.root)
    if data.format == "auto":
        detect_format(data.root)


def check_device(name: str):
    from ..train.loop import resolve_device

    return resolve_device(name)


def check_environment(cfg) -> None:
    """A single run's checks before its folder is made: the device and the dataset."""
    check_device(cfg.device)
    locate_data(cfg.data)


def check_output(folder: Path, need_bytes: int) -> None:
    """`folder` can be created and written, with room for `need_bytes` (and a margin)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".preflight-"):
            pass
    except OSError as exc:
        raise BenchSSLError(f"cannot write the results folder {folder}: {exc.strerror or exc}; make it writable or "
                            "point output.root at another folder (--set output.root=DIR)") from None
    free = shutil.disk_usage(folder).free
    if need_bytes * DISK_MARGIN > free:
        raise BenchSSLError(f"the runs will write about {_gb(need_bytes)} of checkpoints into {folder} but only "
                            f"{_gb(free)} is free there; free disk space, point output.root elsewhere, or set "
                            "output.keep_checkpoint=false (one checkpoint per running run is kept then)")


def preflight(configs: list, run_ids: list[str], out_dir: Path, parallel: int, local: bool = True,
              estimate_time: bool = True, finished: list[dict] = ()) -> Estimate:
    """Check what `configs` (the runs still to do) need, once; return the estimate (empty without runs).

    `local`: the runs execute on this machine, so its devices are checked (not on a Slurm login node);
    `estimate_time`: time them too (from `finished` results of the same sweep, else a calibration)."""
    estimate = Estimate()
    if not configs:
        return estimate
    index, seen_device = _DataIndex(), {}
    for cfg in configs:
        index.of(cfg.data)  # each dataset located and decoded once (later runs load it from the cache)
        if local and cfg.device not in seen_device:
            seen_device[cfg.device] = check_device(cfg.device)
    for cfg, rid in zip(configs, run_ids):
        n = index.train_size(cfg.data)
        if cfg.optim.batch_size > n:
            raise ConfigError(f"run {rid}: optim.batch_size {cfg.optim.batch_size} is larger than its training set of "
                              f"{n} images; lower optim.batch_size to at most {n} or use more data (data.train_per_class)")
    keep = sum(1 for c in configs if c.output.keep_checkpoint) + min(parallel, len(configs))
    per_run = _checkpoint_bytes(configs[0], index)
    estimate.checkpoint_bytes = per_run * keep
    check_output(out_dir, estimate.checkpoint_bytes)
    if not (local and estimate_time):
        return estimate
    estimate.device = str(next(iter(seen_device.values())))
    per_image_epoch = _from_finished(finished)
    if per_image_epoch is not None:
        estimate.source = f"the timings of {len(finished)} finished run(s) of this sweep"
    else:
        per_image_epoch = _calibrate(configs[0], run_ids[0])
        estimate.source = f"a timed calibration of {CALIBRATION_STEPS} training steps of run {run_ids[0]}"
    for cfg, rid in zip(configs, run_ids):
        b = cfg.optim.batch_size
        estimate.run_s[rid] = per_image_epoch * (index.train_size(cfg.data) // b * b) * cfg.optim.epochs  # drop_last
    return estimate


class _DataIndex:
    """The datasets of one pre-flight: each loaded once (decoded on a cache miss); only the labels and class
    names are kept, for the training-set sizes and the number of classes."""

    def __init__(self):
        self.labels: dict = {}

    def of(self, d) -> tuple:
        key = (d.root, d.format, d.image_size, d.stl10_unlabeled, d.cache_dir, d.storage)
        if key not in self.labels:
            from ..data import load_arrays

            locate_data(d)
            if d.storage == "stream":  # the list of files says it all: nothing is decoded ahead
                from ..data.stream import scan_stream

                _, labels, n_train, classes = scan_stream(d.root)
                self.labels[key] = (labels[:n_train], classes)
            else:
                arrays = load_arrays(d.root, format=d.format, image_size=d.image_size, cache_dir=d.cache_dir,
                                     stl10_unlabeled=d.stl10_unlabeled)
                self.labels[key] = (arrays.train_y, list(arrays.classes))
        labels, classes = self.labels[key]
        if d.classes:  # the run's classes only (an unknown name stops the sweep here, before any run folder)
            from ..data import select_classes

            return select_classes(labels, classes, list(d.classes))[1], list(d.classes)
        return labels, classes

    def train_size(self, d) -> int:
        """Training images of the run (its class-balanced subset, data.train_per_class, when it takes one)."""
        import numpy as np

        labels, _ = self.of(d)
        if d.train_per_class is None:
            return len(labels)
        return int(np.minimum(np.bincount(labels[labels >= 0]), d.train_per_class).sum())

    def num_classes(self, d) -> int:
        return len(self.of(d)[1])


def _from_finished(finished) -> float | None:
    """Seconds per training image per epoch (training and evaluation included) over the finished runs."""
    rates = [r["wall_time_s"] / (r["num_train"] * r["epochs"]) for r in finished
             if r.get("wall_time_s") and r.get("num_train") and r.get("epochs")]
    return statistics.median(rates) if rates else None


def _calibrate(cfg, rid: str) -> float:
    """Seconds per training image per epoch of `cfg`, from a few real steps (plus the evaluation share)."""
    import torch

    from ..train.loop import Trainer

    cfg = copy.deepcopy(cfg)
    cfg.train.compile = False  # compiling would take longer than the calibration (so compiled runs are overestimated)
    ranks = cfg.train.world_size  # one rank's step on its slice here; the ranks share the epoch's images
    cfg.train.devices, cfg.train.nodes, cfg.optim.batch_size = 1, 1, cfg.optim.batch_size // ranks
    with tempfile.TemporaryDirectory(prefix="bench_ssl-calibrate-") as tmp:
        trainer = Trainer(cfg, rid, Path(tmp))
        n = trainer.data.train_x.shape[0]
        # a CPU's step time grows linearly with the batch: a part of it is timed (a GPU's does not: all of it)
        b = cfg.optim.batch_size if trainer.device.type == "cuda" else min(cfg.optim.batch_size, CPU_BATCH)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:b].to(trainer.device)
        labels = trainer.data.train_y[order]
        times = []
        for step in range(CALIBRATION_STEPS + 1):
            trainer.sync()
            t0 = time.perf_counter()
            trainer.optimize(trainer.make_views(order), labels, order, step)
            trainer.sync()
            times.append(time.perf_counter() - t0)
        del trainer
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # the driver keeps no GPU memory the runs need
    step_s = statistics.median(times[1:])
    return step_s / b / ranks * (1 + EVAL_SHARE)


def _checkpoint_bytes(cfg, index: _DataIndex) -> int:
    """Bytes of one checkpoint of `cfg`: the method's state (weights, buffers, queues, banks) plus the
    optimizer's (one momentum buffer per weight; two for AdamW)."""
    from ..methods import build_method

    method = build_method(cfg, index.train_size(cfg.data), index.num_classes(cfg.data))
    state = sum(t.numel() * t.element_size() for t in method.state_dict().values())
    weights = sum(p.numel() * p.element_size() for p in method.parameters() if p.requires_grad)
    return state + weights * (2 if cfg.optim.name == "adamw" else 1)


def confirm_long_sweep(estimate: Estimate, parallel: int, yes: bool, stdin=None, profiles: tuple = (),
                       profile: str | None = None) -> None:
    """On a CPU, a sweep estimated above GPU_SIZED_S asks first (or needs --yes): it was sized for a GPU.
    `profiles`: the sweep's own, one of which is suggested (quick, else cpu, else the first other one)."""
    total = estimate.total_s(parallel)
    if yes or not estimate.device.startswith("cpu") or total <= GPU_SIZED_S:
        return
    from ..sweep.display import format_duration

    question = (f"this sweep is sized for a GPU: on this CPU it would take about {format_duration(total)} "
                f"({len(estimate.run_s)} runs, {parallel} at a time)")
    stdin = stdin if stdin is not None else __import__("sys").stdin
    others = [p for p in profiles if p != profile]
    smaller = next((p for p in ("quick", "cpu") if p in others), others[0] if others else None)
    hint = f"run the CPU size with --profile {smaller}" if smaller else "make it smaller (fewer runs, epochs or images)"
    if stdin.isatty():
        try:
            answer = input(f"{question}. Start anyway? ({hint} instead) [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower().startswith("y"):
            return
    raise ConfigError(f"{question}; {hint}, or pass --yes to start it anyway")


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


__all__ = ["Estimate", "check_environment", "check_output", "confirm_long_sweep", "locate_data", "preflight"]
