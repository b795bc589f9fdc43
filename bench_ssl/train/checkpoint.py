"""Checkpoints that let a crashed, preempted or interrupted run continue exactly where it stopped.

Besides weights and optimiser state they hold every random generator and the position inside the
epoch (with the order generator's state at the epoch's start, to replay its permutation), so the
resumed run draws the same batches and augmentations as an uninterrupted one and ends on the same weights.
"""

from __future__ import annotations

import io
import logging
import pickle
from pathlib import Path

import torch

from ..errors import StoredFileError
from ..output import atomic_write_bytes
from ..results.run_dir import RunDir

log = logging.getLogger("bench_ssl.train")
CHECKPOINT = RunDir.CHECKPOINT


def random_state(generators: dict) -> dict:
    """Every random stream of this process: the run's named generators and torch's global ones."""
    return {
        "generators": {name: g.get_state() for name, g in generators.items()},
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def save_checkpoint(run_dir: Path | RunDir, run_id: str, *, method, optimizer, generators: dict, progress: dict,
                    ranks: list[dict] | None = None) -> None:
    """`progress`: epoch (completed), step (global), batch (done in the current epoch) and, mid-epoch,
    order_epoch_start and partial (loss_sum, seconds). `ranks`: in a run of several ranks, each rank's
    `random_state` (its augmentation stream is its own), which rank 0 writes for all."""
    state = {"run_id": run_id, "progress": progress, "model": _own(method.state_dict()),
             "optimizer": optimizer.state_dict(), **random_state(generators)}
    if ranks is not None:
        state["ranks"] = ranks
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(_run(run_dir).checkpoint, buf.getvalue())


def _own(state: dict) -> dict:
    """Tensors that are views of a larger storage (a run trained fused with others holds its block of the fused
    weights) copied out, so the file holds this run's numbers only: torch.save writes a view's whole storage."""
    return {k: v.clone() if isinstance(v, torch.Tensor) and v.untyped_storage().nbytes() > v.numel() * v.element_size()
            else v for k, v in state.items()}


def _run(run_dir) -> RunDir:
    return run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)


def load_checkpoint(run_dir: Path | RunDir, run_id: str, *, method, optimizer, generators: dict,
                    rank: int = 0) -> dict | None:
    """Restore state in place and return the saved progress, or None when there is no usable checkpoint.
    `rank`: in a run of several ranks, whose random streams to restore (the weights are everyone's).

    Loaded with `weights_only=True`, so a file planted in a shared results folder cannot run code: one that
    holds other Python objects is refused (StoredFileError; `--force` starts the run over). A file that is
    plainly not ours (not a torch file, not a checkpoint, another run's) is moved aside, never deleted, and the
    run starts from scratch."""
    run = _run(run_dir)
    path = run.checkpoint
    if not path.exists():
        return None
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise StoredFileError(f"cannot read {path}: {exc.strerror or exc}; fix its permissions") from None
    if magic[:2] != _ZIP and magic[:1] != _PICKLE:  # torch.save writes a zip (or, long ago, a pickle)
        return _aside(run, path, "is not a torch file (written by another program?)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            return _aside(run, path, f"does not load ({_first_line(exc)})")
        raise StoredFileError(
            f"{path} holds Python objects that loading would execute, so it is not loaded (a bench_ssl checkpoint holds "
            "only tensors and numbers); delete it if you do not trust it, or re-run with --force to start the run over"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a torn or foreign torch file
        return _aside(run, path, f"does not load ({type(exc).__name__}: {_first_line(exc)})")
    if not isinstance(state, dict) or not {"run_id", "progress", "model", "optimizer"} <= set(state):
        return _aside(run, path, "is a torch file but not a bench_ssl checkpoint")
    if state["run_id"] != run_id:
        return _aside(run, path, f"is the checkpoint of another run ({state['run_id']})")
    if rank and len(state.get("ranks") or []) <= rank:
        raise StoredFileError(f"{path} holds no random state for rank {rank} (written by a run of fewer ranks); "
                              "re-run with --force to start the run over")
    method.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    streams = {**state["generators"], **state["ranks"][rank]["generators"]} if rank else state["generators"]
    for name, g in generators.items():
        g.set_state(streams[name])
    own = state["ranks"][rank] if rank else state
    torch.set_rng_state(own["torch_rng"])
    if own["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(own["cuda_rng"])
    return state["progress"]


_ZIP, _PICKLE = b"PK", b"\x80"


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _aside(run: RunDir, path: Path, why: str) -> None:
    aside = run.move_aside(path, why)
    log.warning("%s %s; moved it to %s and starting the run from scratch", path, why, aside.name)
    return None
