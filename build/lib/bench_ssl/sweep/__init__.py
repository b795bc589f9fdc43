"""Sweeps: YAML ablation grids expanded into validated runs and launched locally, with submitit or on Slurm."""

from .expand import SweepRun, combinations, expand, varying_keys
from .spec import LauncherOptions, SlurmOptions, SweepSpec, load_sweep

__all__ = ["LauncherOptions", "SlurmOptions", "SweepRun", "SweepSpec", "combinations", "expand", "load_sweep", "varying_keys"]
