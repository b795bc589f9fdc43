"""The sweep driver: expand, skip what is finished, launch the rest, watch the run folders until the
end, and summarise. The run folders are the source of truth, so the driver may die and be restarted at
any time: a re-run skips finished runs, resumes interrupted ones and leaves runs that another live
process holds to that process (watching them, and taking them over if their owner dies)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from ..errors import BenchSSLError
from ..launch import EXITED, QUEUED, RUNNING, Job, make_launcher
from ..results import failure_summary, run_status, write_manifest
from ..launch.command import launch_command
from ..launch.preflight import confirm_long_sweep, preflight
from .display import LiveView, format_counts, format_duration, format_table
from .expand import _ABSENT, SweepRun, expand, varying_keys
from .fusing import fused_groups
from .progress import Eta, read_progress
from .spec import SweepSpec


def _job(run: SweepRun, fused: list[SweepRun] = ()) -> Job:
    run_dir = run.run_dir.mkdir()
    train = run.config.train
    return Job(run.run_id, run_dir.path, run_dir.write_config(run.config), train.devices, train.nodes,
               tuple(_job(r) for r in fused))


def _jobs(runs: list[SweepRun], k: int) -> list[Job]:
    """One job per run, or per group of up to k runs trained as one fused model."""
    return [_job(group[0], group[1:]) for group in fused_groups(runs, k)]


def run_sweep(spec: SweepSpec, overrides: list[str] = (), dry_run: bool = False, retry_failed: bool = False,
              poll_s: float = 1.0, out=sys.stdout, err=sys.stderr, yes: bool = False) -> int:
    """Returns 0 when every run is done, 1 otherwise (failed, interrupted or cancelled runs remain).

    Before launching, `preflight` checks what every run needs (dataset, device, writable output with room for
    the checkpoints) and estimates the wall time; on a CPU a GPU-sized sweep asks first unless `yes`."""
    runs = expand(spec, overrides)
    for run in runs:  # absolute output paths: workers and Slurm jobs may start elsewhere
        run.config.output.root = str(Path(run.config.output.root).resolve())
    varying = varying_keys(runs)
    statuses = {r.run_id: run_status(r.run_dir, check_result=True) for r in runs}
    if dry_run:
        pending = [r for r in runs if statuses[r.run_id] == "pending" or (retry_failed and statuses[r.run_id] == "failed")]
        groups = [g for g in fused_groups(pending, spec.launcher.fuse_k()) if len(g) > 1]
        print(format_table(runs, statuses, varying, {r.run_id: f"g{i + 1}" for i, g in enumerate(groups) for r in g}),
              file=out)
        print(f"\n{len(runs)} runs: {format_counts(_count(statuses.values()))}", file=out)
        if groups:
            print(f"fused: {sum(map(len, groups))} of the runs to do train in {len(groups)} fused group(s) "
                  f"({', '.join(f'g{i + 1}: {len(g)}' for i, g in enumerate(groups))})", file=out)
        return 0
    sweep_dir = runs[0].run_dir.sweep_dir
    todo = [r for r in runs if statuses[r.run_id] == "pending" or (retry_failed and statuses[r.run_id] == "failed")]
    parallel = _parallel(spec, len(todo))
    finished = [r.run_dir.read_result() for r in runs if statuses[r.run_id] == "done"]
    estimate = preflight([r.config for r in todo], [r.run_id for r in todo], sweep_dir, parallel,
                         local=spec.launcher.name != "slurm", finished=finished)
    if estimate.run_s:
        print(f"estimate: about {format_duration(estimate.total_s(parallel))} for {len(todo)} run(s), {parallel} at a "
              f"time on {estimate.device} (from {estimate.source})", file=err)
        confirm_long_sweep(estimate, parallel, yes, profiles=spec.profiles, profile=spec.profile)
    try:
        write_manifest(sweep_dir, spec, runs, varying, launch_command("sweep", spec, list(overrides)))
    except BenchSSLError as exc:
        if todo:
            raise
        print(f"warning: {exc}", file=err)  # nothing to run (an archived, read-only sweep): report what is stored
    foreign = {r.run_id: r for r in runs if statuses[r.run_id] == "running"}
    skipped = sum(s == "done" for s in statuses.values())
    failed_kept = [r for r in runs if statuses[r.run_id] == "failed" and not retry_failed]
    launcher = make_launcher(spec.launcher.name, sweep_dir, spec.launcher, spec.slurm)
    eta = Eta(estimate.run_s, parallel)
    labels = {r.run_id: _label(r, varying) for r in runs}
    timed = set()
    live = LiveView(spec.name, len(runs), err)
    try:
        _sigterm_as_ctrl_c()  # before anything starts: a SIGTERM while launching cancels what was started
        print(f"sweep {spec.name}: {len(runs)} runs, {skipped} already done, {len(todo)} to run"
              + (f", {len(foreign)} running elsewhere" if foreign else "")
              + (f", {len(failed_kept)} failed before (--retry-failed re-runs them)" if failed_kept else "")
              + f"; launcher: {launcher.describe()}; results in {sweep_dir}", file=err)
        launcher.start(_jobs(todo, spec.launcher.fuse_k()))
        while True:
            lstates = launcher.states()
            for rid, run in list(foreign.items()):
                status = run_status(run.run_dir)
                if status == "pending":  # its owner died: ours now
                    launcher.start([_job(run)])
                    del foreign[rid]
                elif status != "running":
                    del foreign[rid]
            current = {}
            for r in runs:
                state = lstates.get(r.run_id)
                if state == QUEUED:
                    current[r.run_id] = "pending"
                elif state == RUNNING:
                    current[r.run_id] = "running"
                    eta.started_run(r.run_id)
                else:
                    current[r.run_id] = run_status(r.run_dir)
                    if state == EXITED and current[r.run_id] == "running":  # another driver's worker got it first:
                        foreign.setdefault(r.run_id, r)  # watch it to its end (and take it over if its owner dies)
                    if state == EXITED and r.run_id not in timed and current[r.run_id] == "done":
                        eta.finished_run(r.run_id)
                        timed.add(r.run_id)
            statuses = current
            running = {r.run_id: read_progress(r) for r in runs if statuses[r.run_id] == "running"}
            pending = [rid for rid, s in statuses.items() if s == "pending"]
            now = time.time()
            shown = {labels[rid]: (prog, prog.remaining_s(now, None)) for rid, prog in running.items()}
            live.update(_count(statuses.values()), eta.remaining_s(pending, running, now), shown)
            if not foreign and launcher.finished():
                break
            time.sleep(poll_s)
    except KeyboardInterrupt:
        live.close()
        _on_ctrl_c(launcher, err)
    live.close()
    statuses = {r.run_id: run_status(r.run_dir, check_result=True) for r in runs}
    return _summary(spec, runs, statuses, err)


def _sigterm_as_ctrl_c() -> None:
    """A driver told to stop (SIGTERM, e.g. by a job scheduler) cancels its runs like Ctrl-C does."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        pass


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


