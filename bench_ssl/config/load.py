"""YAML -> typed RunConfig, `--set a.b=c` overrides (one layer, see `layers`), and the run id.

Unknown keys, keys the chosen component does not take and wrongly typed values are rejected with the full
key path and a suggestion, before any work starts. The run id hashes the resolved config, which holds only
the parameters that apply to the run, minus where results go (`NOT_HASHED`): two runs that differ in anything
that changes the result never share a folder, and two that differ only in something that cannot change it
(a knob the method does not read) cannot be written at all.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from pathlib import Path

import yaml

from ..data.location import default_root
from ..errors import ConfigError, first_line
from ..params import suggest
from . import legacy
from .layers import apply_layer
from .schema import NOT_HASHED, RunConfig
from .sections import build_section, dump, known_keys, unoptional


def load_config(source: str | os.PathLike | dict | RunConfig | None = None, overrides: list[str] = ()) -> RunConfig:
    """Build and validate a RunConfig from a YAML path, a dict or a RunConfig, then apply overrides."""
    if isinstance(source, RunConfig):
        raw = to_dict(source)
    elif isinstance(source, dict):
        raw = copy.deepcopy(source)
    elif source is None:
        raw = {}
    else:
        raw = read_yaml(source)
        from .spec_file import refuse_other_kind

        refuse_other_kind(raw, Path(source), "config")
    raw = apply_overrides(raw, overrides)
    return from_raw(raw)


def from_raw(raw: dict) -> RunConfig:
    """The validated RunConfig of a plain mapping (a config written by an earlier version is translated)."""
    if legacy.is_v1(raw):
        raw = legacy.from_v1(raw)
    legacy.check_renamed(raw)
    cfg = build_section(RunConfig, raw, "")
    cfg.data.root = str(Path(cfg.data.root or default_root(cfg.data.format)).expanduser().resolve())
    cfg.resolve()
    cfg.check()
    return cfg


class _UniqueKeys(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (PyYAML keeps the last one silently: a second
    `grid:` in a sweep file would drop the first)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: the base class merges it
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in first:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key {key!r} appears twice (first on line {first[key]}); keep one",
                            key_node.start_mark)
                    first[key] = key_node.start_mark.line + 1
                except TypeError:  # an unhashable key: the base class reports it
                    pass
        return super().construct_mapping(node, deep)


def read_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a config file; pass the path of a YAML file, e.g. configs/smoke.yaml")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass the path of a YAML run config, e.g. configs/smoke.yaml")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); is it the YAML file you meant? Save it as "
                          "UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}; check its permissions") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or first_line(exc)
        raise ConfigError(f"{path}:{where}: malformed YAML ({problem}); fix the syntax there") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (data:, model:, ...), got {type(raw).__name__}")
    return raw


def parse_overrides(overrides: list[str]) -> list[tuple[str, object]]:
    """`a.b.c=value` strings -> (key, value) pairs, the value read as YAML."""
    out = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set method.temperature=0.2")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        out.append((key.strip(), value))
    return out


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `a.b.c=value` strings (value parsed as YAML) to a nested dict as one layer; returns a new dict."""
    return apply_layer(raw, parse_overrides(list(overrides)))


def check_key(key: str, where: str = "") -> None:
    """Raise ConfigError unless the dotted `key` names a value some run config can have (a field of a
    section, or a parameter of some component: whether it applies to a run is checked per run)."""
    key_type(key, where)


def key_type(key: str, where: str = ""):
    """The type of the value at dotted `key` (a section class for a section), or a ConfigError."""
    legacy.check_renamed_key(key, where)
    cls, done = RunConfig, []
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise ConfigError(f"{where}{key!r}: {'.'.join(done)} is a value, not a section")
        keys = known_keys(cls)
        if part not in keys:
            section = ".".join(done) or "the top level"
            raise ConfigError(f"{where}unknown key {key!r}{suggest(part, keys)}; allowed under {section}: {', '.join(keys)}")
        cls = unoptional(keys[part])
        done.append(part)
    return cls


def to_dict(cfg) -> dict:
    """Plain nested dict (tuples as lists) of the resolved config: only what applies, ready for YAML/JSON."""
    return json.loads(json.dumps(dump(cfg)))


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


def from_dict(cls, raw, path: str):
    """A section (or any params dataclass) from plain data, checking keys, types and values."""
    return build_section(cls, raw, path)
