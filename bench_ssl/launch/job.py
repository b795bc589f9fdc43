"""The function a submitit job runs: one run, with preemption and time limits turned into requeues
(see `preempt`): the requeued job calls `run` again, which resumes from the run's checkpoint. In a job of
several tasks each task is one rank of the run (submitit's TorchDistributedEnvironment)."""

from __future__ import annotations

import submitit

from ..results.lock import RunLocked
from ..run import run
from ..train import interrupt
from .preempt import usr2_requeues


class RunJob(submitit.helpers.Checkpointable):
    """Callable submitted to submitit: RunJob()(config_path) -> a short summary of the run."""

    def __call__(self, config_path: str | list[str]) -> dict:
        if isinstance(config_path, list):  # a fused group: one process, several runs
            return self.fused(config_path)
        env = submitit.JobEnvironment()
        if env.num_tasks > 1:  # a run of several ranks: this task is one, torchrun's variables say which
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
        with usr2_requeues() as usr2:
            try:
                result = run(config_path)
            except RunLocked as exc:
                return {"status": "running elsewhere", "error": str(exc)}
            except interrupt.Interrupted:
                if env.global_rank:  # rank 0 requeues the job (all its tasks); the others just end
                    return {"status": "stopped", "rank": env.global_rank}
                usr2.requeue_if_usr2()  # on USR2: checkpoint() below, requeue, exit
                raise
        if not result:
            return {"status": "done", "rank": env.global_rank}
        return {"status": "done", "run_id": result["run_id"], "knn_top1": result.get("knn_top1"),
                "linear_top1": result.get("linear_top1")}  # a protocol left out of eval.protocols has no metric

    def fused(self, config_paths: list[str]) -> dict:
        from ..fused.run import run_fused

        with usr2_requeues() as usr2:
            try:
                results = run_fused(config_paths)
            except interrupt.Interrupted:
                usr2.requeue_if_usr2()
                raise
        return {"status": "done", "runs": [{"run_id": r.get("run_id"), "status": r.get("status", "done")}
                                           for r in results]}

    def checkpoint(self, config_path: str | list[str]) -> submitit.helpers.DelayedSubmission:
        """The run's own checkpoint is on disk already: requeue the same call, which resumes it."""
        return submitit.helpers.DelayedSubmission(self, config_path)
