"""Study files: a base run config, a search space over config keys, the objective, sampler, pruner and budget.

    name: temperature_lr              # results and the study go to <output.root>/<name>/
    base: ../configs/smoke.yaml       # a run config: a path (relative to this file) or an inline mapping
    set: {optim.epochs: 4, eval.knn_every: 1}
    space:                            # any run-config key
      method.temperature: {type: logfloat, low: 0.05, high: 1.0}
      optim.lr: {low: 0.01, high: 1.0, log: true}       # type from the config field (float here)
      model.head.out_dim: {low: 32, high: 256, step: 32} # int field -> suggest_int
      method.queue_size: [1024, 2048, 4096]             # a list is categorical
    objective: knn_top1               # or linear_top1; maximised
    sampler: {name: tpe, seed: 0}     # tpe | random | cmaes | grid (+ the Optuna sampler's own arguments)
    pruner: {name: median, n_startup_trials: 2}   # median | percentile | successive_halving | hyperband | threshold | none
    budget: {n_trials: 20, timeout_min: null}
    storage: null                     # default sqlite:///<output.root>/<name>/study.db; `journal`; any RDB URL
    launcher: {name: local, workers: 1}
    slurm: {time_min: 60, cpus_per_task: 4}
    profiles: {quick: {set: {optim.epochs: 2}, budget: {n_trials: 4}}}

Everything is checked at load (`load_study_spec`), and `check_space` builds the run config at every extreme
of the space (each bound, each categorical value, crossed) and validates it before any trial starts.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RunConfig, apply_layer, apply_overrides, check_key, from_dict, key_type, load_config, to_dict
from ..params import check_choice, check_int, check_real, suggest
from ..config.spec_file import mapping, profile_names, read_base, read_spec
from ..errors import ConfigError
from ..sweep.spec import SlurmOptions

TOP_LEVEL = ("name", "description", "base", "set", "space", "objective", "sampler", "pruner", "budget", "storage",
             "launcher", "slurm", "profiles")
OBJECTIVES = {"knn_top1": "knn", "linear_top1": "linear"}  # objective -> the protocol (eval.protocols) that gives it
SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler", "cmaes": "CmaEsSampler", "grid": "GridSampler"}
PRUNERS = {"median": "MedianPruner", "percentile": "PercentilePruner", "successive_halving": "SuccessiveHalvingPruner",
           "hyperband": "HyperbandPruner", "threshold": "ThresholdPruner", "none": "NopPruner"}
PARAM_TYPES = ("float", "logfloat", "int", "categorical")
PARAM_KEYS = ("type", "low", "high", "log", "step", "choices")
LAUNCHERS = ("local", "slurm")
MAX_EXTREME_CONFIGS = 4096  # beyond this many crossed extremes, each parameter's extremes are checked on their own


@dataclass
class Param:
    """One dimension of the search space: `key` is a dotted run-config key."""

    key: str
    type: str  # float | int | categorical ("logfloat" is read as float with log: true)
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: list = field(default_factory=list)

    def _encoded(self) -> list:
        """Optuna's categorical values must be None/bool/int/float/str: lists and mappings travel as JSON."""
        return [c if c is None or isinstance(c, (bool, int, float, str)) else json.dumps(c) for c in self.choices]

    def suggest(self, trial):
        """The value of this parameter for `trial` (a config value, decoded)."""
        if self.type == "categorical":
            value = trial.suggest_categorical(self.key, self._encoded())
            return self.decode(value)
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)

    def decode(self, value):
        """The config value of an Optuna parameter value (categorical lists come back from JSON)."""
        if self.type == "categorical":
            encoded = self._encoded()
            if value in encoded:
                return self.choices[encoded.index(value)]
        return value

    def extremes(self) -> list:
        if self.type == "categorical":
            return list(self.choices)
        return [self.low, self.high_on_grid()]

    def high_on_grid(self):
        if self.step:
            n = math.floor((self.high - self.low) / self.step + 1e-9)
            value = self.low + n * self.step
            return int(value) if self.type == "int" else float(value)
        return self.high

    def grid_values(self, where: str) -> list:
        """Every value the grid sampler visits (Optuna form, categorical values encoded)."""
        if self.type == "categorical":
            return self._encoded()
        if self.type == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step:
            n = math.floor((self.high - self.low) / self.step + 1e-9)
            return [round(self.low + i * self.step, 12) for i in range(n + 1)]
        raise ConfigError(f"{where}: space.{self.key}: the grid sampler needs a finite set of values; give `step:` or a "
                          f"list of choices")

    def describe(self) -> str:
        if self.type == "categorical":
            return f"one of {json.dumps(self.choices)}"
        extra = " log" if self.log else ""
        extra += f" step {self.step}" if self.step else ""
        return f"{self.type} [{self.low}, {self.high}]{extra}"


