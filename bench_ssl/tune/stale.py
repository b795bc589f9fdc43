"""Trials left RUNNING by a worker that died (SIGKILL, node lost, preemption) are found and retried.

Every worker holds a lock with a heartbeat (the run lock of `bench_ssl.results.lock`) in
`<study>/.workers/<host>-<pid>/` for as long as it works, and each trial records that folder (user attr
`worker`). A RUNNING trial is stale when its worker's lock is gone or dead: a dead pid on the same host, a
heartbeat older than BENCH_SSL_STALE_AFTER_S (120 s) elsewhere, or an earlier incarnation of the same
Slurm job. This works the same for the SQLite, journal and RDB storages. A stale trial is failed with its
reason (`fail_reason`, `stale: true`) and a copy with the same parameters is enqueued (`retry_of`),
which resumes the run from its last checkpoint (at most MAX_RETRIES times in a row). Every worker checks before its first trial and after each
trial, and so does every invocation of `python -m bench_ssl.tune` before it starts.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from datetime import datetime
from pathlib import Path

from ..results.lock import RunLock, _slurm_job, owner_alive, stale_after_s

log = logging.getLogger("bench_ssl.tune")

WORKERS = ".workers"
MAX_RETRIES = 2  # a trial whose workers keep dying is retried at most this many times in a row


class WorkerLock:
    """Held by a worker while it runs trials; `info` goes into each of its trials' user attrs."""

    def __init__(self, study_dir: Path):
        host, pid = socket.gethostname(), os.getpid()
        self.dir = Path(study_dir) / WORKERS / f"{host}-{pid}"
        self.info = {"host": host, "pid": pid, "slurm_job": _slurm_job(), "dir": str(self.dir)}
        self._lock = RunLock(self.dir)

    def __enter__(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        return self

    def __exit__(self, *exc):
        self._lock.release()
        shutil.rmtree(self.dir, ignore_errors=True)


def describe_worker(info: dict) -> str:
    where = f"pid {info.get('pid')} on {info.get('host')}"
    return where + (f" (Slurm job {info['slurm_job']})" if info.get("slurm_job") else "")


def _worker_alive(info: dict | None, started: datetime | None) -> bool:
    if not info:  # killed between creating the trial and recording its worker: judge by the trial's age
        return started is not None and (datetime.now() - started).total_seconds() < stale_after_s()
    return owner_alive(Path(info["dir"]))


def fail_stale_trials(study, study_dir: Path, retry: bool = True) -> list[int]:
    """Fail (and retry) the RUNNING trials of `study` whose worker is gone; return their numbers."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        info = trial.user_attrs.get("worker")
        if _worker_alive(info, trial.datetime_start):
            continue
        who = describe_worker(info) if info else "an unknown worker"
        reason = f"its worker, {who}, died during the trial (found by {describe_worker(_me())})"
        storage = study._storage
        try:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            storage.set_trial_user_attr(trial._trial_id, "stale", True)
            retried = retry and trial.user_attrs.get("retry_depth", 0) < MAX_RETRIES
            if retried:
                storage.set_trial_user_attr(trial._trial_id, "retried", True)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except (UpdateFinishedTrialError, RuntimeError):
            continue  # another worker got there first, or the trial just finished
        failed.append(trial.number)
        log.warning("trial %d: %s; marked failed%s", trial.number, reason, ", retrying it" if retried else "")
        if retried:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number,
                                                          "retry_depth": trial.user_attrs.get("retry_depth", 0) + 1})
    _clean_dead_workers(Path(study_dir))
    return failed


def _me() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "slurm_job": _slurm_job()}


def _clean_dead_workers(study_dir: Path, min_age_s: float = 60.0) -> None:
    """Remove the lock folders of dead workers (not brand-new ones, which may not hold their lock yet)."""
    root = study_dir / WORKERS
    if not root.is_dir():
        return
    now = time.time()
    for d in root.iterdir():
        try:
            if d.is_dir() and now - d.stat().st_mtime > min_age_s and not owner_alive(d):
                shutil.rmtree(d, ignore_errors=True)
        except FileNotFoundError:
            pass


def counted(study) -> int:
    """Trials that count against the budget: complete, pruned, and failed ones that were not retried."""
    return sum(counts(t) for t in study.get_trials(deepcopy=False))


def counts(trial) -> bool:
    """Whether one trial counts against the budget (see `counted`)."""
    from optuna.trial import TrialState

    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and not trial.user_attrs.get("retried"))
