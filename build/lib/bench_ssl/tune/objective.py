"""One Optuna trial = one run through the engine (`bench_ssl.run.run`), in `<output.root>/<study>/<run_id>/`.

The trial reports kNN top-1 at every evaluation epoch (`eval.knn_every`) and asks the pruner; a pruned run
keeps its checkpoint and gets `pruned.json` (status `pruned` in `bench_ssl.results`, with the reason). A
trial whose config was already run (same run id) replays that run's kNN curve to the pruner and then
reuses its result, or resumes its checkpoint; it never trains what is already trained.
"""

from __future__ import annotations

import functools
import logging
import math
import statistics
import time

from ..results.lock import RunLocked, owner_alive
from ..results.run_dir import RunDir
from .spec import StudySpec, trial_config

log = logging.getLogger("bench_ssl.tune")

LOCK_POLL_S = 1.0


@functools.cache
def _pruned_class():
    import optuna

    from ..errors import BenchSSLError

    class Pruned(optuna.TrialPruned, BenchSSLError):
        """Raised from on_epoch: Optuna sees a pruned trial, the engine an expected stop (no error logged)."""

    return Pruned


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__module__}.{type(exc).__name__}: {text[0] if text else ''}".removeprefix("builtins.")


class Objective:
    """Callable for `study.optimize`: samples the space, runs the config, returns the objective metric."""

    def __init__(self, spec: StudySpec, base: dict, worker: dict):
        self.spec = spec
        self.base = base
        self.worker = worker
        self.numbers: list[int] = []
        self.interrupted = False

    def __call__(self, trial) -> float:
        import optuna

        from ..run import run
        from ..train import interrupt

        pruned = _pruned_class()
        self.numbers.append(trial.number)
        trial.set_user_attr("worker", self.worker)
        params = {p.key: p.suggest(trial) for p in self.spec.space}
        try:
            cfg = trial_config(self.base, params)
        except Exception as exc:  # e.g. a value between valid extremes that the config rejects
            trial.set_user_attr("fail_reason", _one_line(exc))
            raise
        run_dir = RunDir.of(cfg).mkdir()
        rid = run_dir.name
        trial.set_user_attr("run_id", rid)
        trial.set_user_attr("run_dir", str(run_dir.path))
        self._record(run_dir, trial.number, params)
        reported: set[int] = set()

        def report(step: int, value: float, replay: bool = False) -> None:
            if step not in reported:
                trial.report(float(value), step)
                reported.add(step)
            # after the last epoch there is nothing left to save: the trial completes with its value
            if step < cfg.optim.epochs and trial.should_prune():
                raise pruned(self._reason(trial, step, value, cfg.optim.epochs, replay))

        def on_epoch(record: dict) -> None:
            if record.get("knn_top1") is not None:
                report(int(record["epoch"]), record["knn_top1"])

        reused = run_dir.result.exists()
        try:
            while True:
                for record in run_dir.read_metrics():
                    if record.get("knn_top1") is not None:  # an earlier trial's run of this config
                        if run_dir.result.exists():
                            if int(record["epoch"]) not in reported:
                                trial.report(float(record["knn_top1"]), int(record["epoch"]))
                                reported.add(int(record["epoch"]))
                        else:
                            report(int(record["epoch"]), record["knn_top1"], replay=True)
                run_dir.pruned.unlink(missing_ok=True)
                try:
                    result = run(cfg, on_epoch=on_epoch)
                    break
                except RunLocked:  # another worker runs this very config: wait, then reuse or resume it
                    log.info("trial %d: run %s is being run by another worker; waiting for it", trial.number, rid)
                    while owner_alive(run_dir.path):
                        time.sleep(LOCK_POLL_S)
        except optuna.TrialPruned as exc:
            if not owner_alive(run_dir.path):  # (pruned on a replay while another worker still runs it: its folder, not ours)
                run_dir.write_pruned({"study": self.spec.name, "trial": trial.number,
                                      "epoch": max(reported) if reported else None, "reason": str(exc)})
                run_dir.traceback.unlink(missing_ok=True)  # run() keeps a traceback of what ended it: not a failure
            trial.set_user_attr("pruned_reason", str(exc))
            log.info("trial %d %s", trial.number, exc)
            raise
        except interrupt.Interrupted as exc:  # SIGTERM/Ctrl-C/preemption: checkpointed; retried by the next worker
            self.interrupted = True
            trial.set_user_attr("fail_reason", f"interrupted: {exc}")
            trial.set_user_attr("retried", True)
            trial.study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            trial.study.stop()
            raise
        except Exception as exc:
            trial.set_user_attr("fail_reason", _one_line(exc))
            raise
        value = result.get(self.spec.objective)
        for key in ("knn_top1", "linear_top1", "linear_top5", "final_loss", "wall_time_s"):
            if result.get(key) is not None:
                trial.set_user_attr(key, result[key])
        trial.set_user_attr("reused", reused)
        if value is None or math.isnan(value):
            reason = (f"the run's result has no {self.spec.objective} (is its protocol in eval.protocols?)" if value is None
                      else f"{self.spec.objective} is NaN (the run diverged?)")
            trial.set_user_attr("fail_reason", reason)
            raise ValueError(reason)
        return float(value)

    def _record(self, run_dir: RunDir, number: int, params: dict) -> None:
        """trial.json in the run folder: which trials of which study ran (or reused) this config."""
        info = run_dir.read_json(run_dir.trial) or {"study": self.spec.name, "trials": [], "params": params}
        if number not in info["trials"]:
            info["trials"].append(number)
        run_dir.write_json(run_dir.trial, info)

    def _reason(self, trial, step: int, value: float, epochs: int, replay: bool) -> str:
        from optuna.trial import TrialState

        others = [t.intermediate_values[step] for t in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                  if step in t.intermediate_values]
        where = f"completed trials at epoch {step}: median {statistics.median(others):.4f}, best {max(others):.4f} (n={len(others)})" \
            if others else "no completed trial reached this epoch"
        how = " (replayed from an earlier run of the same config)" if replay else ""
        return (f"pruned at epoch {step}/{epochs} by the {self.spec.pruner.name} pruner: knn_top1 {value:.4f}; "
                f"{where}{how}")
