"""The study driver: validate, open (or create) the study, start the workers, wait, write the report.

The storage is the source of truth: the driver may die and be restarted at any time. A re-run counts the
trials already in the study against the budget, fails (and retries) trials whose worker died, and runs
only what is missing.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

from ..config import load_config, run_id
from ..launch.command import launch_command
from ..errors import BenchSSLError, ConfigError, first_line
from .report import best_trial, write_report
from .spec import StudySpec, base_config, check_space, make_pruner, make_sampler
from .stale import WORKERS, counted, counts, fail_stale_trials
from .storage import open_storage, storage_url, write_study_json
from .worker import TuneWorker, WorkerPlan, work

log = logging.getLogger("bench_ssl.tune")

POLL_S = 1.0


def split(n: int, workers: int) -> list[int]:
    """n trials over `workers` workers, as even as possible."""
    return [n // workers + (i < n % workers) for i in range(workers)]


def state_counts(study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    return counts


def _fmt_counts(counts: dict[str, int]) -> str:
    order = ("complete", "pruned", "fail", "running", "waiting")
    return ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k)) or "none"


def prepare(spec: StudySpec, overrides: list[str] = (), launcher: str | None = None, storage: str | None = None):
    """Everything checked before a trial starts: the base config, every extreme of the space, the sampler
    and pruner arguments, the storage. Returns (base, study_dir, storage url)."""
    base = base_config(spec, overrides)
    check_space(spec, base)
    make_sampler(spec)
    make_pruner(spec)
    study_dir = Path(base["output"]["root"]) / spec.name
    launcher = launcher or spec.launcher.name
    url = storage_url(storage or spec.storage, study_dir, launcher)
    return base, study_dir, url


def tune(spec: StudySpec, overrides: list[str] = (), n_trials: int | None = None, workers: int | None = None,
         launcher: str | None = None, storage: str | None = None, out=None, err=None) -> int:
    """Run the study to its budget (`n_trials`, default budget.n_trials: the total number of trials the study
    should have). Returns 0 when done, 1 when workers failed or nothing completed, 130 when interrupted."""
    import optuna

    out, err = out or sys.stdout, err or sys.stderr
    base, study_dir, url = prepare(spec, overrides, launcher, storage)
    launcher = launcher or spec.launcher.name
    workers = workers or spec.launcher.workers
    target = n_trials or spec.budget.n_trials
    if launcher == "slurm" and url.startswith("sqlite:"):
        print("warning: SQLite on a shared filesystem is not safe for workers on several nodes; prefer --storage journal",
              file=err)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from ..launch.preflight import preflight

    base_cfg = load_config(base)  # what every trial shares (dataset, device, output) is checked once, before any trial
    preflight([base_cfg], [run_id(base_cfg)], study_dir, workers, local=launcher != "slurm", estimate_time=False)
    try:
        study = optuna.create_study(study_name=spec.name, storage=open_storage(url), direction="maximize",
                                    load_if_exists=True)
    except Exception as exc:
        why = _without_class(first_line(exc).removeprefix(f"storage {url}: "))  # open_storage's own error names it
        raise BenchSSLError(f"storage {url}: cannot open or create study {spec.name!r}: {why}; check that the URL is "
                            "right, its folder exists and is writable and its database driver is installed "
                            "(postgresql: psycopg2-binary, mysql: pymysql), or use --storage journal") from None
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ConfigError(f"study {spec.name!r} in {url} minimises; bench_ssl.tune maximises top-1 accuracy: use another name")
    with warnings.catch_warnings():  # experimental in Optuna 4: the objective's name for optuna-dashboard and plots
        warnings.simplefilter("ignore")
        study.set_metric_names([spec.objective])
    write_study_json(study_dir, {
        "name": spec.name, "file": str(spec.path) if spec.path else None, "description": spec.description,
        "storage": url, "objective": spec.objective, "direction": "maximize", "target": target,
        "sampler": {"name": spec.sampler.name, **spec.sampler.kwargs}, "pruner": {"name": spec.pruner.name, **spec.pruner.kwargs},
        "space": {p.key: p.describe() for p in spec.space}, "base": base,
        "command": launch_command("tune", spec, list(overrides)),
    })
    stale = fail_stale_trials(study, study_dir)
    if stale:
        print(f"trials left running by dead workers, failed and retried: {', '.join(map(str, stale))}", file=err)
    done = counted(study)
    elsewhere = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)))  # live workers' trials
    remaining = max(0, target - done - elsewhere)
    n_workers = min(workers, remaining) if remaining else 0
    print(f"study {spec.name}: {done} of {target} trials so far ({_fmt_counts(state_counts(study))}); "
          f"{remaining} to run on {n_workers or workers} {launcher} worker(s)"
          + (f" ({elsewhere} running in other workers)" if elsewhere else "") + f"; storage {url}", file=err)
    code = 0
    if remaining:
        plan = WorkerPlan(spec=spec, base=base, storage=url, study_dir=str(study_dir), target=target,
                          shares=split(remaining, n_workers), seed_offset=len(study.trials))
        try:
            if launcher == "slurm":
                code = _run_slurm(plan, spec, study, study_dir, err)
            elif n_workers == 1:
                code = 130 if work(plan, 0)["interrupted"] else 0
            else:
                code = _run_local(plan, study, study_dir, err)
        except KeyboardInterrupt:
            code = 130
        if code == 130:
            print("interrupted: the running trials checkpointed and were left for a retry; run the same command "
                  "again to resume the study", file=err)
    summarize(study, spec, err)
    report = write_report(study, spec, base, study_dir)
    best = best_trial(study)
    if best is None:
        print(f"study {spec.name}: no completed trial yet", file=out)
        return code or 1
    params = "  ".join(f"{p.key}={p.decode(best.params[p.key])!r}" for p in spec.space if p.key in best.params)
    print(f"best trial {best.number}: {spec.objective} {best.value:.4f}  {params}", file=out)
    print(f"  run {best.user_attrs.get('run_dir')}", file=out)
    if report["best_config"]:
        print(f"  config {report['best_config']}  (python -m bench_ssl.run {report['best_config']})", file=out)
    if report["figures"]:
        print(f"  figures: {', '.join(str(p) for _, p in report['figures'])}", file=err)
    return code


def summarize(study, spec: StudySpec, err) -> None:
    """One line per trial: number, state, value, params, and the reason of pruned and failed trials."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    print(f"study {spec.name}: {len(trials)} trials ({_fmt_counts(state_counts(study))})", file=err)
    for t in trials:
        value = f"{t.value:.4f}" if t.state == TrialState.COMPLETE and t.value is not None else "-"
        params = " ".join(f"{p.key}={json.dumps(p.decode(t.params[p.key]))}" for p in spec.space if p.key in t.params)
        reason = t.user_attrs.get("pruned_reason") or t.user_attrs.get("fail_reason") or ""
        extra = f"  reused run {t.user_attrs.get('run_id')}" if t.user_attrs.get("reused") else ""
        if t.user_attrs.get("retry_of") is not None:
            extra += f"  (retry of trial {t.user_attrs['retry_of']})"
        print(f"  {t.number:>4}  {t.state.name.lower():<8} {value:>7}  {params}{extra}{'  ' + reason if reason else ''}",
              file=err)


