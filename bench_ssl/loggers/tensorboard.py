"""TensorBoard: event files in `<run folder>/tensorboard/`, so `tensorboard --logdir results/<sweep>` shows
every run of a sweep side by side (named by run id); the config is the run's text entry."""

from __future__ import annotations

from ..config import dump_yaml
from . import scalars


class TensorBoardLogger:
    def __init__(self, cfg, run_id: str, run_dir, resumed_epoch: int = 0):
        from torch.utils.tensorboard import SummaryWriter

        # a resumed run drops what an earlier session logged after its checkpoint (those epochs run again)
        self.writer = SummaryWriter(str(run_dir.path / "tensorboard"), purge_step=resumed_epoch + 1 if resumed_epoch else None)
        if not resumed_epoch:
            self.writer.add_text("config", "```\n" + dump_yaml(cfg) + "```", 0)

    def log_epoch(self, record: dict) -> None:
        for key, value in scalars(record, skip=("epoch", "step")).items():
            self.writer.add_scalar(f"train/{key}", value, record["epoch"])
        self.writer.flush()

    def log_final(self, metrics: dict, epoch: int) -> None:
        for key, value in scalars(metrics, skip=()).items():
            self.writer.add_scalar(f"eval/{key}", value, epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
