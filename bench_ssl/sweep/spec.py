"""Sweep files: a base run config plus the axes that vary, and how to launch the runs.

    name: temperature              # results go to <output.root>/<name>/<run_id>/
    base: ../configs/smoke.yaml    # a run config: a path (relative to this file) or an inline mapping
    set: {optim.epochs: 1}         # overrides of the base, dotted keys
    grid: {method.temperature: [0.1, 0.5], augment.color.strength: [0.5, 1.0]}   # Cartesian product
    zip: {optim.batch_size: [256, 512], optim.epochs: [200, 100]}                 # varied together
    runs: [{model.head.type: none}, {model.head.type: mlp, grid: {model.head.out_dim: [64, 128]}}]  # a list;
                                   # an entry's own grid: crosses only that entry (what one method or head takes)
    seeds: 3                       # or [0, 1, 2]: every combination repeated with these seeds
    exclude: ["augment.view1 == augment.view2", {method.temperature: 0.1, optim.batch_size: 512}]
    derived: {optim.lr: "0.3 * optim.batch_size / 256"}
    launcher: {name: local, max_parallel: 2, runs_per_gpu: 1}
    slurm: {partition: gpu, time_min: 120, gpus_per_node: 1, cpus_per_task: 8, mem_gb: 32}
    profiles:                      # named variants, chosen with --profile NAME (or --set profile=NAME)
      quick: {set: {model.backbone: convnet, optim.epochs: 2}, seeds: 1}

A profile's `set` is applied after the sweep's own; any other key it gives (grid, zip, runs, seeds, exclude,
derived, launcher, slurm) replaces the sweep's. Its results go to `<name>_<profile>` unless it sets `name`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import check_key, from_dict
from ..params import check_choice, check_int, first_repeat
from ..config.spec_file import as_list, mapping, profile_names, read_base, read_spec
from ..errors import ConfigError

LAUNCHERS = ("local", "submitit-local", "slurm")
DEFAULT_RUNS_PER_GPU = 4
AUTO_FUSE = 4  # --fuse auto: runs per fused group (HFTA's gains grow with K until the GPU is busy; not measured here)
TOP_LEVEL = ("name", "description", "base", "set", "grid", "zip", "runs", "seeds", "exclude", "derived", "launcher", "slurm",
             "profiles")


@dataclass
class LauncherOptions:
    name: str = "local"
    max_parallel: int | None = None  # None: one run per CPU machine, runs_per_gpu x GPUs on a GPU machine
    # `python -m bench_ssl.bench` on one H200: 4 packed ResNet-18 CIFAR-10 runs gave 1.17x the runs/hour of one
    # at a time (2: 1.03x); lower it for runs that need the whole GPU (big models, big images)
    runs_per_gpu: int = DEFAULT_RUNS_PER_GPU
    # runs trained as one fused model (bench_ssl.fused): off, auto (AUTO_FUSE), or K; off until measured on a GPU
    fuse: str | int = "off"

    def check(self, p: str, flags: dict[str, str] | None = None) -> None:
        """`flags`: field -> the command-line flag that set it (named in the error instead of `p.field`)."""
        key = {f: f"{p}.{f}" for f in ("name", "max_parallel", "runs_per_gpu", "fuse")} | dict(flags or {})
        check_choice(key["name"], self.name, LAUNCHERS)
        if self.max_parallel is not None:
            check_int(key["max_parallel"], self.max_parallel, low=1)
        check_int(key["runs_per_gpu"], self.runs_per_gpu, low=1)
        if self.fuse not in ("off", "auto"):
            if isinstance(self.fuse, str) and self.fuse.isdigit():
                self.fuse = int(self.fuse)
            if isinstance(self.fuse, bool) or not isinstance(self.fuse, int) or self.fuse < 1:
                raise ConfigError(f"{key['fuse']}: {self.fuse!r} is not allowed; allowed: off, auto, or the number of "
                                  "runs trained as one fused model (2 or more; 1 is off)")

    def fuse_k(self) -> int:
        """Runs per fused group (1: none fused)."""
        return {"off": 1, "auto": AUTO_FUSE}.get(self.fuse, self.fuse) if isinstance(self.fuse, str) else self.fuse


@dataclass
class SlurmOptions:
    """submitit's Slurm parameters; each run is one task of a job array."""

    partition: str | None = None
    time_min: int = 60
    gpus_per_node: int = 0
    cpus_per_task: int = 4
    mem_gb: float | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    array_parallelism: int = 64
    signal_delay_s: int = 120  # Slurm warns this long before the time limit: checkpoint and requeue
    max_requeues: int = 3  # how often a run that keeps hitting its time limit is requeued
    additional: dict = field(default_factory=dict)  # any other sbatch option, e.g. {exclude: node12}

    def check(self, p: str) -> None:
        check_int(f"{p}.time_min", self.time_min, low=1)
        check_int(f"{p}.gpus_per_node", self.gpus_per_node, low=0)
        check_int(f"{p}.cpus_per_task", self.cpus_per_task, low=1)
        check_int(f"{p}.array_parallelism", self.array_parallelism, low=1)
        check_int(f"{p}.signal_delay_s", self.signal_delay_s, low=0)
        check_int(f"{p}.max_requeues", self.max_requeues, low=0)


