"""Where this process stands in a run over several ranks, and the process group that joins them.

A rank learns its place from torchrun's environment contract (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT): `launch.py` sets it for the ranks it starts, torchrun sets it itself, and submitit's
TorchDistributedEnvironment exports it in a Slurm task. The rendezvous has its own timeout, so a rank that
cannot reach the others fails in one line instead of hanging.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta

from ..errors import BenchSSLError, first_line

COLLECTIVE_TIMEOUT_S = 1800.0  # torch's default: rank 0 may run the kNN monitor or save while the others wait
FINISHED = "bench_ssl/finished"  # the store key rank 0 sets once the run's result is written
_store = []  # the rendezvous store of this process's group (kept: the ranks meet there once more at the end)


class DistributedError(BenchSSLError):
    """The ranks of a run cannot start or lost each other."""


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one rank that writes the run folder and evaluates."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def env_world() -> World | None:
    """This process's place from torchrun's variables, or None outside a launch of several ranks."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return None
    return World(int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0")))


def world() -> World:
    """This process's place in the initialised process group; rank 0 of 1 when there is none."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return World()


def init_process_group(device_type: str, timeout_s: float) -> World:
    """Join the ranks named by the environment (NCCL on CUDA, gloo on CPU); a rank that cannot reach the
    rendezvous at MASTER_ADDR:MASTER_PORT within `timeout_s` raises DistributedError."""
    import torch
    import torch.distributed as dist

    w = env_world()
    if w is None:
        raise DistributedError("no rank environment (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT): start the run "
                               "with python -m bench_ssl.run, torchrun or the sweep's launchers")
    if dist.is_initialized():
        return world()
    addr, port = os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ.get("MASTER_PORT", "29500"))
    try:
        # under torchrun the agent already serves the store on MASTER_PORT (and has gathered the ranks): every rank
        # joins it as a client; otherwise rank 0 serves it and every rank counts itself in, and waits for the rest
        own = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True"
        store = dist.TCPStore(addr, port, w.size, is_master=own and w.rank == 0, timeout=timedelta(seconds=timeout_s),
                              wait_for_workers=own)
        _store[:] = [store]
        if device_type == "cuda":
            torch.cuda.set_device(w.local_rank)
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo", store=store, rank=w.rank,
                                world_size=w.size, timeout=timedelta(seconds=max(timeout_s, COLLECTIVE_TIMEOUT_S)))
    except (RuntimeError, TimeoutError, OSError) as exc:
        first = first_line(exc)
        raise DistributedError(
            f"rank {w.rank} of {w.size} could not reach the other ranks at {addr}:{port} within {timeout_s:g} s "
            f"({first[:200]}); check that every rank started and can reach {addr}:{port}, or raise "
            "train.dist_timeout_s") from None
    return world()


def finish(poll_s: float = 0.5) -> None:
    """The end of a run that succeeded: rank 0 says so once its result is written; the other ranks wait for that
    (rank 0 may evaluate for hours, longer than any collective's timeout) and leave with it, so no rank tears
    down its half of the group while another still uses it. A rank 0 that died ends the wait too."""
    if not _store:
        return
    store = _store[0]
    if world().main:
        store.set(FINISHED, "1")
        return
    while True:
        try:
            if store.check([FINISHED]):
                return
        except Exception:  # noqa: BLE001 - rank 0, which serves the store, is gone: nothing left to wait for
            return
        time.sleep(poll_s)


def shutdown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _store.clear()
