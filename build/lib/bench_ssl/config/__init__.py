"""Typed run configs: load YAML, apply `--set` overrides in layers, validate, and derive the run id."""

from .layers import apply_layer, get_key, set_key
from .load import (
    apply_overrides,
    check_key,
    dump_yaml,
    from_dict,
    from_raw,
    hashed_dict,
    key_type,
    load_config,
    parse_overrides,
    read_yaml,
    run_id,
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
    "OutputConfig", "RunConfig", "TrainConfig", "apply_layer", "apply_overrides", "check_key", "dump_yaml", "from_dict",
    "from_raw", "get_key", "hashed_dict", "key_type", "load_config", "parse_overrides", "read_yaml", "run_id", "set_key",
    "to_dict",
]
