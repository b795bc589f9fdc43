"""What a study leaves in its results folder besides the runs: Optuna's matplotlib figures as PNG files, the
best trial as a ready-to-run config (`best_config.yaml`), and `sweep.json` so tables and reports list the
trials' runs with the searched keys as the varying columns.

`tune_figures(study_dir) -> [(title, png_path)]` is what the HTML/PDF report embeds.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from types import SimpleNamespace

import yaml

from ..config import to_dict
from ..output import atomic_write_bytes, atomic_write_text
from ..results.manifest import write_manifest
from ..results.run_dir import RunDir
from .storage import open_study, read_study_json, storage_file

log = logging.getLogger("bench_ssl.tune")

BEST_CONFIG = "best_config.yaml"
FIGURES = (  # (title, file, function name in optuna.visualization.matplotlib)
    ("Optimisation history", "optimization_history.png", "plot_optimization_history"),
    ("kNN top-1 per epoch (what the pruner sees)", "intermediate_values.png", "plot_intermediate_values"),
    ("Parameter importances", "param_importances.png", "plot_param_importances"),
    ("Parallel coordinates", "parallel_coordinate.png", "plot_parallel_coordinate"),
    ("Slice plot", "slice.png", "plot_slice"),
)


def write_figures(study, study_dir: Path, target_name: str = "objective") -> list[tuple[str, Path]]:
    """Draw every figure that the study's trials allow (param importances need 2 completed trials, ...);
    a figure that cannot be drawn is skipped with a log line, and its old PNG removed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState

    study_dir = Path(study_dir)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    out = []
    for title, name, fn_name in FIGURES:
        path = study_dir / name
        reason = None
        if not complete and fn_name != "plot_intermediate_values":
            reason = "no completed trial yet"
        elif fn_name == "plot_param_importances" and len(complete) < 2:
            reason = "needs 2 completed trials"
        elif fn_name == "plot_intermediate_values" and not any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
            reason = "no trial reported kNN top-1 during training"
        if reason is None:
            try:
                fig = draw_figure(study, fn_name, target_name)
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
                atomic_write_bytes(path, buf.getvalue())
                plt.close(fig)
                out.append((title, path))
                continue
            except Exception as exc:  # a figure is never worth failing the study for
                reason = f"{type(exc).__name__}: {exc}"
                plt.close("all")
        log.info("figure %s skipped: %s", name, reason)
        path.unlink(missing_ok=True)
    return out


def draw_figure(study, fn_name: str, target_name: str = "objective"):
    """One of Optuna's matplotlib plots (`fn_name` in optuna.visualization.matplotlib), drawn readably."""
    import numpy as np
    import optuna
    from optuna.visualization import matplotlib as ovm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning and friends
        kwargs = {} if fn_name == "plot_intermediate_values" else {"target_name": target_name}
        if fn_name == "plot_param_importances" and hasattr(optuna.importance, "PedAnovaImportanceEvaluator"):
            kwargs["evaluator"] = optuna.importance.PedAnovaImportanceEvaluator()  # no scikit-learn needed
        with _plain_style():
            ax = getattr(ovm, fn_name)(study, **kwargs)
            fig = np.atleast_1d(ax).ravel()[0].figure
            fig.set_size_inches(max(fig.get_size_inches()[0], 8), max(fig.get_size_inches()[1], 5))
            _readable(fig)
    return fig


@contextlib.contextmanager
def _plain_style():
    """Optuna's matplotlib plots switch the global style to ggplot (white grid lines on grey); while they draw
    here that switch is a no-op and the report's own style applies (white ground, grey grid, larger type).
    Not thread-safe: the figures are drawn in one thread."""
    import matplotlib
    import matplotlib.pyplot as plt

    from ..report.figures import RC

    use = plt.style.use
    plt.style.use = lambda *args, **kwargs: None
    try:
        with matplotlib.rc_context({**RC, "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
                                    "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 8.5,
                                    "grid.alpha": 0.6, "grid.color": "#cccccc", "axes.edgecolor": "#555555",
                                    "axes.spines.top": True, "axes.spines.right": True}):
            yield
    finally:
        plt.style.use = use