@dataclass
class NamedOptions:
    """`sampler:` or `pruner:`: a name plus the keyword arguments of the Optuna class."""

    name: str
    kwargs: dict = field(default_factory=dict)


@dataclass
class Budget:
    n_trials: int = 20  # trials the study should have (complete, pruned and failed ones count)
    timeout_min: float | None = None  # per invocation and worker: no new trial starts after this

    def check(self, p: str) -> None:
        check_int(f"{p}.n_trials", self.n_trials, low=1)
        if self.timeout_min is not None:
            check_real(f"{p}.timeout_min", self.timeout_min, low=0.0, low_open=True)


@dataclass
class TuneLauncher:
    name: str = "local"
    workers: int = 1

    def check(self, p: str) -> None:
        check_choice(f"{p}.name", self.name, LAUNCHERS)
        check_int(f"{p}.workers", self.workers, low=1)


@dataclass
class StudySpec:
    name: str
    path: Path | None
    base: dict
    space: list[Param]
    description: str = ""
    objective: str = "knn_top1"
    sampler: NamedOptions = field(default_factory=lambda: NamedOptions("tpe"))
    pruner: NamedOptions = field(default_factory=lambda: NamedOptions("median"))
    budget: Budget = field(default_factory=Budget)
    storage: str | None = None
    launcher: TuneLauncher = field(default_factory=TuneLauncher)
    slurm: SlurmOptions = field(default_factory=SlurmOptions)
    profile: str | None = None
    profiles: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"study {self.path or self.name}"

    def param(self, key: str) -> Param:
        return next(p for p in self.space if p.key == key)


def load_study_spec(source: str | Path | dict, profile: str | None = None) -> StudySpec:
    """Parse and check a study file (or dict), in `profile` if given (a profile's `set` and `budget` are merged)."""
    raw, path, where = read_spec(source, "study", TOP_LEVEL, "sweeps/tune_smoke.yaml", profile, merged=("set", "budget"))
    spec = StudySpec(
        name=str(raw["name"]),
        path=path,
        base=read_base(raw, path, where, "study"),
        space=_space(raw.get("space"), where),
        description=str(raw.get("description") or ""),
        objective=raw.get("objective", "knn_top1"),
        sampler=_named(raw.get("sampler", "tpe"), "sampler", SAMPLERS, where),
        pruner=_named(raw.get("pruner", "median"), "pruner", PRUNERS, where),
        budget=from_dict(Budget, mapping(raw.get("budget"), f"{where}: budget"), "budget"),
        storage=raw.get("storage"),
        launcher=from_dict(TuneLauncher, mapping(raw.get("launcher"), f"{where}: launcher"), "launcher"),
        slurm=from_dict(SlurmOptions, mapping(raw.get("slurm"), f"{where}: slurm"), "slurm"),
        profile=profile,
        profiles=profile_names(raw, where),
    )
    check_choice(f"{where}: objective", spec.objective, OBJECTIVES)
    if spec.storage is not None and not isinstance(spec.storage, str):
        raise ConfigError(f"{where}: storage: {spec.storage!r} must be a URL (sqlite:///..., postgresql://...), "
                          f"`journal` or `journal:PATH`")
    spec.budget.check(f"{where}: budget")
    spec.launcher.check(f"{where}: launcher")
    spec.slurm.check(f"{where}: slurm")
    if spec.sampler.name == "grid":
        for p in spec.space:
            p.grid_values(where)
    return spec


def _named(value, what: str, known: dict, where: str) -> NamedOptions:
    """`tpe` or {name: tpe, seed: 0, ...}: the extra keys must be arguments of the Optuna class."""
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or "name" not in value:
        raise ConfigError(f"{where}: {what}: give a name ({', '.join(known)}) or a mapping with `name:`, got {value!r}")
    name = value["name"]
    if name not in known:
        raise ConfigError(f"{where}: {what}.name: {name!r} is not known{suggest(name, known)}; allowed: {', '.join(known)}")
    kwargs = {k: v for k, v in value.items() if k != "name"}
    import optuna

    module = optuna.samplers if what == "sampler" else optuna.pruners
    params = inspect.signature(getattr(module, known[name])).parameters
    allowed = [p for p in params if p not in ("self", "search_space", "independent_sampler", "bootstrap_count")]
    for key in kwargs:
        if key not in allowed:
            raise ConfigError(f"{where}: {what}.{key}: not an argument of optuna.{module.__name__.split('.')[-1]}."
                              f"{known[name]}{suggest(key, allowed)}; allowed: {', '.join(allowed) or 'none'}")
    return NamedOptions(name, kwargs)


