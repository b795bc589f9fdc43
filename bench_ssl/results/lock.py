"""One owner per run folder at a time, and detection of owners that died without cleaning up.

The lock file holds its owner (host, pid, Slurm job) and a unique token. It is created whole and atomically:
written to a private name, then hard-linked to `lock`, which fails when a lock exists (atomic also on NFS);
so a lock is never empty, also on a full disk. A heartbeat thread refreshes its mtime. An owner is gone
when, on the same host, its pid is dead (or a zombie); on another host, when its heartbeat is older than
`BENCH_SSL_STALE_AFTER_S` (120 s); or when it is an earlier incarnation of the same Slurm job (a requeue).

A gone owner's lock is taken over, and that is correct under any interleaving: a taker first claims the
takeover of that very lock, `lock.takeover.<token>` (created the same way, so one taker per dead lock),
then checks that `lock` still holds the dead token before removing it, and then competes for a new lock
like anyone else. Nobody else changes a lock whose owner is dead, so the check cannot go stale. A taker
killed while claiming leaves a takeover file with its own owner, which is itself taken over the same way.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from ..errors import BenchSSLError
from .run_dir import RunDir

LOCK = RunDir.LOCK
HEARTBEAT_S = 15.0  # defaults of BENCH_SSL_HEARTBEAT_S and BENCH_SSL_STALE_AFTER_S
STALE_AFTER_S = 120.0
BUSY_WAIT_S = 30.0  # how long to wait for another taker's takeover (milliseconds of work) before giving up


def _seconds(name: str, default: float) -> float:
    """A duration from the environment (read when used, so a bad value is one error line, not an import failure)."""
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise BenchSSLError(f"{name}={text!r} is not a positive number of seconds; set it to e.g. {default:g} "
                            f"(the default) or unset it")
    return value


def heartbeat_s() -> float:
    return _seconds("BENCH_SSL_HEARTBEAT_S", HEARTBEAT_S)


def stale_after_s() -> float:
    """A lock whose heartbeat is older than this, written on another host, has a dead owner."""
    return _seconds("BENCH_SSL_STALE_AFTER_S", STALE_AFTER_S)


class RunLocked(BenchSSLError):
    """Another live process is running this run right now."""


def _pause(point: str, path: Path) -> None:
    """A seam for tests: called at each step of a takeover, so a test can interleave takers deterministically."""


def _slurm_job() -> str | None:
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{job}_{task}" if job and task else job


def _owner() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "slurm_job": _slurm_job(), "since": time.time(),
            "token": uuid.uuid4().hex}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (dead, not yet reaped by its parent) still answers kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _read(path: Path) -> tuple[dict | None, str | None]:
    """(owner, identity) of a lock file; identity is its token (a hash of its bytes for locks without one);
    (None, None) when there is no such file."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except OSError:
        return None, "unreadable"
    try:
        owner = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        owner = None
    if not isinstance(owner, dict):
        owner = None
    token = owner.get("token") if owner else None
    return owner, str(token) if token else hashlib.sha1(data).hexdigest()[:16]


def read_owner(run_dir: Path) -> dict | None:
    return _read(Path(run_dir) / LOCK)[0]


def _alive(path: Path, owner: dict | None) -> bool:
    if owner is None:  # an empty or garbled lock (older versions wrote it in two steps): judge by its age
        try:
            return time.time() - path.stat().st_mtime < stale_after_s()
        except (FileNotFoundError, NotADirectoryError):
            return False
    me = _owner()
    if owner.get("slurm_job") and owner["slurm_job"] == me["slurm_job"] and owner.get("pid") != me["pid"]:
        return False  # the same Slurm job, requeued: its previous incarnation is gone
    if owner.get("host") == me["host"]:
        try:
            return _pid_alive(int(owner.get("pid", -1)))
        except (TypeError, ValueError):
            return False
    try:
        return time.time() - path.stat().st_mtime < stale_after_s()
    except (FileNotFoundError, NotADirectoryError):
        return False


def owner_alive(run_dir: Path, owner: dict | None = None) -> bool:
    """Whether the lock of run_dir belongs to a live process (False when there is no lock)."""
    path = Path(run_dir) / LOCK
    if owner is None:
        owner, ident = _read(path)
        if ident is None:
            return False
    return _alive(path, owner)


def _describe(owner: dict | None) -> str:
    if not owner:
        return "another process"
    where = f"pid {owner.get('pid')} on {owner.get('host')}"
    return where + (f" (Slurm job {owner['slurm_job']})" if owner.get("slurm_job") else "")


def _create(path: Path, owner: dict) -> bool:
    """Create `path` holding `owner`, whole, only if it does not exist. False when it exists; OSError (disk
    full, read-only) when it cannot be written, leaving nothing behind."""
    tmp = path.with_name(f".{path.name}.{owner['token']}")
    try:
        with open(tmp, "x") as f:
            json.dump(owner, f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:  # a file system without hard links: exclusive create, then write
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            return _create_without_link(path, owner)
        return True
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass


def _create_without_link(path: Path, owner: dict) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(owner, f)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    return True


def _take_over(path: Path, dead: str, depth: int = 0) -> None:
    """Remove `path` if it still holds the lock identified by `dead` (whose owner is gone). Safe against
    any number of concurrent takers: only the one holding `path.takeover.<dead>` may remove it."""
    guard = path.with_name(f"{path.name}.takeover.{dead}")
    me = _owner()
    if not _create(guard, me):  # another taker is at it (or died at it)
        owner, ident = _read(guard)
        if ident is not None and not _alive(guard, owner) and depth < 3:
            _take_over(guard, ident, depth + 1)
        return
    try:
        _pause("claimed", path)
        if _read(path)[1] == dead:
            _pause("checked", path)
            path.unlink(missing_ok=True)
    finally:
        if _read(guard)[1] == me["token"]:
            guard.unlink(missing_ok=True)


def _unwritable(path: Path, exc: OSError) -> BenchSSLError:
    return BenchSSLError(f"cannot create the run lock {path}: {exc.strerror or exc}; free disk space or make the "
                         "folder writable, or point output.root elsewhere (finished results are kept)")


class RunLock:
    """Context manager: hold run_dir's lock (with a heartbeat) for the duration of the block."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.owner: dict | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        self._every = heartbeat_s()  # a bad setting stops here, before any lock exists
        stale_after_s()
        deadline = time.monotonic() + BUSY_WAIT_S
        while True:
            owner = _owner()
            try:
                created = _create(self.path, owner)
            except OSError as exc:
                raise _unwritable(self.path, exc) from None
            if created:
                self.owner = owner
                self._thread = threading.Thread(target=self._beat, name="bench_ssl-heartbeat", daemon=True)
                self._thread.start()
                return
            held, ident = _read(self.path)
            if ident is None:
                continue  # released just now: try again
            if _alive(self.path, held):
                raise RunLocked(f"run {self.path.parent} is being run by {_describe(held)}; wait for it, or delete "
                                f"{self.path} if that process is gone")
            _pause("judged_dead", self.path)
            try:
                _take_over(self.path, ident)
            except OSError as exc:
                raise _unwritable(self.path, exc) from None
            if time.monotonic() > deadline:
                raise RunLocked(f"could not take the lock {self.path} of a dead owner: another process keeps "
                                f"taking it over; delete {self.path} and {self.path}.takeover.* if no process runs it")
            time.sleep(0.01)

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self.owner is not None and _read(self.path)[1] == self.owner["token"]:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass
        self.owner = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
