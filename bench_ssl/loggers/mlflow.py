"""MLflow: one MLflow run per bench_ssl run in the experiment named after the config's name (the sweep), the
resolved config as parameters. The tracking URI is MLFLOW_TRACKING_URI (a tracking server, for runs on several
nodes), else the SQLite file `<output.root>/mlflow.db` (MLflow's file store is deprecated)."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import to_dict
from . import scalars


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class MlflowLogger:
    def __init__(self, cfg, run_id: str, run_dir, resumed_epoch: int = 0):
        import mlflow

        self.mlflow = mlflow
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            mlflow.set_tracking_uri(f"sqlite:///{Path(cfg.output.root).resolve() / 'mlflow.db'}")
        mlflow.set_experiment(cfg.name)
        found = mlflow.search_runs(filter_string=f"tags.bench_ssl_run_id = '{run_id}'", output_format="list")
        self.run = mlflow.start_run(run_id=found[0].info.run_id) if found else mlflow.start_run(run_name=run_id)
        if not found:
            mlflow.set_tag("bench_ssl_run_id", run_id)
            mlflow.log_params({k: str(v)[:500] for k, v in _flat(to_dict(cfg)).items()})

    def log_epoch(self, record: dict) -> None:
        self.mlflow.log_metrics({k: float(v) for k, v in scalars(record).items()}, step=record["epoch"])

    def log_final(self, metrics: dict, epoch: int) -> None:
        self.mlflow.log_metrics({k: float(v) for k, v in scalars(metrics, skip=()).items()}, step=epoch)

    def close(self) -> None:
        self.mlflow.end_run()
