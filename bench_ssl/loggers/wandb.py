"""Weights & Biases: one W&B run per bench_ssl run (id = run id, so a resumed run continues it), grouped by
the config's name (the sweep); files under the run folder. WANDB_MODE (e.g. offline) is respected."""

from __future__ import annotations

from ..config import to_dict
from . import scalars


class WandbLogger:
    def __init__(self, cfg, run_id: str, run_dir, resumed_epoch: int = 0):
        import wandb

        self.run = wandb.init(project="bench_ssl", group=cfg.name, name=run_id, id=run_id, resume="allow",
                              config=to_dict(cfg), dir=str(run_dir.path), reinit="create_new")

    def log_epoch(self, record: dict) -> None:
        self.run.log(scalars(record), step=record["epoch"])

    def log_final(self, metrics: dict, epoch: int) -> None:
        for key, value in scalars(metrics, skip=()).items():
            self.run.summary[key] = value

    def close(self) -> None:
        self.run.finish()
