"""Overrides come in layers: the base file, a sweep's or study's `set:`, `--set`, a sweep's axes, a study's trial.

When a layer switches a component (`method.name=moco`, `model.head.type=none`, `augment.view1=[crop]`), the
parameters that earlier layers gave the old component and the new one does not take are dropped: a base config
that says `loss: nt_xent` for SimCLR still serves a sweep over methods. Within a layer the choices are applied
first and nothing it sets is dropped, so a parameter given with or after the switch must apply (the loader
rejects it otherwise).
"""

from __future__ import annotations

import copy
import dataclasses
import functools

from ..errors import ConfigError
from ..params import type_hints
from .schema import RunConfig
from .sections import (
    allowed_keys,
    chosen_classes,
    default_of,
    is_section,
    known_keys,
    list_fields,
    plain_fields,
    registry_keys,
    selectors,
    switch_fields,
)


def apply_layer(raw: dict, settings) -> dict:
    """A new dict: `raw` with the (key, value) pairs (or mapping) of one layer set, component choices first; a
    choice that changes drops what earlier layers gave the old component and the new one does not take."""
    out = copy.deepcopy(raw)
    pairs = list(settings.items()) if isinstance(settings, dict) else list(settings)
    ranks = [_switch_rank(key) for key, _ in pairs]
    mine: set[str] = set()  # what this layer set: never dropped, it must apply
    for i in sorted(range(len(pairs)), key=lambda i: (ranks[i], i)):  # choices first, stable within a rank
        key, value = pairs[i]
        switch = ranks[i] < 2
        before = _effective(out, key) if switch else None
        set_key(out, key, value)
        mine.add(key)
        if switch and before != value:
            prune(out, key.rpartition(".")[0], keep=mine)
    return out


def _switch_rank(key: str) -> int:
    """0: a choice of the section itself (method.name, augment.view1), 1: a nested one (simclr's method.loss),
    2: any other key."""
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
        for sub in chosen_classes(cls, _section_raw(raw, parent)):
            for f in dataclasses.fields(sub):
                if f.name == leaf:
                    return default_of(f)
        return None


def _section_raw(raw: dict, path: str) -> dict:
    node = raw
    for part in path.split(".") if path else []:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def prune(raw: dict, path: str, keep: set[str] = frozenset()) -> None:
    """Drop the keys of section `path` that belong to components it no longer chooses (but not those in
    `keep`, dotted keys given by the current layer, nor keys below them)."""
    cls = section_class(path)
    node = _section_raw(raw, path)
    allowed = allowed_keys(cls, node)
    if allowed is None:
        return
    prefix = f"{path}." if path else ""
    droppable = registry_keys(cls) - allowed
    for key in [k for k in node if k in droppable]:
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
