"""The state of a run folder, read from what the run leaves behind (no database to get out of sync)."""

from __future__ import annotations

import json
from pathlib import Path

from .lock import owner_alive

RESULT = "result.json"
TRACEBACK = "traceback.txt"
PRUNED = "pruned.json"  # written by bench_ssl.tune when an Optuna pruner stopped the run: {"reason": ..., ...}
STATUSES = ("done", "failed", "running", "pending", "pruned")


def run_status(run_dir: Path) -> str:
    """done: result.json written; running: a live process holds the lock; failed: it raised (traceback.txt);
    pending: never started, or stopped without a result (killed, preempted, interrupted) and resumable;
    pruned: stopped early by an Optuna pruner (pruned.json, see `pruned_reason`)."""
    run_dir = Path(run_dir)
    if (run_dir / RESULT).exists():
        return "done"
    if owner_alive(run_dir):
        return "running"
    if (run_dir / PRUNED).exists():
        return "pruned"
    if (run_dir / TRACEBACK).exists():
        return "failed"
    return "pending"


def pruned_reason(run_dir: Path) -> str:
    """Why the pruner stopped the run (from pruned.json), or ''."""
    try:
        return str(json.loads((Path(run_dir) / PRUNED).read_text()).get("reason", ""))
    except (FileNotFoundError, json.JSONDecodeError):
        return ""


def failure_summary(run_dir: Path) -> str:
    """The last line of the run's traceback: the exception and its message."""
    try:
        lines = [line for line in (Path(run_dir) / TRACEBACK).read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return ""
    return lines[-1].strip() if lines else ""
