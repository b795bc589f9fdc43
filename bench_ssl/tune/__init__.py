"""Optuna studies over run configs: `python -m bench_ssl.tune STUDY.yaml [--n-trials N] [--workers W]
[--launcher local|slurm] [--storage URL]`. Each trial is one run of the engine, in the results store."""

from .report import tune_figures
from .spec import Param, StudySpec, base_config, check_space, load_study_spec, trial_config
from .storage import open_study

__all__ = ["Param", "StudySpec", "base_config", "check_space", "load_study_spec", "open_study", "trial_config",
           "tune_figures"]
