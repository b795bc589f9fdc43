"""Expand a sweep into validated runs: product of the axes, derived values, exclusions, then the same
validation as a single run, so an impossible value stops the sweep before anything launches."""

from __future__ import annotations

import copy
import functools
import itertools
import json
from dataclasses import dataclass

from ..config import RunConfig, apply_layer, apply_overrides, from_raw, get_key, run_id, to_dict
from ..errors import ConfigError
from ..results.run_dir import RunDir
from .expr import evaluate
from .spec import SweepSpec

_ABSENT = object()


@dataclass
class SweepRun:
    index: int
    params: dict  # the values this run sets on the axes (and derived keys)
    config: RunConfig
    run_id: str

    @functools.cached_property
    def run_dir(self) -> RunDir:
        """Its folder (found once: a v1 folder of the same run keeps its name)."""
        return RunDir.of(self.config)

    def value(self, key: str):
        """The resolved value of a dotted config key, or _ABSENT when it does not apply to this run."""
        try:
            return get_key(self.resolved, key)
        except (KeyError, TypeError):
            return _ABSENT

    @functools.cached_property
    def resolved(self) -> dict:
        return to_dict(self.config)


def run_entries(spec: SweepSpec) -> list[dict]:
    """The `runs:` axis with each entry's own `grid:` expanded (`{method.name: moco, grid: {method.queue_size:
    [256, 4096]}}` is two runs), so a sweep over methods says per method what it sets."""
    out = []
    for entry in spec.runs or [{}]:
        inner = entry.get("grid") or {}
        fixed = {k: v for k, v in entry.items() if k != "grid"}
        keys = list(inner)
        out += [{**fixed, **dict(zip(keys, values))} for values in itertools.product(*inner.values())]
    return out


def combinations(spec: SweepSpec) -> list[dict]:
    """Axis values of every combination, before exclusions: seeds outermost, the grid varying fastest,
    so a partial sweep has covered every cell once before it repeats seeds."""
    axes = [[{"seed": s} for s in spec.seeds] or [{}], run_entries(spec)]
    for group in spec.zip:
        n = len(next(iter(group.values())))
        axes.append([{k: v[i] for k, v in group.items()} for i in range(n)])
    keys = list(spec.grid)
    axes.append([dict(zip(keys, values)) for values in itertools.product(*spec.grid.values())])
    return [{k: v for part in parts for k, v in part.items()} for parts in itertools.product(*axes)]


def _excluded(spec: SweepSpec, resolved: dict, where: str) -> bool:
    for i, cond in enumerate(spec.exclude):
        if isinstance(cond, dict):
            if all(_same(get_key(resolved, k), v) for k, v in cond.items()):
                return True
        elif evaluate(cond, resolved, f"{where}: exclude[{i}]"):
            return True
    return False


def _same(a, b) -> bool:
    return json.dumps(a) == json.dumps(b)  # tuples and lists alike, 1 == 1.0


def _describe(params: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items()) or "the base config"


def expand(spec: SweepSpec, overrides: list[str] = ()) -> list[SweepRun]:
    """All runs of the sweep, validated; `overrides` (--set) apply to the base of every run."""
    base = apply_overrides(spec.base, list(overrides))
    base["name"] = spec.name
    runs, seen = [], set()
    for params in combinations(spec):
        where = f"{spec.where}: run ({_describe(params)})"
        raw = _layer(base, params, where)  # the run's axes: one layer over the base (a switch drops the base's knobs)
        cfg = _load(raw, where, params)
        if spec.derived:
            params = dict(params)
            for key, expr in spec.derived.items():
                value = evaluate(expr, to_dict(cfg), f"{spec.where}: derived {key}")
                raw = _layer(raw, {key: value}, where)
                params[key] = value
                cfg = _load(raw, where, params)
        if _excluded(spec, to_dict(cfg), spec.where):
            continue
        rid = run_id(cfg)
        if rid in seen:  # e.g. a derived value made two combinations identical
            continue
        seen.add(rid)
        runs.append(SweepRun(len(runs), params, cfg, rid))
    if not runs:
        raise ConfigError(f"{spec.where}: the exclusions drop every run; loosen `exclude`")
    return runs


def _layer(raw: dict, params: dict, where: str) -> dict:
    try:
        return apply_layer(raw, params)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _load(raw: dict, where: str, params: dict) -> RunConfig:
    try:
        return from_raw(copy.deepcopy(raw))
    except ConfigError as exc:
        msg = str(exc)
        axis = next((k for k in params if msg.startswith(k) or f"'{k}'" in msg), None)
        hint = f" (set by the sweep's {axis!r} axis)" if axis else ""
        raise ConfigError(f"{where}: {msg}{hint}") from None


def varying_keys(runs: list[SweepRun]) -> list[str]:
    """The keys whose values differ between runs, in axis order: what a table of the sweep should show."""
    keys: list[str] = []
    for r in runs:
        keys += [k for k in r.params if k not in keys]
    return [k for k in keys if len({json.dumps(r.params.get(k)) for r in runs}) > 1]
