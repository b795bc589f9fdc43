"""Start the ranks of one run on this machine, and take them all down when one fails.

`python -m bench_ssl.run` with train.devices > 1 stays the run's owner (lock, log, exit code) and starts one
process per rank with torchrun's environment contract (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT); `bench_ssl.run` in each of them joins the process group. The ranks die with their owner (a
SIGKILLed owner leaves no orphan training behind it), a stop signal reaches all of them (they checkpoint at the
same step), and a rank that fails or is killed stops the others, so the run ends cleanly and its rerun resumes
from the last checkpoint.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..errors import BenchSSLError
from ..train import interrupt

OWNER = "BENCH_SSL_RANKS_OF"  # set for the ranks it starts: the run folder whose owner holds the lock and log
EXIT_INTERRUPTED = 130
GRACE_S = 60.0  # after one rank failed, how long the others get to end before they are killed


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_devices(cfg) -> None:
    """The ranks this machine must start exist: train.devices GPUs visible on CUDA, a single node here."""
    t = cfg.train
    if t.nodes > 1:
        raise BenchSSLError(
            f"train.nodes: {t.nodes} nodes cannot be started from this one machine; submit the run with the "
            "sweep's Slurm launcher (--launcher slurm), or start torchrun on every node")
    from ..train.loop import resolve_device

    if resolve_device(cfg.device).type == "cuda":
        import torch

        check_visible(t.devices, torch.cuda.device_count())


def check_visible(devices: int, visible: int) -> None:
    if devices > visible:
        raise BenchSSLError(
            f"train.devices: {devices} GPUs asked for but {visible} visible (CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); use train.devices={visible} or make more visible")


def die_with_owner() -> None:
    """In a rank started here: be killed when the owner dies, whatever killed it (Linux)."""
    owner = int(os.environ.get(f"{OWNER}_PID", "0") or 0)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the owner's own cleanup still stops the ranks
        return
    if owner and os.getppid() != owner:  # the owner died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def rank_env(rank: int, size: int, port: int, run_dir: Path) -> dict:
    env = dict(os.environ)
    env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(size), LOCAL_WORLD_SIZE=str(size),
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    env[OWNER] = str(run_dir)
    env[f"{OWNER}_PID"] = str(os.getpid())
    return env


def spawn_ranks(run_dir, cfg, cpu: bool) -> None:
    """Run the config in `run_dir` (RunDir) on train.devices ranks and wait; raise when they did not finish."""
    size, port = cfg.train.devices, free_port()
    threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    procs = []
    try:
        for rank in range(size):
            env = rank_env(rank, size, port, run_dir.path)
            if cpu:  # the ranks split this process's cores (or its OMP_NUM_THREADS) between them
                env["OMP_NUM_THREADS"] = str(max(1, threads // size))
            out = open(os.devnull if rank == 0 else run_dir.rank_log(rank), "ab")  # rank 0 writes log.txt
            procs.append(subprocess.Popen([sys.executable, "-m", "bench_ssl.run", str(run_dir.config)], env=env,
                                          stdout=out, stderr=subprocess.STDOUT if rank else None,
                                          stdin=subprocess.DEVNULL))
            out.close()
        _wait(procs, run_dir)
    finally:
        for proc in procs:  # whatever ended the wait (an error, a KeyboardInterrupt), no rank outlives it
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _wait(procs: list, run_dir) -> None:
    forwarded = False
    while True:
        codes = [p.poll() for p in procs]
        if all(c == 0 for c in codes):
            return
        failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
        if failed and not all(c == EXIT_INTERRUPTED for _, c in failed):
            break
        if failed and all(c is not None for c in codes):  # every rank stopped on a signal, checkpoint saved
            raise interrupt.Interrupted(f"run {run_dir.name} stopped by signal {interrupt.stop_requested()} on "
                                        f"{len(procs)} ranks; checkpoint saved, run the same config again to resume")
        if interrupt.stop_requested() is not None and not forwarded:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            forwarded = True
        time.sleep(0.2)
    rank, code = next((r, c) for r, c in failed if c != EXIT_INTERRUPTED)
    deadline = time.time() + GRACE_S
    for p in procs:  # the others are blocked in a collective with the lost rank, or about to be
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    raise BenchSSLError(f"rank {rank} of {len(procs)} of run {run_dir.name} {_exit(code)}{_last_error(run_dir, rank)}; "
                        "the other ranks were stopped and the last checkpoint is kept: run the same config again to "
                        "resume")


def _exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _last_error(run_dir, rank: int) -> str:
    """' (<its error line>; see <file>)', from the failed rank's traceback (rank 0) or its own log."""
    log = run_dir.traceback if rank == 0 and run_dir.traceback.exists() else run_dir.rank_log(rank) if rank else run_dir.log
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("error:") or "Error" in line.split(":")[0]]
    return f" ({errors[-1][:300]}; see {log})" if errors else f" (see {log})"
