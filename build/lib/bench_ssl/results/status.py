"""The state of a run folder, read from what the run leaves behind (no database to get out of sync)."""

from __future__ import annotations

from pathlib import Path

from ..errors import StoredFileError
from .lock import owner_alive
from .run_dir import RunDir

STATUSES = ("done", "failed", "running", "pending", "pruned", "corrupt")


def run_status(run_dir: Path | RunDir, check_result: bool = False) -> str:
    """done: result.json written; running: a live process holds the lock; failed: it raised (traceback.txt);
    pending: never started, or stopped without a result (killed, preempted, interrupted) and resumable;
    pruned: stopped early by an Optuna pruner (pruned.json, see `pruned_reason`); corrupt (only with
    `check_result`, which reads result.json): a result.json that does not parse, left as it is."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if run.result.exists():
        if check_result:
            try:
                run.read_result()
            except StoredFileError:
                return "corrupt"
        return "done"
    if owner_alive(run.path):
        return "running"
    if run.pruned.exists():
        return "pruned"
    if run.traceback.exists():
        return "failed"
    return "pending"


def pruned_reason(run_dir: Path | RunDir) -> str:
    """Why the pruner stopped the run (from pruned.json), or ''."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    info = run.read_json(run.pruned) or {}
    return str(info.get("reason", ""))


def failure_summary(run_dir: Path | RunDir) -> str:
    """The last line of the run's traceback: the exception and its message."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    try:
        lines = [line for line in run.traceback.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return ""
    return lines[-1].strip() if lines else ""
