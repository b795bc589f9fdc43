"""Preemption and time limits under submitit, turned into a checkpoint and a requeue.

submitit signals an imminent preemption or time limit with USR2 (Slurm's `--signal`, sent `signal_delay_s`
before the end). Within `usr2_requeues()` our handler only asks the training loop to stop at its next step
boundary with a checkpoint; once the work has stopped, `requeue_if_usr2()` hands over to submitit's own
handler, which calls the job's `checkpoint()` and requeues it. A plain SIGTERM (scancel, or the first signal
of a preemption) also checkpoints; the job is requeued only if USR2 follows within a few seconds, so a
cancelled job stays cancelled.
"""

from __future__ import annotations

import contextlib
import signal
import time

from ..train import interrupt

USR2_GRACE_S = 5.0


class _Usr2:
    def __init__(self, submitit_handler):
        self.submitit_handler = submitit_handler
        self.received = False

    def __call__(self, signum, frame) -> None:
        self.received = True
        interrupt.request_stop(signum, frame)

    def requeue_if_usr2(self) -> None:
        """Call after the work stopped early: wait briefly for USR2, and if it came, requeue (submitit exits)."""
        deadline = time.time() + USR2_GRACE_S
        while not self.received and time.time() < deadline:
            time.sleep(0.1)
        if self.received and callable(self.submitit_handler):
            signal.signal(signal.SIGUSR2, self.submitit_handler)
            self.submitit_handler(signal.SIGUSR2, None)


@contextlib.contextmanager
def usr2_requeues():
    """Within the block USR2 requests a graceful stop; yields the handler (see `requeue_if_usr2`)."""
    handler = _Usr2(signal.getsignal(signal.SIGUSR2))
    signal.signal(signal.SIGUSR2, handler)
    try:
        yield handler
    finally:
        signal.signal(signal.SIGUSR2, handler.submitit_handler)
