"""Launch runs through submitit: its local executor, or Slurm as one job array per sweep.

Job states come from submitit (sacct on Slurm); whether a run is done or failed is read from its folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import BenchSSLError
from .base import EXITED, QUEUED, RUNNING, Job, Launcher

log = logging.getLogger("bench_ssl.launch")


class SubmititLauncher(Launcher):
    def __init__(self, folder: Path, cluster: str, slurm=None, max_parallel: int | None = None, job_name: str = "bench_ssl"):
        try:
            import submitit
        except ImportError:  # pragma: no cover - submitit is a dependency
            raise BenchSSLError("the submitit launchers need submitit: pip install submitit") from None
        self.name = "slurm" if cluster == "slurm" else "submitit-local"
        extra = {"slurm_max_num_timeout": slurm.max_requeues} if cluster == "slurm" and slurm is not None else {}
        self.executor = submitit.AutoExecutor(folder=str(Path(folder) / "%j"), cluster=cluster, **extra)
        params = {"name": job_name}
        if slurm is not None:
            params.update(timeout_min=slurm.time_min, gpus_per_node=slurm.gpus_per_node, cpus_per_task=slurm.cpus_per_task)
            if slurm.mem_gb is not None:
                params["mem_gb"] = slurm.mem_gb
            if cluster == "slurm":
                params.update(slurm_array_parallelism=max_parallel or slurm.array_parallelism,
                              slurm_signal_delay_s=slurm.signal_delay_s)
                for key in ("partition", "account", "qos", "constraint"):
                    if getattr(slurm, key):
                        params[f"slurm_{key}"] = getattr(slurm, key)
                if slurm.additional:
                    params["slurm_additional_parameters"] = dict(slurm.additional)
        self.executor.update_parameters(**params)
        self.gpus_per_node = params.get("gpus_per_node") or 0  # of a run of one rank; a run of D ranks takes D
        self.jobs: dict[str, object] = {}
        self.cluster = cluster

    def describe(self) -> str:
        return self.name

    def start(self, jobs: list[Job]) -> None:
        from .job import RunJob

        groups: dict[tuple[int, int], list[Job]] = {}
        for job in jobs:  # one array per shape: a run of D ranks on N nodes is a job of D tasks on each of N nodes
            groups.setdefault((job.devices, job.nodes), []).append(job)
        for (devices, nodes), group in groups.items():
            gpus = self.gpus_per_node if devices == 1 else devices if self.gpus_per_node else 0  # 0: a CPU cluster
            self.executor.update_parameters(tasks_per_node=devices, nodes=nodes, gpus_per_node=gpus)
            submitted = self.executor.map_array(RunJob(), [_arg(j) for j in group])
            for job, sj in zip(group, submitted):
                for run in job.runs:
                    self.jobs[run.run_id] = sj
            where = f" ({devices} task(s) x {nodes} node(s) each)" if devices * nodes > 1 else ""
            log.info("submitted %d run(s) as %s job(s) %s%s", len(group), self.name,
                     submitted[0].job_id.split("_")[0], where)

    def states(self) -> dict[str, str]:
        out = {}
        for rid, sj in self.jobs.items():
            if sj.done():
                out[rid] = EXITED
            else:
                state = str(sj.state).upper()
                out[rid] = QUEUED if state in ("PENDING", "REQUEUED", "UNKNOWN", "CONFIGURING") else RUNNING
        return out

    def cancel(self) -> None:
        for sj in self.jobs.values():
            if not sj.done():
                sj.cancel(check=False)

    def job_ids(self) -> list[str]:
        return [sj.job_id for sj in self.jobs.values()]


def _arg(job: Job):
    """What the array task runs: one run's config, or a fused group's configs."""
    return [str(j.config_path) for j in job.runs] if job.fused else str(job.config_path)
