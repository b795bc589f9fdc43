"""Launchers: where and how a sweep's runs execute (local worker processes, submitit local, Slurm)."""

from __future__ import annotations

from pathlib import Path

from .base import EXITED, QUEUED, RUNNING, Job, Launcher
from .local import LocalLauncher, gpu_count, share_cores


def make_launcher(name: str, sweep_dir: Path, launcher_opts, slurm_opts) -> Launcher:
    if name == "local":
        return LocalLauncher(launcher_opts.max_parallel, launcher_opts.runs_per_gpu)
    from .submitit_launcher import SubmititLauncher

    cluster = "slurm" if name == "slurm" else "local"
    return SubmititLauncher(Path(sweep_dir) / ".submitit", cluster, slurm_opts, launcher_opts.max_parallel,
                            job_name=f"bench_ssl-{Path(sweep_dir).name}")


__all__ = ["EXITED", "QUEUED", "RUNNING", "Job", "Launcher", "LocalLauncher", "gpu_count", "make_launcher", "share_cores"]
