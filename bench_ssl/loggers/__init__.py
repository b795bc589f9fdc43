"""Optional experiment trackers (`output.loggers: [tensorboard, wandb, mlflow]`): per-epoch metrics, the final
evaluation and the run's config, written where users already watch runs. One file each; the libraries are
the `[loggers]` extra and are imported only by a run that asks for them."""

from __future__ import annotations

import importlib
import importlib.util

from ..errors import ConfigError

LOGGERS = {"tensorboard": ("tensorboard", "TensorBoardLogger"), "wandb": ("wandb", "WandbLogger"),
           "mlflow": ("mlflow", "MlflowLogger")}  # name -> (its module here, class); the library has the same name


def scalars(record: dict, skip: tuple = ("epoch",)) -> dict:
    """The numbers of a record (an epoch's metrics, a result) that a tracker plots: not flags, not `skip`."""
    return {k: v for k, v in record.items()
            if k not in skip and isinstance(v, (int, float)) and not isinstance(v, bool)}


def check_available(names: list[str]) -> None:
    """Each chosen logger's library is installed (checked at config load, without importing it)."""
    for name in names:
        if importlib.util.find_spec(name) is None:
            raise ConfigError(f"output.loggers: {name!r} needs the {name} package, which is not installed; "
                              f"pip install 'bench_ssl[loggers]' (or {name}), or drop it from output.loggers")


class Loggers:
    """The run's chosen loggers, opened at its first epoch of this session (so a resumed run knows where it
    resumed), fed each epoch's record and the final evaluation, always closed."""

    def __init__(self, cfg, run_id: str, run_dir):
        self.cfg, self.run_id, self.run_dir = cfg, run_id, run_dir
        self.open: list | None = None if cfg.output.loggers else []

    def log_epoch(self, record: dict) -> None:
        if self.open is None:
            self.open = []
            for name in self.cfg.output.loggers:
                module, cls = LOGGERS[name]
                logger = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
                self.open.append(logger(self.cfg, self.run_id, self.run_dir, record["epoch"] - 1))
        for logger in self.open:
            logger.log_epoch(record)

    def log_final(self, metrics: dict) -> None:
        for logger in self.open or []:
            logger.log_final(metrics, self.cfg.optim.epochs)

    def close(self) -> None:
        for logger in self.open or []:
            logger.close()


__all__ = ["LOGGERS", "Loggers", "check_available", "scalars"]