def _progress(study, last: str, err) -> str:
    line = _fmt_counts(state_counts(study))
    if line != last:
        print(f"  trials: {line}", file=err)
    return line


def _run_local(plan: WorkerPlan, study, study_dir: Path, err) -> int:
    """Several local worker processes on the same storage, watched: a worker that dies (killed, out of
    memory) is reaped at once, its trial is failed with the reason and retried, and a new worker takes over
    what the dead one had left of its share, so the invocation still ends with the study's budget."""
    (study_dir / WORKERS).mkdir(parents=True, exist_ok=True)
    from ..launch import gpu_count, share_cores

    gpus, n = gpu_count(), len(plan.shares)

    def start(i: int, plan: WorkerPlan) -> subprocess.Popen:
        env = dict(os.environ)
        if gpus:  # workers spread over the GPUs
            env["CUDA_VISIBLE_DEVICES"] = str(i % gpus)
        else:
            share_cores(env, n)
        proc = subprocess.Popen([sys.executable, "-m", "bench_ssl.tune.worker", str(i)], env=env, stdin=subprocess.PIPE)
        try:  # the plan goes through the pipe: no pickle in a shared folder for anyone to replace
            proc.stdin.write(pickle.dumps(plan))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        return proc

    procs = {i: start(i, plan) for i in range(n)}
    print(f"started {len(procs)} local workers: pids {', '.join(str(p.pid) for p in procs.values())}", file=err)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    last, codes, restarts = "", {}, dict.fromkeys(range(n), 0)
    try:
        while procs:
            time.sleep(POLL_S)
            for i, proc in list(procs.items()):
                code = proc.poll()  # reaps it: a dead worker must not linger as a zombie that looks alive
                if code is None:
                    continue
                del procs[i]
                if code in (0, 130):
                    codes[i] = code
                    continue
                replacement = _replace_dead_worker(plan, i, proc, code, study, study_dir, restarts[i], err)
                if replacement is None:
                    codes[i] = code
                else:
                    restarts[i] += 1
                    procs[i] = start(i, replacement)
                    print(f"  started worker {i} again (pid {procs[i].pid}) for its remaining {replacement.shares[i]} "
                          "trial(s)", file=err)
            last = _progress(study, last, err)
    except KeyboardInterrupt:
        for p in procs.values():  # each checkpoints its run and leaves a retry for the next invocation
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            p.wait()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    bad = {i: c for i, c in codes.items() if c != 0}
    return 0 if not bad else (130 if all(c == 130 for c in bad.values()) else 1)