def field_type(key: str):
    """The Python type of a run-config key (int, float, bool, str, list, ...), None-ness stripped; for a component's
    parameter, the type its component declares."""
    tp = key_type(key)
    return typing.get_origin(tp) or tp


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _space(raw, where: str) -> list[Param]:
    raw = mapping(raw, f"{where}: space")
    if not raw:
        raise ConfigError(f"{where}: space is empty; give at least one key to search, e.g. "
                          "space: {method.temperature: {type: logfloat, low: 0.05, high: 1.0}}")
    out = []
    for key, value in raw.items():
        p = f"{where}: space.{key}"
        check_key(key, f"{where}: space: ")
        ftype = field_type(key)
        if dataclasses.is_dataclass(ftype):
            raise ConfigError(f"{p}: {key!r} is a section, not a value; search one of its keys, e.g. {key}.{dataclasses.fields(ftype)[0].name}")
        if isinstance(value, list):
            value = {"type": "categorical", "choices": value}
        if not isinstance(value, dict):
            raise ConfigError(f"{p}: give {{type, low, high}} (float/logfloat/int) or a list of choices, got {value!r}")
        for k in value:
            if k not in PARAM_KEYS:
                raise ConfigError(f"{p}: unknown key {k!r}{suggest(k, PARAM_KEYS)}; allowed: {', '.join(PARAM_KEYS)}")
        kind = value.get("type")
        if kind is None:
            kind = "categorical" if "choices" in value else ("int" if ftype is int else "float")
        check_choice(f"{p}.type", kind, PARAM_TYPES)
        log = value.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"{p}.log: expected true or false, got {log!r}")
        if kind == "logfloat":
            kind, log = "float", True
        if kind == "categorical":
            choices = value.get("choices")
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"{p}: a categorical parameter needs a non-empty list of choices, e.g. choices: [0.1, 0.5]")
            if len({json.dumps(c, sort_keys=True) for c in choices}) != len(choices):
                raise ConfigError(f"{p}: choices {choices!r} repeat a value; list each value once")
            extra = [k for k in ("low", "high", "log", "step") if k in value]
            if extra:
                raise ConfigError(f"{p}: {extra[0]!r} does not apply to a categorical parameter; give either choices or low/high")
            out.append(Param(key, "categorical", choices=list(choices)))
            continue
        if "choices" in value:
            raise ConfigError(f"{p}: choices go with type: categorical, not {kind}; drop `type:` or `choices:`")
        if ftype not in (int, float):
            raise ConfigError(f"{p}: {key} is not a number ({getattr(ftype, '__name__', ftype)}); search it with a list "
                              f"of choices instead")
        if kind == "float" and ftype is int:
            raise ConfigError(f"{p}: {key} is an integer; use type: int (or a list of choices)")
        low, high, step = value.get("low"), value.get("high"), value.get("step")
        for name, v in (("low", low), ("high", high)):
            if not _number(v):
                raise ConfigError(f"{p}.{name}: {v!r} is not a number; give {name}: <number>")
        if kind == "int":
            for name, v in (("low", low), ("high", high), ("step", step)):
                if v is not None and not (isinstance(v, int) or float(v).is_integer()):
                    raise ConfigError(f"{p}.{name}: {v!r} is not an integer (type: int); use {math.floor(v)} or {math.ceil(v)}")
            low, high = int(low), int(high)
            step = int(step) if step is not None else None
        if not low < high:
            raise ConfigError(f"{p}: low {low} is not below high {high}; give low < high (a fixed value belongs in set:)")
        if log and low <= 0:
            raise ConfigError(f"{p}: log: true needs low > 0, got low {low}; use e.g. low: {high / 1000:g}, or drop log")
        if step is not None:
            if not _number(step) or step <= 0:
                raise ConfigError(f"{p}.step: {step!r} must be a positive number")
            if log and (kind == "float" or step != 1):
                raise ConfigError(f"{p}: log and step do not combine (Optuna's rule); drop one of them")
            if step > high - low:
                raise ConfigError(f"{p}.step: {step} is wider than [low, high] = [{low}, {high}]; use a smaller step")
        out.append(Param(key, kind, low=low, high=high, log=log, step=step))
    return out