@dataclass
class SweepSpec:
    name: str
    path: Path | None
    base: dict
    description: str = ""
    grid: dict = field(default_factory=dict)
    zip: list[dict] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    exclude: list = field(default_factory=list)
    derived: dict = field(default_factory=dict)
    launcher: LauncherOptions = field(default_factory=LauncherOptions)
    slurm: SlurmOptions = field(default_factory=SlurmOptions)
    profile: str | None = None
    profiles: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"sweep {self.path or self.name}"


def load_sweep(source: str | Path | dict, profile: str | None = None) -> SweepSpec:
    """Parse and check a sweep file (or dict), in `profile` if given: structure, axis keys, launcher
    options. Runs are checked one by one when expanded (`expand`)."""
    raw, path, where = read_spec(source, "sweep", TOP_LEVEL, "sweeps/smoke.yaml", profile)
    spec = SweepSpec(
        name=str(raw["name"]),
        path=path,
        base=read_base(raw, path, where, "sweep"),
        description=str(raw.get("description") or ""),
        grid=mapping(raw.get("grid"), f"{where}: grid"),
        zip=[g for g in (mapping(g, f"{where}: zip") for g in as_list(raw.get("zip"))) if g],  # `zip: {}`: none
        runs=[mapping(r, f"{where}: runs[{i}]") for i, r in enumerate(as_list(raw.get("runs")))],
        seeds=_seeds(raw.get("seeds"), where),
        exclude=as_list(raw.get("exclude")),
        derived=mapping(raw.get("derived"), f"{where}: derived"),
        launcher=from_dict(LauncherOptions, raw.get("launcher") or {}, "launcher"),
        slurm=from_dict(SlurmOptions, raw.get("slurm") or {}, "slurm"),
        profile=profile,
        profiles=profile_names(raw, where),
    )
    spec.launcher.check("launcher")
    spec.slurm.check("slurm")
    _check_axes(spec)
    given = [k for k in ("grid", "zip", "runs", "seeds") if k in raw]
    if given and not (spec.grid or spec.zip or spec.runs or spec.seeds):  # `grid: {}` clears a grid, not every axis
        raise ConfigError(f"{spec.where}: {', '.join(f'{k}:' for k in given)} {'is' if len(given) == 1 else 'are'} "
                          "empty, so the sweep varies nothing; list the values to sweep (e.g. grid: "
                          "{method.temperature: [0.1, 0.5]}), or run the base config alone with bench_ssl.run")
    return spec


def _seeds(value, where: str) -> list[int]:
    if value is None:
        return []
    if value == []:
        raise ConfigError(f"{where}: seeds: [] lists no seeds; give a count (e.g. 3) or a list (e.g. [0, 1, 2]), or "
                          "leave seeds out for the base config's seed")
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"{where}: seeds: {value} must be >= 1 (a number of seeds) or a list of seeds")
        return list(range(value))
    if isinstance(value, list) and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        _once(value, f"{where}: seeds", "or give a count (seeds: 3 is [0, 1, 2])")
        return list(value)
    raise ConfigError(f"{where}: seeds: {value!r} must be a count (e.g. 3) or a list of non-negative integers")


def _once(values: list, where: str, hint: str = "or use seeds: for repeats") -> None:
    """A value listed twice on one axis would be the same run twice, silently merged into one: most likely a typo."""
    twice = first_repeat(values)
    if twice is not None:
        raise ConfigError(f"{where}: {twice[0]!r} is listed twice, which would be the same run twice; list each value "
                          f"once (a typo for another value?), {hint}")


def _check_axes(spec: SweepSpec) -> None:
    """Every axis key must name a config field, appear in one axis only, and list its values."""
    owner: dict[str, str] = {}

    def claim(key: str, axis: str):
        check_key(key, f"{spec.where}: {axis} axis {key!r}: ")
        if key in owner and owner[key] != axis:
            raise ConfigError(f"{spec.where}: {key!r} is varied by both {owner[key]} and {axis}; vary it in one place")
        owner[key] = axis

    for key, values in spec.grid.items():
        claim(key, "grid")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{spec.where}: grid axis {key!r}: give a non-empty list of values, got {values!r}")
        _once(values, f"{spec.where}: grid axis {key!r}")
    for i, group in enumerate(spec.zip):
        lengths = set()
        for key, values in group.items():
            claim(key, f"zip[{i}]" if len(spec.zip) > 1 else "zip")
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{spec.where}: zip axis {key!r}: give a non-empty list of values, got {values!r}")
            lengths.add(len(values))
        if len(lengths) > 1:
            sizes = ", ".join(f"{k}: {len(v)}" for k, v in group.items())
            raise ConfigError(f"{spec.where}: zip lists must have equal lengths ({sizes})")
    for i, run in enumerate(spec.runs):
        for key, values in run.items():
            if key != "grid":
                claim(key, "runs")
                continue
            for inner, options in mapping(values, f"{spec.where}: runs[{i}].grid").items():
                claim(inner, "runs")
                if not isinstance(options, list) or not options:
                    raise ConfigError(f"{spec.where}: runs[{i}].grid axis {inner!r}: give a non-empty list of values, "
                                      f"got {options!r}")
                _once(options, f"{spec.where}: runs[{i}].grid axis {inner!r}")
    if spec.seeds:
        claim("seed", "seeds")
    for key in spec.derived:
        claim(key, "derived")
    for i, cond in enumerate(spec.exclude):
        if isinstance(cond, dict):
            for key in cond:
                check_key(key, f"{spec.where}: exclude[{i}] key {key!r}: ")
        elif not isinstance(cond, str):
            raise ConfigError(f"{spec.where}: exclude[{i}]: {cond!r} must be a mapping of key: value or an expression string")
