"""Optuna studies over run configs: `python -m bench_ssl.tune STUDY.yaml [--n-trials N] [--workers W]
[--launcher local|slurm] [--storage URL]`. Each trial is one run of the engine, in the results store."""

from ..lazy import exports

__getattr__ = exports(__name__, {"tune_figures": "report", "open_study": "storage", **{
    name: "spec" for name in ("Param", "StudySpec", "base_config", "check_space", "load_study_spec", "trial_config")}})

__all__ = ["Param", "StudySpec", "base_config", "check_space", "load_study_spec", "open_study", "trial_config",
           "tune_figures"]