def _readable(fig) -> None:
    """White-on-grey leftovers (the parallel-coordinate axes are drawn white) become grey, log axes keep
    their decades only, and tick labels that would print over each other are thinned."""
    from matplotlib.colors import to_hex
    from matplotlib.ticker import NullFormatter

    from ..report.layout import thin_tick_labels

    for ax in fig.axes:
        for line in ax.get_lines():
            if to_hex(line.get_color()) == "#ffffff":
                line.set_color("#888888")
        for spine in ax.spines.values():
            if to_hex(spine.get_edgecolor()) == "#ffffff":
                spine.set_edgecolor("#888888")
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                axis.set_minor_formatter(NullFormatter())
    thin_tick_labels(fig)


def tune_figures(study_dir: str | Path, refresh: bool | None = None) -> list[tuple[str, Path]]:
    """[(title, png path)] of a study's figures, for the HTML/PDF report. With refresh=None they are redrawn
    when a PNG is missing or older than the study's storage file (always for a database server); when the
    storage cannot be opened the existing PNGs are returned."""
    study_dir = Path(study_dir)
    info = read_study_json(study_dir)
    existing = [(title, study_dir / name) for title, name, _ in FIGURES if (study_dir / name).exists()]
    if info is None:
        return existing
    if refresh is None:
        file = storage_file(info["storage"])
        pngs = [study_dir / name for _, name, _ in FIGURES]
        refresh = file is None or not all(p.exists() for p in pngs) or (
            file.exists() and file.stat().st_mtime > min(p.stat().st_mtime for p in pngs))
    if not refresh:
        return existing
    try:
        study = open_study(study_dir)
    except Exception as exc:  # storage unreachable, or not written yet
        log.warning("study %s: cannot open its storage (%s); using the figures already drawn", study_dir, exc)
        return existing
    return write_figures(study, study_dir, info.get("objective", "objective"))


def best_trial(study):
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def write_best_config(study, spec, base: dict, study_dir: Path) -> Path | None:
    """`best_config.yaml`: the best trial's resolved run config, runnable with `python -m bench_ssl.run`."""
    from .spec import trial_config

    best = best_trial(study)
    if best is None:
        return None
    params = {p.key: p.decode(best.params[p.key]) for p in spec.space if p.key in best.params}
    run_dir = best.user_attrs.get("run_dir")
    cfg = RunDir(run_dir).read_config() if run_dir else None
    if cfg is None:
        cfg = trial_config(base, params)
    header = [
        f"# Best trial of study {spec.name}: trial {best.number}, {spec.objective} = {best.value:.4f}",
        "# params: " + ", ".join(f"{k}={v!r}" for k, v in params.items()),
        f"# run: {run_dir}" if run_dir else "# run: (not recorded)",
        f"#   python -m bench_ssl.run {Path(study_dir) / BEST_CONFIG}   # returns that run's result (same run id);",
        "#   add e.g. --set optim.epochs=200 --set name=best for a longer run of it",
    ]
    path = Path(study_dir) / BEST_CONFIG
    atomic_write_text(path, "\n".join(header) + "\n" + yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return path


def write_manifest_of_trials(study, spec, study_dir: Path) -> None:
    """sweep.json listing the runs of the study's trials, the searched keys as the varying ones."""
    runs, seen = [], set()
    for t in study.get_trials(deepcopy=False):
        run_dir = t.user_attrs.get("run_dir")
        if not run_dir or t.user_attrs.get("run_id") in seen:
            continue
        cfg = RunDir(run_dir).read_config()
        if cfg is None:  # not written yet, or no longer a valid config: left out of the manifest
            continue
        seen.add(t.user_attrs["run_id"])
        params = {p.key: p.decode(t.params[p.key]) for p in spec.space if p.key in t.params}
        runs.append(SimpleNamespace(run_id=t.user_attrs["run_id"], params=params, config=cfg, run_dir=RunDir(run_dir)))
    meta = SimpleNamespace(name=spec.name, path=spec.path, description=spec.description or f"Optuna study {spec.name}")
    command = (read_study_json(study_dir) or {}).get("command")
    write_manifest(Path(study_dir), meta, runs, [p.key for p in spec.space], command)


def write_report(study, spec, base: dict, study_dir: Path) -> dict:
    """Figures, best_config.yaml and sweep.json; returns {"figures": [...], "best_config": path or None}."""
    write_manifest_of_trials(study, spec, study_dir)
    best = write_best_config(study, spec, base, study_dir)
    figures = write_figures(study, study_dir, spec.objective)
    return {"figures": figures, "best_config": best}
