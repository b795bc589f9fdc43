"""One owner per run folder at a time, and detection of owners that died without cleaning up.

The lock is a file created with O_EXCL (atomic, also on NFS) holding the owner's host, pid and Slurm job;
a heartbeat thread refreshes its mtime. An owner is gone when, on the same host, its pid is dead; on
another host, when its heartbeat is older than `STALE_AFTER_S`; or when it is an earlier incarnation of
the same Slurm job (a requeue). A gone owner's lock is taken over, so a killed run is resumed.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

from ..errors import BenchSSLError
from .run_dir import RunDir

LOCK = RunDir.LOCK
HEARTBEAT_S = float(os.environ.get("BENCH_SSL_HEARTBEAT_S", 15))
STALE_AFTER_S = float(os.environ.get("BENCH_SSL_STALE_AFTER_S", 120))


class RunLocked(BenchSSLError):
    """Another live process is running this run right now."""


def _slurm_job() -> str | None:
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{job}_{task}" if job and task else job


def _owner() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "slurm_job": _slurm_job(), "since": time.time()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_owner(run_dir: Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / LOCK).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def owner_alive(run_dir: Path, owner: dict | None = None) -> bool:
    """Whether the lock of run_dir belongs to a live process (False when there is no lock)."""
    path = Path(run_dir) / LOCK
    owner = owner or read_owner(run_dir)
    if owner is None:
        try:  # a lock being written right now (empty), or unreadable: judge by its age
            return time.time() - path.stat().st_mtime < STALE_AFTER_S
        except FileNotFoundError:
            return False
    me = _owner()
    if owner.get("slurm_job") and owner["slurm_job"] == me["slurm_job"] and owner.get("pid") != me["pid"]:
        return False  # the same Slurm job, requeued: its previous incarnation is gone
    if owner.get("host") == me["host"]:
        return _pid_alive(int(owner.get("pid", -1)))
    try:
        return time.time() - path.stat().st_mtime < STALE_AFTER_S
    except FileNotFoundError:
        return False


class RunLock:
    """Context manager: hold run_dir's lock (with a heartbeat) for the duration of the block."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = read_owner(self.path.parent)
                if owner_alive(self.path.parent, owner):
                    where = f"pid {owner.get('pid')} on {owner.get('host')}" if owner else "another process"
                    if owner and owner.get("slurm_job"):
                        where += f" (Slurm job {owner['slurm_job']})"
                    raise RunLocked(f"run {self.path.parent} is being run by {where}; wait for it, or delete {self.path} if that process is gone") from None
                self._break_stale()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(_owner(), f)
            self._thread = threading.Thread(target=self._beat, name="bench_ssl-heartbeat", daemon=True)
            self._thread.start()
            return
        raise RunLocked(f"could not take the lock {self.path}: other processes keep taking it")

    def _break_stale(self) -> None:
        """Move the dead owner's lock aside; only one of several racing takers succeeds in the rename."""
        aside = self.path.with_name(f"{LOCK}.stale.{os.getpid()}")
        try:
            os.rename(self.path, aside)
            aside.unlink(missing_ok=True)
        except FileNotFoundError:
            pass

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except FileNotFoundError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        owner = read_owner(self.path.parent)
        if owner and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
            self.path.unlink(missing_ok=True)

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
