"""YAML -> typed RunConfig, `--set a.b=c` overrides, and the run id.

Unknown keys, keys the chosen component does not take and wrongly typed values are rejected with the full
key path and a suggestion, before any work starts. The run id hashes the resolved config, which holds only
the parameters that apply to the run, minus where results go (`NOT_HASHED`): two runs that differ in anything
that changes the result never share a folder, and two that differ only in something that cannot change it
(a knob the method does not read) cannot be written at all.

Overrides come in layers (the base file, a sweep's `set:`, `--set`, a sweep's axes): when a layer switches a
component (`method.name=moco`, `augment.view1=[crop]`), the parameters earlier layers gave that the new
component does not take are dropped; within a layer, choices are applied first, so a parameter given with or
after the switch must apply.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import os
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..params import suggest
from . import legacy
from .schema import NOT_HASHED, RunConfig
from .sections import (
    allowed_keys,
    build_section,
    default_of,
    dump,
    is_section,
    known_keys,
    registry_keys,
    switch_fields,
)
from .sections import _inner as inner_type


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
    raw = apply_overrides(raw, overrides)
    return from_raw(raw)


def from_raw(raw: dict) -> RunConfig:
    """The validated RunConfig of a plain mapping (a config written by an earlier version is translated)."""
    if legacy.is_v1(raw):
        raw = legacy.from_v1(raw)
    legacy.check_renamed(raw)
    cfg = build_section(RunConfig, raw, "")
    if cfg.data.root:
        cfg.data.root = str(Path(cfg.data.root).expanduser().resolve())
    cfg.resolve()
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


def apply_layer(raw: dict, settings) -> dict:
    """A new dict: `raw` with the (key, value) pairs (or mapping) of one layer set, component choices first; a
    choice that changes drops what earlier layers gave the old component and the new one does not take."""
    out = copy.deepcopy(raw)
    pairs = list(settings.items()) if isinstance(settings, dict) else list(settings)
    order = sorted(range(len(pairs)), key=lambda i: (_switch_rank(pairs[i][0]), i))  # stable within a rank
    mine: set[str] = set()  # what this layer set: never dropped, it must apply
    for key, value in (pairs[i] for i in order):
        switch = _is_switch(key)
        before = _effective(out, key) if switch else None
        set_key(out, key, value)
        mine.add(key)
        if switch and before != value:
            _prune(out, key.rpartition(".")[0], keep=mine)
    return out


def _is_switch(key: str) -> bool:
    return _switch_rank(key) < 2


def _switch_rank(key: str) -> int:
    """0: a choice of the section itself (method.name, augment.view1), 1: a nested one (simclr's method.loss),
    2: any other key."""
    from .sections import list_fields, selectors

    parent, _, leaf = key.rpartition(".")
    cls = section_class(parent)
    if cls is None:
        return 2
    if leaf in {f.name for f in selectors(cls)} | list_fields(cls):
        return 0
    return 1 if leaf in switch_fields(cls) else 2


def _effective(raw: dict, key: str):
    """The value `key` has in `raw`, or its section's default."""
    try:
        return get_key(raw, key)
    except (KeyError, TypeError):
        parent, _, leaf = key.rpartition(".")
        cls = section_class(parent)
        for f in dataclasses.fields(cls):
            if f.name == leaf:
                return default_of(f)
        for sub in _chosen_classes(cls, _section_raw(raw, parent)):
            for f in dataclasses.fields(sub):
                if f.name == leaf:
                    return default_of(f)
        return None


def _chosen_classes(cls, raw: dict) -> list:
    from .sections import registry_of, selectors

    out = []
    for f in selectors(cls):
        reg = registry_of(f)
        name = raw.get(f.name, default_of(f))
        if name in reg:
            sub = reg.entry(name).params
            out += [sub, *_chosen_classes(sub, raw)]
    return out


def _section_raw(raw: dict, path: str) -> dict:
    node = raw
    for part in path.split(".") if path else []:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _prune(raw: dict, path: str, keep: set[str] = frozenset()) -> None:
    """Drop the keys of section `path` that belong to components it no longer chooses (but not those in
    `keep`, dotted keys given by the current layer, nor keys below them)."""
    cls = section_class(path)
    node = _section_raw(raw, path)
    allowed = allowed_keys(cls, node)
    if allowed is None:
        return
    prefix = f"{path}." if path else ""
    for key in [k for k in node if k in registry_keys(cls) and k not in allowed]:
        full = prefix + key
        if full not in keep and not any(k.startswith(full + ".") for k in keep):
            del node[key]


@functools.cache
def _schema_paths() -> dict[str, type]:
    """Dotted path of every section -> its class ('' is RunConfig)."""
    out: dict[str, type] = {}

    def walk(cls, path: str) -> None:
        out[path] = cls
        for name, tp in known_keys(cls).items():
            if dataclasses.is_dataclass(tp) and isinstance(tp, type):
                if name in _section_fields(cls):
                    walk(tp, f"{path}.{name}" if path else name)

    walk(RunConfig, "")
    return out


def _section_fields(cls) -> set[str]:
    from .sections import plain_fields, type_hints

    hints = type_hints(cls)
    return {f.name for f in plain_fields(cls) if is_section(hints[f.name])}


def section_class(path: str):
    return _schema_paths().get(path)


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
        cls = inner_type(keys[part])
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
