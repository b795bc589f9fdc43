"""A worker: `study.optimize` against the shared storage until the study has its budget of trials.

Workers run in the driver's process (one local worker), as `python -m bench_ssl.tune.worker PAYLOAD INDEX`
subprocesses (several local workers) or as tasks of a Slurm job array submitted with submitit.
"""

from __future__ import annotations

import logging
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import submitit

log = logging.getLogger("bench_ssl.tune")


@dataclass
class WorkerPlan:
    """Everything a worker needs, picklable: the study, its resolved base config and where it is stored."""

    spec: object  # StudySpec
    base: dict
    storage: str
    study_dir: str
    target: int  # the study's budget of trials (see stale.counted)
    shares: list[int]  # trials each worker runs at most
    seed_offset: int  # workers and invocations draw different sampler sequences


def work(plan: WorkerPlan, index: int) -> dict:
    """Run up to plan.shares[index] trials; stop early once the study has plan.target trials."""
    import optuna

    from .objective import Objective
    from .spec import make_pruner, make_sampler
    from .stale import WorkerLock, counted, fail_stale_trials
    from .storage import open_storage

    spec, study_dir = plan.spec, Path(plan.study_dir)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are logged below, with their reason
    with WorkerLock(study_dir) as lock:
        study = optuna.load_study(study_name=spec.name, storage=open_storage(plan.storage),
                                  sampler=make_sampler(spec, plan.seed_offset + 7919 * index), pruner=make_pruner(spec))
        fail_stale_trials(study, study_dir)
        objective = Objective(spec, plan.base, lock.info)
        share = plan.shares[index]

        def between_trials(study, trial) -> None:
            _log_trial(spec, trial)
            fail_stale_trials(study, study_dir)
            if counted(study) >= plan.target:
                study.stop()

        if share > 0 and counted(study) < plan.target:
            timeout = spec.budget.timeout_min * 60 if spec.budget.timeout_min else None
            study.optimize(objective, n_trials=share, timeout=timeout, catch=(Exception,), callbacks=[between_trials],
                           gc_after_trial=False)
    return {"worker": index, "trials": objective.numbers, "interrupted": objective.interrupted}


def _log_trial(spec, trial) -> None:
    from optuna.trial import TrialState

    if trial.state == TrialState.COMPLETE:
        reused = " (reused its run's result)" if trial.user_attrs.get("reused") else ""
        log.info("trial %d complete: %s %.4f, run %s%s", trial.number, spec.objective, trial.value,
                 trial.user_attrs.get("run_id"), reused)
    elif trial.state == TrialState.FAIL:
        log.warning("trial %d failed: %s", trial.number, trial.user_attrs.get("fail_reason", "see the log above"))


class TuneWorker(submitit.helpers.Checkpointable):
    """Callable submitted to submitit (one task of the job array per worker).

    A preemption or time limit (USR2) stops the running trial at its next step with a checkpoint; the trial
    is failed, a retry is enqueued, and the job requeues itself: the requeued worker (or another one) runs the
    retry, which resumes from the checkpoint.
    """

    def __call__(self, plan: WorkerPlan, index: int) -> dict:
        from ..launch.preempt import usr2_requeues

        with usr2_requeues() as usr2:
            summary = work(plan, index)
            if summary["interrupted"]:
                usr2.requeue_if_usr2()  # on USR2: checkpoint() below, requeue, exit
            return summary

    def checkpoint(self, plan: WorkerPlan, index: int) -> submitit.helpers.DelayedSubmission:
        return submitit.helpers.DelayedSubmission(self, plan, index)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench_ssl.tune.worker INDEX < PLAN`: one local worker process of the driver, which writes the
    pickled plan to its stdin (never to a file another user could replace)."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    plan = pickle.loads(sys.stdin.buffer.read())
    summary = work(plan, int(args[0]))
    return 130 if summary["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
