"""Typed run configs: load YAML, apply `--set` overrides, validate, and derive the run id."""

from .load import apply_overrides, dump_yaml, from_dict, hashed_dict, load_config, read_yaml, run_id, to_dict
from .schema import (
    AugmentConfig,
    DataConfig,
    EvalConfig,
    HeadConfig,
    MethodConfig,
    ModelConfig,
    OptimConfig,
    OutputConfig,
    RunConfig,
    TrainConfig,
)

__all__ = [
    "AugmentConfig", "DataConfig", "EvalConfig", "HeadConfig", "MethodConfig", "ModelConfig", "OptimConfig",
    "OutputConfig", "RunConfig", "TrainConfig", "apply_overrides", "dump_yaml", "from_dict", "hashed_dict",
    "load_config", "read_yaml", "run_id", "to_dict",
]