def base_config(spec: StudySpec, overrides: list[str] = ()) -> dict:
    """The study's resolved base run config as a dict: the study's `set`, then `--set` overrides, `name` =
    the study's name, dataset and output paths absolute (workers may start elsewhere). Validated."""
    raw = apply_overrides(spec.base, list(overrides))
    raw["name"] = spec.name
    cfg = _load(raw, f"{spec.where}: base config (with set: and --set)")
    cfg.output.root = str(Path(cfg.output.root).expanduser().resolve())
    return to_dict(cfg)


def trial_config(base: dict, params: dict) -> RunConfig:
    """The run config of a trial: the base with the sampled `key: value`s set, as one layer (a sampled
    method.name drops the base's method knobs that the sampled method does not take)."""
    return load_config(apply_layer(base, params))


def _load(raw: dict, where: str) -> RunConfig:
    try:
        return load_config(raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_space(spec: StudySpec, base: dict) -> int:
    """Validate the run config at every extreme of the space (crossed when that is at most
    MAX_EXTREME_CONFIGS configs, else one parameter at a time) and what the objective and pruner need.
    Returns the number of configs checked."""
    extremes = {p.key: p.extremes() for p in spec.space}
    total = math.prod(len(v) for v in extremes.values())
    if total <= MAX_EXTREME_CONFIGS:
        combos = [dict(zip(extremes, values)) for values in itertools.product(*extremes.values())]
    else:
        first = {k: v[0] for k, v in extremes.items()}
        combos = [{**first, k: x} for k, values in extremes.items() for x in values]
    for combo in combos:
        desc = ", ".join(f"{k}={json.dumps(v)}" for k, v in combo.items())
        try:
            cfg = trial_config(base, combo)
        except ConfigError as exc:
            raise ConfigError(f"{spec.where}: space: the run config at ({desc}) is invalid: {exc}; narrow the space "
                              f"or fix the base") from None
        protocol = OBJECTIVES[spec.objective]
        if protocol not in cfg.eval.protocols:
            raise ConfigError(f"{spec.where}: objective {spec.objective} needs the {protocol} evaluation, but "
                              f"eval.protocols is {cfg.eval.protocols} at ({desc}); add {protocol} to eval.protocols or "
                              f"use another objective")
        if spec.pruner.name != "none" and not cfg.eval.knn_every:
            raise ConfigError(f"{spec.where}: pruner {spec.pruner.name} needs kNN top-1 during training, but eval.knn_every "
                              f"is 0 at ({desc}); set eval.knn_every: 1 (in set:) or pruner: none")
        if spec.pruner.name != "none" and cfg.eval.knn_every >= cfg.optim.epochs:
            raise ConfigError(f"{spec.where}: pruner {spec.pruner.name}: with eval.knn_every {cfg.eval.knn_every} and "
                              f"optim.epochs {cfg.optim.epochs} no trial reports before its last epoch, so none can be "
                              f"pruned; lower eval.knn_every or raise optim.epochs (or pruner: none)")
    return len(combos)


def make_sampler(spec: StudySpec, seed_offset: int = 0):
    """A fresh Optuna sampler. `seed_offset` keeps two workers (or a resumed invocation) from drawing the same
    sequence as another one with the same seed."""
    import optuna

    kwargs = dict(spec.sampler.kwargs)
    cls = getattr(optuna.samplers, SAMPLERS[spec.sampler.name])
    if "seed" in inspect.signature(cls).parameters and kwargs.get("seed") is not None:
        kwargs["seed"] = int(kwargs["seed"]) + seed_offset
    if spec.sampler.name == "grid":
        kwargs["search_space"] = {p.key: p.grid_values(spec.where) for p in spec.space}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, ImportError) as exc:
        raise ConfigError(f"{spec.where}: sampler {spec.sampler.name} ({kwargs}): {exc}") from None


def make_pruner(spec: StudySpec):
    import optuna

    cls = getattr(optuna.pruners, PRUNERS[spec.pruner.name])
    try:
        return cls(**spec.pruner.kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{spec.where}: pruner {spec.pruner.name} ({spec.pruner.kwargs}): {exc}") from None
