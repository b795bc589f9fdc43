"""YAML -> typed RunConfig, `--set a.b=c` overrides, and the run id.

Unknown keys and wrongly typed values are rejected with the full key path and a suggestion, before any
work starts. The run id hashes the whole resolved config except where results go (`NOT_HASHED`), so two
runs that differ in anything that changes the result (temperature, seed, ...) never share a folder.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import types
import typing
from pathlib import Path

import yaml

from ..errors import ConfigError
from .checks import suggest
from .schema import NOT_HASHED, RunConfig


def load_config(source: str | os.PathLike | dict | RunConfig | None = None, overrides: list[str] = ()) -> RunConfig:
    """Build and validate a RunConfig from a YAML path, a dict or a RunConfig, then apply overrides."""
    if isinstance(source, RunConfig):
        raw = to_dict(source)
    elif isinstance(source, dict):
        raw = source
    elif source is None:
        raw = {}
    else:
        raw = read_yaml(source)
    raw = apply_overrides(raw, overrides)
    cfg = from_dict(RunConfig, raw, "")
    if cfg.data.root:
        cfg.data.root = str(Path(cfg.data.root).expanduser().resolve())
    cfg.check()
    return cfg


def read_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass the path of a YAML run config, e.g. configs/smoke.yaml")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: malformed YAML ({problem}); fix the syntax there") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (data:, model:, ...), got {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `a.b.c=value` strings (value parsed as YAML) to a nested dict, returning a new dict."""
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set method.temperature=0.2")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        set_key(out, key.strip(), value)
    return out


def set_key(raw: dict, key: str, value) -> None:
    """Set a dotted key in a nested dict in place, creating sections on the way."""
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{key}: {part!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def get_key(resolved: dict, key: str):
    """Value of a dotted key in a nested dict (KeyError if absent)."""
    node = resolved
    for part in key.split("."):
        node = node[part]
    return node


def check_key(key: str, where: str = "") -> None:
    """Raise ConfigError unless the dotted `key` names a field of the run config."""
    cls, done = RunConfig, []
    for part in key.split("."):
        if not dataclasses.is_dataclass(cls):
            raise ConfigError(f"{where}{key!r}: {'.'.join(done)} is a value, not a section")
        fields = [f.name for f in dataclasses.fields(cls)]
        if part not in fields:
            section = ".".join(done) or "the top level"
            raise ConfigError(f"{where}unknown key {key!r}{suggest(part, fields)}; allowed under {section}: {', '.join(fields)}")
        cls = typing.get_type_hints(cls)[part]
        done.append(part)


def from_dict(cls, raw, path: str):
    """Recursively convert plain data into dataclass `cls`, checking keys and types."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        full = f"{path}.{key}" if path else str(key)
        if key not in fields:
            raise ConfigError(
                f"unknown key {full!r}{suggest(key, fields)}; allowed under {path or 'the top level'}: {', '.join(fields)}"
            )
        kwargs[key] = _convert(hints[key], value, full)
    return cls(**kwargs)


def _convert(tp, value, path: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is not Ellipsis:
            if len(value) != 2:
                raise ConfigError(f"{path}: expected a [low, high] pair, got {value!r}")
            return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0]
        items = [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, str):
            try:
                value = float(value)  # YAML reads 1e-6 (no dot) as a string
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp} at {path}")


def to_dict(cfg) -> dict:
    """Plain nested dict (tuples as lists), ready for YAML/JSON."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def hashed_dict(cfg: RunConfig) -> dict:
    """The part of the resolved config that identifies a run."""
    d = to_dict(cfg)
    for key in NOT_HASHED:
        *parents, leaf = key.split(".")
        node = d
        for p in parents:
            node = node[p]
        node.pop(leaf, None)
    return d


def run_id(cfg: RunConfig) -> str:
    """Stable 12-hex-digit id of the resolved config (output paths and the run's name excluded)."""
    text = json.dumps(hashed_dict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def dump_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
