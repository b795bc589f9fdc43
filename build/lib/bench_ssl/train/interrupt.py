"""Graceful stops: a signal asks the training loop to checkpoint at the next step boundary and leave.

A signal handler may fire in the middle of an optimiser update, where saving would capture half-updated
weights, so it only raises a flag; the loop checks the flag after every step, saves a mid-epoch
checkpoint and raises `Interrupted`. Launchers then requeue (Slurm) or report the run as resumable.
"""

from __future__ import annotations

import contextlib
import signal

from ..errors import BenchSSLError

_requested: list[int] = []


class Interrupted(BenchSSLError):
    """Training stopped on request after saving a checkpoint; running the same config again resumes it."""


def request_stop(signum: int = signal.SIGTERM, frame=None) -> None:
    _requested.append(signum)


def stop_requested() -> int | None:
    """The signal that asked to stop, or None."""
    return _requested[-1] if _requested else None


def clear() -> None:
    _requested.clear()


@contextlib.contextmanager
def stop_on(*signals: int):
    """Within the block, each of `signals` requests a graceful stop; a second SIGINT interrupts at once."""
    previous = {}

    def handler(signum, frame):
        if signum == signal.SIGINT and stop_requested() == signal.SIGINT:
            raise KeyboardInterrupt
        request_stop(signum, frame)

    try:
        for sig in signals:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: signals cannot be caught here, run without graceful stops
        pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
