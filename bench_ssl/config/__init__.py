"""Typed run configs: load YAML, apply `--set` overrides, validate, and derive the run id."""

from .load import (
    apply_overrides,
    check_key,
    dump_yaml,
    from_dict,
    get_key,
    hashed_dict,
    load_config,
    read_yaml,
    run_id,
    set_key,
    to_dict,
)
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
    "OutputConfig", "RunConfig", "TrainConfig", "apply_overrides", "check_key", "dump_yaml", "from_dict", "get_key",
    "hashed_dict", "load_config", "read_yaml", "run_id", "set_key", "to_dict",
]
