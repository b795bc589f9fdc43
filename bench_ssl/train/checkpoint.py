"""Checkpoints that let a crashed, preempted or interrupted run continue exactly where it stopped.

Besides weights and optimiser state they hold every random generator and the position inside the
epoch (with the order generator's state at the epoch's start, to replay its permutation), so the
resumed run draws the same batches and augmentations as an uninterrupted one and ends on the same weights.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import torch

from ..output import atomic_write_bytes
from ..results.run_dir import RunDir

log = logging.getLogger("bench_ssl.train")
CHECKPOINT = RunDir.CHECKPOINT


def save_checkpoint(run_dir: Path | RunDir, run_id: str, *, method, optimizer, generators: dict, progress: dict) -> None:
    """`progress`: epoch (completed), step (global), batch (done in the current epoch) and, mid-epoch,
    order_epoch_start and partial (loss_sum, seconds)."""
    state = {
        "run_id": run_id,
        "progress": progress,
        "model": method.state_dict(),
        "optimizer": optimizer.state_dict(),
        "generators": {name: g.get_state() for name, g in generators.items()},
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(_run(run_dir).checkpoint, buf.getvalue())


def _run(run_dir) -> RunDir:
    return run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)


def load_checkpoint(run_dir: Path | RunDir, run_id: str, *, method, optimizer, generators: dict) -> dict | None:
    """Restore state in place and return the saved progress, or None when there is no usable checkpoint."""
    path = _run(run_dir).checkpoint
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a torn or foreign file: start over rather than crash
        log.warning("ignoring unreadable checkpoint %s (%s); starting from scratch", path, exc)
        return None
    if state.get("run_id") != run_id or "progress" not in state:
        log.warning("ignoring checkpoint %s of another run (%s); starting from scratch", path, state.get("run_id"))
        return None
    method.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    for name, g in generators.items():
        g.set_state(state["generators"][name])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["progress"]
