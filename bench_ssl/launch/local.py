"""Local launcher: each run in its own worker process, placed on GPUs and packed K per GPU.

A worker is `python -m bench_ssl.run RUN_DIR/config.yaml`, so a crash, OOM or kill of one run never
takes the driver or the other runs down. On a machine with G GPUs a run goes to the least loaded GPU with
fewer than K runs (K = runs per GPU, CUDA_VISIBLE_DEVICES); a run of D ranks (train.devices) takes D idle
GPUs for itself. On a CPU machine a run of D ranks counts as D of the worker slots and splits their cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque

from ..results.run_dir import RunDir
from .base import EXITED, QUEUED, RUNNING, Job, Launcher


def gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable CUDA: a CPU machine
        return 0


def share_cores(env: dict, workers: int) -> None:
    """On a CPU machine, `workers` concurrent runs split the cores (OMP_NUM_THREADS) instead of each taking all
    of them: two 2-thread runs on 2 cores spend part of their time preempting each other. A value the user set
    is kept."""
    if "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // max(1, workers)))


def local_slots(max_parallel: int | None, runs_per_gpu: int, gpus: int | None = None) -> int:
    """Runs the local launcher runs at once: max_parallel, else runs_per_gpu on each GPU, else one (a CPU)."""
    gpus = gpu_count() if gpus is None else gpus
    return max_parallel or (gpus * runs_per_gpu if gpus else 1)


class LocalLauncher(Launcher):
    name = "local"

    def __init__(self, max_parallel: int | None, runs_per_gpu: int):
        self.gpus = gpu_count()
        self.runs_per_gpu = runs_per_gpu
        self.slots = local_slots(max_parallel, runs_per_gpu, self.gpus)
        self.queue: deque[Job] = deque()
        self.running: list[tuple[Job, subprocess.Popen, list[int]]] = []  # (job, process, the GPUs it holds)
        self.load = [0] * self.gpus  # runs on each GPU
        self.exited: dict[str, int] = {}

    def describe(self) -> str:
        where = f"{self.gpus} GPU(s) x {self.runs_per_gpu} run(s) per GPU" if self.gpus else "CPU"
        return f"local, {self.slots} worker(s), {where}"

    def start(self, jobs: list[Job]) -> None:
        for job in jobs:  # started again (its owner elsewhere died): queued, no longer exited
            for run in job.runs:
                self.exited.pop(run.run_id, None)
        self.queue.extend(jobs)
        self._fill()

    def _place(self, job: Job) -> list[int] | None:
        """The GPUs `job` takes now (its devices' worth of idle ones, or the least loaded one with room), [] on a
        CPU machine, or None while they are busy. A run asking for more GPUs than exist gets them all, and says
        so itself in one line."""
        if not self.gpus:
            used = sum(j.devices for j, _, _ in self.running)
            return [] if not self.running or used + job.devices <= self.slots else None
        if job.devices > 1:
            idle = [g for g in range(self.gpus) if self.load[g] == 0]
            if job.devices > self.gpus:
                return list(range(self.gpus)) if len(idle) == self.gpus else None
            return idle[:job.devices] if len(idle) >= job.devices else None
        if len(self.running) >= self.slots:
            return None
        g = min(range(self.gpus), key=lambda i: self.load[i])
        return [g] if self.load[g] < self.runs_per_gpu else None

    def _fill(self) -> None:
        while self.queue:
            job = self.queue[0]
            gpus = self._place(job)
            if gpus is None:
                return
            self.queue.popleft()
            env = dict(os.environ)
            if self.gpus:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
                for g in gpus:
                    self.load[g] += self.runs_per_gpu if job.devices > 1 else 1
            else:
                share_cores(env, max(1, self.slots // job.devices))  # its ranks split these between them
            log = open(RunDir(job.run_dir).worker_log, "ab")
            proc = subprocess.Popen([sys.executable, *job.command()], env=env,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)  # Ctrl-C goes to the driver, which decides
            log.close()
            self.running.append((job, proc, gpus))

    def states(self) -> dict[str, str]:
        for entry in list(self.running):
            job, proc, gpus = entry
            if proc.poll() is not None:
                for run in job.runs:
                    self.exited[run.run_id] = proc.returncode
                self.running.remove(entry)
                for g in gpus:
                    self.load[g] -= self.runs_per_gpu if job.devices > 1 else 1
        self._fill()
        states = {run.run_id: QUEUED for job in self.queue for run in job.runs}
        states.update({run.run_id: RUNNING for job, _, _ in self.running for run in job.runs})
        states.update({rid: EXITED for rid in self.exited})
        return states

    def cancel(self) -> None:
        self.queue.clear()
        for job, proc, _ in self.running:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # the run (all its ranks) checkpoints at its next step and exits
        deadline = time.time() + 60
        for job, proc, _ in self.running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.states()
