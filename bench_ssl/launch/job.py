"""The function a submitit job runs: one run, with preemption and time limits turned into requeues.

submitit signals an imminent preemption or time limit with USR2 (Slurm's `--signal`, sent
`signal_delay_s` before the end). Our handler only asks the training loop to stop at its next step
boundary with a checkpoint; then submitit's own handler requeues the job, and the requeued job calls
`run` again, which resumes from that checkpoint. A plain SIGTERM (scancel, or the first signal of a
preemption) also checkpoints; the job is requeued only if USR2 follows within a few seconds, so a
cancelled run stays cancelled.
"""

from __future__ import annotations

import signal
import time

import submitit

from ..results.lock import RunLocked
from ..run import run
from ..train import interrupt

USR2_GRACE_S = 5.0


class RunJob(submitit.helpers.Checkpointable):
    """Callable submitted to submitit: RunJob()(config_path) -> a short summary of the run."""

    def __call__(self, config_path: str) -> dict:
        submitit_handler = signal.getsignal(signal.SIGUSR2)
        got_usr2: list[int] = []

        def on_usr2(signum, frame):
            got_usr2.append(signum)
            interrupt.request_stop(signum, frame)

        signal.signal(signal.SIGUSR2, on_usr2)
        try:
            result = run(config_path)
        except RunLocked as exc:
            return {"status": "running elsewhere", "error": str(exc)}
        except interrupt.Interrupted:
            deadline = time.time() + USR2_GRACE_S
            while not got_usr2 and time.time() < deadline:
                time.sleep(0.1)
            if got_usr2 and callable(submitit_handler):
                signal.signal(signal.SIGUSR2, submitit_handler)
                submitit_handler(signal.SIGUSR2, None)  # checkpoint() below, requeue, exit
            raise
        finally:
            signal.signal(signal.SIGUSR2, submitit_handler)
        return {"status": "done", "run_id": result["run_id"], "knn_top1": result["knn_top1"],
                "linear_top1": result["linear_top1"]}

    def checkpoint(self, config_path: str) -> submitit.helpers.DelayedSubmission:
        """The run's own checkpoint is on disk already: requeue the same call, which resumes it."""
        return submitit.helpers.DelayedSubmission(self, config_path)