MAX_WORKER_RESTARTS = 2  # a worker that keeps dying (e.g. out of memory on every trial) is not restarted forever


def _replace_dead_worker(plan: WorkerPlan, i: int, proc, code: int, study, study_dir: Path, restarts: int, err):
    """Fail the dead worker's trial (and enqueue its retry) now; return the plan of its replacement, or None."""
    import dataclasses

    from optuna.trial import TrialState

    why = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    stale = fail_stale_trials(study, study_dir)
    print(f"worker {i} (pid {proc.pid}) {why}" + (f"; its trial {', '.join(map(str, stale))} failed and is retried"
                                                   if stale else ""), file=err)
    trials = study.get_trials(deepcopy=False)
    mine = sum(counts(t) for t in trials if (t.user_attrs.get("worker") or {}).get("pid") == proc.pid)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    left = min(plan.shares[i] - mine, plan.target - counted(study) - running)
    if left <= 0:
        return None
    if restarts >= MAX_WORKER_RESTARTS:
        print(f"worker {i} died {restarts + 1} times; not restarting it ({left} trial(s) of the budget left: run the "
              "same command again to finish them)", file=err)
        return None
    shares = list(plan.shares)
    shares[i] = left
    return dataclasses.replace(plan, shares=shares, seed_offset=plan.seed_offset + len(trials))  # new draws


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _run_slurm(plan: WorkerPlan, spec: StudySpec, study, study_dir: Path, err) -> int:
    """One Slurm job array with a task per worker, submitted through submitit; waits for all of them."""
    from ..launch.submitit_launcher import SubmititLauncher

    n = len(plan.shares)
    launcher = SubmititLauncher(study_dir / ".submitit", "slurm", spec.slurm, max_parallel=n,
                                job_name=f"bench_ssl-tune-{spec.name}")
    jobs = launcher.executor.map_array(TuneWorker(), [plan] * n, list(range(n)))
    print(f"submitted {n} Slurm worker(s) as job array {jobs[0].job_id.split('_')[0]}", file=err)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    last = ""
    try:
        while not all(j.done() for j in jobs):
            time.sleep(POLL_S)
            last = _progress(study, last, err)
    except KeyboardInterrupt:
        print(f"cancelling the {n} Slurm worker(s); their runs checkpoint and are retried on the next invocation", file=err)
        for j in jobs:
            j.cancel(check=False)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    stale = fail_stale_trials(study, study_dir)  # a worker job that died (killed, node lost) leaves no RUNNING trial
    if stale:
        print(f"trials left running by dead Slurm workers, failed and retried next time: {', '.join(map(str, stale))}",
              file=err)
    code = 0
    for i, j in enumerate(jobs):
        try:
            summary = j.result()
            if summary.get("interrupted"):
                code = code or 130
        except Exception as exc:
            text = str(exc).strip().splitlines()
            print(f"worker {i} (Slurm job {j.job_id}) failed: {text[-1] if text else type(exc).__name__}", file=err)
            code = 1
    return code


def _without_class(text: str) -> str:
    """SQLAlchemy's message without its "(sqlalchemy.exc.OperationalError)" prefix."""
    import re

    return re.sub(r"^\([\w.]+\)\s*", "", text)