def _parallel(spec: SweepSpec, n: int) -> int:
    """Runs at once: the local launcher's workers (see local_slots), else max_parallel, at most the n to run."""
    if spec.launcher.name == "local":
        from ..launch.local import local_slots

        return max(1, min(local_slots(spec.launcher.max_parallel, spec.launcher.runs_per_gpu), n))
    return max(1, min(spec.launcher.max_parallel or n, n))


def _label(run: SweepRun, varying: list[str]) -> str:
    """The run id and its varying values, short: '3f2a9c1b0d4e temperature=0.2'."""
    values = [f"{k.rsplit('.', 1)[-1]}={_short(run.value(k))}" for k in varying if run.value(k) is not _ABSENT]
    text = " ".join([run.run_id, *values])
    return text if len(text) <= 60 else text[:59] + "…"


def _short(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _on_ctrl_c(launcher, err) -> None:
    states = [state for state in launcher.states().values() if state != EXITED]
    if not states:
        return
    what = f"{len(states)} run(s) ({states.count(RUNNING)} running, {states.count(QUEUED)} queued)"
    answer = "y"
    if sys.stdin.isatty():
        try:
            answer = input(f"\ncancel the {what} this sweep started? Running runs keep their last checkpoint. [y/N] ")
        except (EOFError, KeyboardInterrupt):
            answer = "y"
    if answer.strip().lower().startswith("y"):
        print(f"cancelling {what}...", file=err)
        launcher.cancel()
    else:
        print(f"leaving {what} to run; run the same sweep command again to watch them", file=err)


def _summary(spec: SweepSpec, runs: list[SweepRun], statuses: dict[str, str], err) -> int:
    counts = _count(statuses.values())
    print(f"sweep {spec.name}: {format_counts(counts)} (of {len(runs)})", file=err)
    for r in runs:
        run_dir = r.run_dir
        if statuses[r.run_id] == "failed":
            print(f"  failed  {r.run_id}: {failure_summary(run_dir)}  [{run_dir.traceback}]", file=err)
        elif statuses[r.run_id] == "pending":
            print(f"  not finished  {r.run_id}: interrupted or not started; run the sweep again to resume it", file=err)
        elif statuses[r.run_id] == "running":
            print(f"  running elsewhere  {r.run_id}", file=err)
        elif statuses[r.run_id] == "corrupt":
            print(f"  corrupt  {r.run_id}: {run_dir.result} does not parse; restore it, or move it aside to run the "
                  "run again (left as it is)", file=err)
    if counts.get("failed"):
        print("re-run the failed runs with --retry-failed once the cause is fixed", file=err)
    return 0 if counts.get("done", 0) == len(runs) else 1


__all__ = ["run_sweep"]
