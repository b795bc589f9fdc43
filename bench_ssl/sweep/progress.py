"""How far each run of a sweep is, read from its folder (metrics.jsonl), and the sweep's ETA.

The ETA comes from measured times: before a run has an epoch, the pre-flight estimate of it (a calibration,
or the timings of the sweep's finished runs, so it survives a resume), corrected by how the runs finished so
far compare with their estimates; once it has epochs, its own epoch times. It counts down between
completions because the time since a run's last epoch is taken off what that run has left.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from ..launch.preflight import EVAL_SHARE  # evaluation after the last epoch, as a share of the training time


@dataclass
class RunProgress:
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None
    knn: float | None = None
    images_per_s: float | None = None
    epoch_s: float | None = None
    updated: float = 0.0  # when metrics.jsonl was last written

    def remaining_s(self, now: float, fallback_s: float | None) -> float | None:
        if not self.epoch or self.epoch_s is None:
            return fallback_s
        left = (self.epochs - self.epoch) * self.epoch_s + EVAL_SHARE * self.epochs * self.epoch_s
        return max(0.0, left - (now - self.updated))


def read_progress(run) -> RunProgress:
    """The progress of a SweepRun from its metrics.jsonl (empty before its first epoch)."""
    p = RunProgress(epochs=run.config.optim.epochs)
    try:
        p.updated = run.run_dir.metrics.stat().st_mtime
        records = run.run_dir.read_metrics()  # a line being written is left out
    except OSError:
        return p
    if not records:
        return p
    last = records[-1]
    p.epoch, p.loss, p.images_per_s = last.get("epoch", 0), last.get("loss"), last.get("images_per_s")
    knn = [r["knn_top1"] for r in records if "knn_top1" in r]
    p.knn = knn[-1] if knn else None
    times = [r["epoch_s"] for r in records[1:] or records if "epoch_s" in r]
    p.epoch_s = statistics.median(times) if times else None
    return p


class Eta:
    """The sweep's remaining wall time from per-run estimates, corrected as runs finish."""

    def __init__(self, estimates: dict[str, float], parallel: int):
        self.estimates, self.parallel = dict(estimates), max(1, parallel)
        self.ratios: list[float] = []  # measured / estimated, per finished run
        self.durations: list[float] = []  # the finished runs' wall times: the estimate where there is none (Slurm)
        self.started: dict[str, float] = {}

    def started_run(self, run_id: str, when: float | None = None) -> None:
        self.started.setdefault(run_id, when if when is not None else time.time())

    def finished_run(self, run_id: str, when: float | None = None) -> None:
        start, est = self.started.get(run_id), self.estimates.get(run_id)
        if start is None:
            return
        took = (when if when is not None else time.time()) - start
        self.durations.append(took)
        if est:
            self.ratios.append(took / est)

    def _estimate(self, run_id: str) -> float | None:
        est = self.estimates.get(run_id)
        if est is None:
            return statistics.median(self.durations) if self.durations else None
        return est * (statistics.median(self.ratios) if self.ratios else 1.0)

    def remaining_s(self, pending: list[str], running: dict[str, RunProgress], now: float | None = None) -> float | None:
        now = time.time() if now is None else now
        total, longest = 0.0, 0.0
        for rid in pending:
            est = self._estimate(rid)
            if est is None:
                return None
            total += est
        for rid, prog in running.items():
            est = self._estimate(rid)
            fallback = None if est is None else max(0.0, est - (now - self.started.get(rid, now)))
            left = prog.remaining_s(now, fallback)
            if left is None:
                return None
            total, longest = total + left, max(longest, left)
        return max(total / self.parallel, longest)  # the last runs cannot share their time
