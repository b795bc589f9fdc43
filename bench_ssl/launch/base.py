"""What the sweep driver needs from a launcher: start runs, report each run's state, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# launcher-side states; the run folders stay the source of truth for done/failed
QUEUED, RUNNING, EXITED = "queued", "running", "exited"


@dataclass
class Job:
    run_id: str
    run_dir: Path
    config_path: Path
    devices: int = 1  # ranks per node (train.devices): a run of several takes that many GPUs, or Slurm tasks
    nodes: int = 1
    fused: tuple = ()  # more runs (Jobs) trained with this one as one fused model, in one process

    @property
    def runs(self) -> list["Job"]:
        return [self, *self.fused]

    def command(self) -> list[str]:
        """The worker's module and arguments: one run, or a fused group."""
        if self.fused:
            return ["-m", "bench_ssl.fused", *(str(j.config_path) for j in self.runs)]
        return ["-m", "bench_ssl.run", str(self.config_path)]


class Launcher:
    name = "base"

    def start(self, jobs: list[Job]) -> None:
        raise NotImplementedError

    def states(self) -> dict[str, str]:
        """run_id -> queued | running | exited, for every job started."""
        raise NotImplementedError

    def finished(self) -> bool:
        return all(state == EXITED for state in self.states().values())

    def cancel(self) -> None:
        """Stop everything this launcher started (running runs keep their last checkpoint)."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.name
