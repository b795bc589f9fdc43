"""Everything one report shows, built once and written as HTML and/or PDF: the reproduced figure beside the
published one, the agreement statistics, the cells and runs, the learning curves and the environment."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .. import __version__
from . import figures
from ..results.formats import finite as _finite
from .agreement import MIN_CELLS, Best, ClaimResult, Correlation, resolution, summary
from .cells import agreement, build_cells
from .data import Sweep, curves, environment, load_sweep, setup, short_setup
from .studies import DrawContext, GenericStudy, Match, Study, find

@dataclass
class FigureItem:
    title: str
    caption: str
    figure: object  # matplotlib Figure, at print width
    png: bytes = b""
    draw: object = None  # draw(fig_or_subfigure): the same figure again, e.g. onto a PDF page
    height_in: float = 3.0


@dataclass
class Report:
    sweep: Sweep
    study: Study
    known: bool  # a registered paper figure (else a generic report: table, curves, environment)
    title: str
    caption_setup: dict
    cells: pd.DataFrame
    paper: pd.DataFrame
    match: Match
    correlations: list[Correlation]
    best: Best | None
    claims: list[ClaimResult]
    figure: FigureItem
    curve_figures: list[FigureItem]
    cell_table: pd.DataFrame
    run_table: pd.DataFrame
    environment: list[tuple[str, str]]
    commands: list[str]
    notes: list[str] = field(default_factory=list)  # partial sweep, runs outside the figure, ...
    generated_at: str = ""
    resolution: str = ""  # what differences this test-set size and number of seeds can tell apart
    verdicts: dict = field(default_factory=dict)  # agrees / opposite / inconclusive / n/a: how many of each
    study_figures: list[FigureItem] = field(default_factory=list)  # an Optuna study's plots (tune results only)
    embedding_figures: list[FigureItem] = field(default_factory=list)  # t-SNE of test features (eval `embedding`)
    best_config: Path | None = None  # an Optuna study's best trial as a run config

    @property
    def counts(self) -> dict:
        return self.sweep.runs["status"].value_counts().to_dict()

    @property
    def complete(self) -> bool:
        return bool((self.sweep.runs["status"] == "done").all())


def build(sweep_dir: str | Path, metric: str | None = None) -> Report:
    sweep = load_sweep(sweep_dir, metric)
    file_stem = Path(sweep.file).stem if sweep.file else None
    study = find(file_stem, sweep.name)
    known = study is not None
    if study is None:
        study = GenericStudy(sweep.name, sweep.varying)
    if hasattr(study, "configure"):
        study.configure(sweep.runs)
    cells, paper, match = build_cells(study, study.cell_rows(sweep.runs))
    s = setup(sweep.runs)
    ctx = DrawContext(sweep.metric_label, short_setup(s), getattr(study, "paper_setup", ""))
    if known:
        corr, best, claims = agreement(study, cells, paper, match)
        if not study.has_paper:  # nothing published to correlate with or to name a best setting
            corr, best = [], None
        if not study.has_best:
            best = None
    else:
        corr, best, claims = [], None, []
    title = f"{study.figure}: {study.title}" if known else f"Sweep {sweep.name}"
    notes = _notes(sweep, study, cells, match)
    fig = study.draw(cells, paper, ctx, match)
    main = FigureItem(title=title, caption=_caption(study, known, sweep, s, cells, match), figure=fig,
                      png=figures.png_bytes(fig), draw=lambda f: study.draw(cells, paper, ctx, match, fig=f),
                      height_in=fig.get_size_inches()[1])
    study_figs, best_config = _optuna_figures(sweep)
    return Report(
        sweep=sweep, study=study, known=known, title=title, caption_setup=s, cells=cells, paper=paper, match=match,
        correlations=corr, best=best, claims=claims, figure=main, curve_figures=_curve_figures(study, sweep, cells),
        cell_table=_study_table(study, cells, known, match), run_table=_run_table(study, sweep, cells),
        environment=environment(sweep.runs), commands=_commands(sweep), notes=notes,
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), study_figures=study_figs,
        resolution=resolution_text(cells), verdicts=summary(claims, best) if known else {},
        best_config=best_config, embedding_figures=_embedding_figures(study, sweep, cells),
    )


def _optuna_figures(sweep: Sweep) -> tuple[list[FigureItem], Path | None]:
    """The plots of an Optuna study (`bench_ssl.tune` leaves study.json in its results folder), redrawn
    from its storage when they are older; ([], None) for a sweep."""
    path = Path(sweep.path)
    if not (path / "study.json").exists():
        return [], None
    from ..tune.report import BEST_CONFIG, tune_figures

    n = len(sweep.runs)
    complete = int((sweep.runs["status"] == "done").sum())
    out = []
    for title, png in tune_figures(path):
        data = png.read_bytes()
        caption = (f"Optuna's {title[0].lower() + title[1:]} of study {sweep.name} ({n} trial runs in the results "
                   f"store; pruned and failed trials included where Optuna draws them).")
        if title == "Parameter importances" and complete < 10:
            caption += (f" It rests on {complete} complete trial(s), fewer than the ~10 an importance estimate needs: "
                        "a hint, not a finding.")
        out.append(FigureItem(title=title, caption=caption, figure=None, png=data, height_in=0.0))
    best = path / BEST_CONFIG
    return out, best if best.exists() else None


def _caption(study: Study, known: bool, sweep: Sweep, s: dict, cells: pd.DataFrame, match: Match) -> str:
    metric = study.metric_text or sweep.metric_label.replace(' (%)', '')
    ours = (f"{metric} on the {s['dataset']} test set after {s['epochs'] or '?'} of "
            f"pretraining ({s['methods']}) on {s['images']}, {s['backbone']}, {s['batch']}; mean over {s['seeds']}, ")
    if study.kind == "heatmap":
        se = pd.to_numeric(cells["se"], errors="coerce").dropna()
        ours += ("each cell's 95% interval (seeds and test-set size) is in the Cells table"
                 + (f", about ±{1.96 * float(se.median()):.1f} points" if not se.empty else "")
                 + "; the heatmaps do not share a colour scale: each spans its own range, given in its title, so "
                   "compare the orders of the cells, not their colours")
    else:
        ours += ("error bars the 95% interval (seeds and test-set size); bars start at 0, a line plot's axis that does "
                 "not is marked //")
    missing = int((cells["state"] == "missing").sum())
    parts = [f"{'Left' if known and study.has_paper else 'Ours'}: {ours}."]
    if known and study.has_paper:
        parts.append(f"Right: the paper's published numbers ({study.paper_setup}; {study.citation}), rebuilt from "
                     f"bench_ssl/paper/data/{study.paper_table}.csv.")
        for axis, how in match.by_rank.items():
            parts.append(f"Our {axis} levels are matched to the paper's by rank ({how}).")
    if missing:
        ids = {i for ids in cells.loc[cells["state"] == "missing", "run_ids"] for i in ids}  # a run counted once
        runs = sweep.runs.loc[sweep.runs["run_id"].isin(ids), "status"].value_counts().to_dict()
        pruned = int((cells.loc[cells["state"] == "missing", "missing_note"] == "pruned").sum())
        if pruned:
            parts.append(f"Hatched 'pruned': {pruned} of {len(cells)} cells are trials the pruner stopped early "
                         f"(finished, with no final evaluation).")
        runs.pop("pruned", None)
        if missing - pruned:
            order = ["pending", "running", "failed", "corrupt"]
            what = ", ".join(f"{runs[k]} {k}" for k in sorted(runs, key=lambda k: (k not in order, order.index(k)
                                                                                     if k in order else 0, k)))
            parts.append(f"Hatched: {missing - pruned} of {len(cells)} cells have no finished run yet (their runs: {what}).")
    if known and study.expected:
        whose = "The paper's" if study.has_paper else "The expected"
        parts.append(f"{whose} shape: {study.expected}.")
    return " ".join(parts)


def _notes(sweep: Sweep, study: Study, cells: pd.DataFrame, match: Match) -> list[str]:
    notes = []
    counts = sweep.runs["status"].value_counts().to_dict()
    not_done = {k: v for k, v in counts.items() if k not in ("done", "pruned")}  # a pruned trial is finished
    if counts.get("pruned"):
        notes.append(f"{counts['pruned']} trial(s) were stopped early by the study's pruner (finished, by design); "
                     "they have no final evaluation, so their cells show no value.")
    if not_done:
        what = ", ".join(f"{n} {s}" for s, n in not_done.items())
        notes.append(f"Partial sweep: {what} of {len(sweep.runs)} runs. Cells without a finished run are marked n/a and "
                     f"left out of the agreement statistics; make the report again when the sweep is done.")
    outside = sum(1 for row in sweep.runs.to_dict("records") if study.key_of(row) is None)
    if outside:
        notes.append(f"{outside} run(s) do not belong to a cell of this figure; they are listed in the run table only.")
    unmatched = [lab for lab, pk in zip(cells["label"], cells["paper_key"]) if pk is None]
    if unmatched and study.paper():
        notes.append(f"No published number for: {', '.join(unmatched[:8])}{', ...' if len(unmatched) > 8 else ''}.")
    return notes


def resolution_text(cells: pd.DataFrame) -> str:
    """The report's resolution: the typical cell's 95% interval and the smallest difference it can tell apart."""
    done = cells[cells["n_done"] > 0]
    se = pd.to_numeric(done["se"], errors="coerce").dropna()
    if se.empty:
        return ("Resolution unknown: the results give neither the test-set size nor two seeds per cell, so no "
                "difference here is counted as evidence.")
    n_test = pd.to_numeric(done["n_test"], errors="coerce").dropna()
    seeds = sorted(set(int(n) for n in done["n_done"]))
    typical = float(se.median())
    test = f"{int(n_test.median()):,} test images" if not n_test.empty else "an unknown test-set size"
    return (f"Resolution: {test} and {'/'.join(map(str, seeds))} seed(s) per cell give each cell a 95% interval of about "
            f"±{1.96 * typical:.1f} points; two cells closer than {resolution(typical):.1f} points cannot be told "
            f"apart, and a claim is called only when its interval excludes zero.")


def agreement_heading(r) -> str:
    return "Agreement with the paper" if r.study.has_paper or not r.known else "Against the expected shape"


def verdict_line(verdicts: dict, with_best: bool = True) -> str:
    if not verdicts:
        return ""
    parts = [f"{verdicts.get('agrees', 0)} agree", f"{verdicts.get('opposite', 0)} opposite",
             f"{verdicts.get('inconclusive', 0)} inconclusive (within noise)"]
    if verdicts.get("n/a"):
        parts.append(f"{verdicts['n/a']} not decidable yet (missing cells)")
    what = "claimed effects and the best setting" if with_best else "claimed effects"
    return f"Verdicts ({what}): " + ", ".join(parts) + "."


CORRELATION_COLUMNS = ["cells", "n", "Spearman ρ", "95% interval", "Kendall τ-b", "95% interval ", "p", "evidence?"]


def correlation_row(c: Correlation) -> list:
    corr = lambda v: "n/a" if not _finite(v) else f"{v:+.2f}"  # noqa: E731
    ci = lambda lo_hi: "–" if not _finite(lo_hi[0]) else f"[{lo_hi[0]:+.2f}, {lo_hi[1]:+.2f}]"  # noqa: E731
    p = "–" if not _finite(c.p_value) else f"{c.p_value:.3f}"
    evidence = ("yes" if c.evidence else f"no (n < {MIN_CELLS})" if c.n < MIN_CELLS else
                f"no (p = {c.p_value:.2f})" if _finite(c.p_value) else "no")
    return [c.group, c.n, corr(c.spearman), ci(c.spearman_ci), corr(c.kendall), ci(c.kendall_ci), p, evidence]


def best_text(b: Best | None) -> str:
    """The best-setting verdict in words: ties, and whether the best stands clear of the runner-up."""
    if b is None or b.paper_label is None:
        return "n/a: no cell has both a result and a published number yet."
    ties = b.ties or [b.ours_label]
    ours = (f"our best is a tie of {len(ties)} cells at {fmt(b.ours_value)} ({', '.join(ties)})" if len(ties) > 1
            else f"our best is {b.ours_label} at {fmt(b.ours_value)}")
    if b.runner_up_label is not None:
        clear = b.distinguishable
        gap = b.ours_value - b.runner_up_value
        ours += (f", {gap:.1f} points above the runner-up {b.runner_up_label}"
                 + (" (beyond the noise)" if clear else " (within the noise: not distinguishable)" if clear is False
                    else " (noise unknown)"))
    rank = "" if b.agrees else f"; the paper's best ranks {b.rank_in_ours} of {b.n} in ours"
    return (f"The paper's best of the cells we ran is {b.paper_label} ({fmt(b.paper_value)}); {ours}{rank}. "
            f"Verdict: {b.verdict}.")


def ci_text(low, high) -> str:
    return "–" if not (_finite(low) and _finite(high)) else f"[{fmt(low)}, {fmt(high)}]"


def fmt(v, digits: int = 1) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(v) else f"{v:.{digits}f}"


def mean_std(mean, std, n) -> str:
    if not n:
        return "n/a"
    return f"{fmt(mean)} ± {fmt(std)}" if n > 1 and not math.isnan(std) else fmt(mean)


def _study_table(study: Study, cells: pd.DataFrame, known: bool, match: Match) -> pd.DataFrame:
    own = study.cell_table(cells)
    return own if own is not None else _cell_table(cells, known, match)


def _run_order(study: Study, sweep: Sweep, cells: pd.DataFrame) -> dict:
    """A run's group (`key_of` the run) -> its place: that of the first cell holding one of its runs (the cell's
    own key, unless the study splits a run into several cells)."""
    group = {r["run_id"]: study.key_of(r) for r in sweep.runs.to_dict("records")}
    order: dict = {}
    for ids in cells["run_ids"]:
        for run_id in ids:
            order.setdefault(group.get(run_id), len(order))
    return order


def _cell_table(cells: pd.DataFrame, known: bool, match: Match) -> pd.DataFrame:
    rows = []
    for c in cells.to_dict("records"):
        row = {"cell": c["label"]}
        if known:
            if match.by_rank:
                row["paper cell"] = c["paper_label"] or "–"
            row["paper"] = c["paper_note"] or fmt(c["paper"]) if c["paper_key"] is not None else "–"
        row["ours (mean ± std)"] = mean_std(c["mean"], c["std"], c["n_done"])
        row["95% interval"] = ci_text(c["ci_low"], c["ci_high"])
        row["seeds done"] = f"{c['n_done']}/{c['n_runs']}"
        row["runs"] = c["statuses"]
        rows.append(row)
    return pd.DataFrame(rows)


def _run_table(study: Study, sweep: Sweep, cells: pd.DataFrame) -> pd.DataFrame:
    order = _run_order(study, sweep, cells)
    rows = []
    for r in sweep.runs.to_dict("records"):
        key = study.key_of(r)
        error = r.get("error")
        trained = sum(1 for x in curves(r["run_dir"]) if "loss" in x)
        planned = r.get("optim.epochs", "")
        rows.append({
            "_order": (order.get(key, len(order)), r.get("seed") or 0),
            **({"trial": r.get("trial") or "–"} if "trial" in sweep.runs else {}),  # an Optuna study's trial number
            "run": r["run_id"],
            "cell": study.label(key) if key is not None else "(not in the figure)",
            "seed": r.get("seed", ""),
            "status": r["status"],
            sweep.metric_label: fmt(r["value"]),
            "kNN top-1 (%)": fmt(_pct(r.get("knn_top1"))),
            "linear top-1 (%)": fmt(_pct(r.get("linear_top1"))),
            "epochs": f"{trained}/{planned}" if r["status"] != "done" and planned != "" else planned,  # pruned: 1/3
            "wall (s)": fmt(r.get("wall_time_s"), 0),
            "note": str(error) if isinstance(error, str) else "",
        })
    rows.sort(key=lambda x: x["_order"])
    table = pd.DataFrame(rows).drop(columns="_order")
    if sweep.metric_label in ("kNN top-1 (%)", "linear top-1 (%)"):  # the metric is already one of the two
        table = table.loc[:, ~table.columns.duplicated()]
    return table


def _pct(v) -> float:
    try:
        return float(v) * 100
    except (TypeError, ValueError):
        return math.nan


def _curve_figures(study: Study, sweep: Sweep, cells: pd.DataFrame) -> list[FigureItem]:
    """The learning curves of every run in one figure: a panel per metric, a colour per cell (in the figure's
    order), seeds thin and their mean thick; runs outside the figure's cells are one more entry."""
    order = _run_order(study, sweep, cells)
    groups: dict = {}
    for r in sweep.runs.to_dict("records"):
        key = study.key_of(r)
        recs = curves(r["run_dir"])
        knn = [(x["epoch"], x["knn_top1"] * 100) for x in recs if x.get("knn_top1") is not None]
        label = study.label(key) if key is not None else "(not in the figure)"
        group = groups.setdefault(order.get(key, len(order)), {"label": label, "runs": []})
        group["runs"].append({"epochs": [x["epoch"] for x in recs if "loss" in x],
                              "loss": [x["loss"] for x in recs if "loss" in x],
                              "knn_epochs": [e for e, _ in knn], "knn": [v for _, v in knn]})
    cells_curves = [groups[k] for k in sorted(groups)]
    title = "Learning curves"
    with figures.style():
        fig = figures.overlaid_curves(cells_curves, title)
        png = figures.png_bytes(fig, tight=False, dpi=150)
    caption = ("Every run: the training loss per epoch (left) and, where the kNN monitor ran during training, its top-1 "
               "on the test set (right); one colour per cell, its seeds as thin lines and their mean as a thick one. "
               "A cell with no finished epoch is listed as such.")
    return [FigureItem(title=title, caption=caption, figure=fig, png=png,
                       draw=lambda f, c=cells_curves, t=title: figures.overlaid_curves(c, t, fig=f),
                       height_in=fig.get_size_inches()[1])]


MAX_EMBEDDINGS = 12


def _embedding_figures(study: Study, sweep: Sweep, cells: pd.DataFrame) -> list[FigureItem]:
    """The t-SNE pictures the `embedding` evaluation left: one panel per cell (its first seed that has one),
    in the figure's order, at most MAX_EMBEDDINGS."""
    import json

    from ..eval.embedding import FILE

    order = _run_order(study, sweep, cells)
    found: dict = {}
    for r in sorted(sweep.runs.to_dict("records"), key=lambda r: r.get("seed") or 0):
        key = study.key_of(r)
        path = Path(r["run_dir"]) / FILE
        if key in found or not path.exists():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found[key] = {"title": study.label(key) if key is not None else r["run_id"], **data}
    if not found:
        return []
    keys = sorted(found, key=lambda k: order.get(k, len(order)))
    panels = [found[k] for k in keys[:MAX_EMBEDDINGS]]
    title = "Embeddings of the test features"
    with figures.style():
        fig = figures.embeddings(panels, title)
        png = figures.png_bytes(fig, tight=False, dpi=150)
    first = panels[0]
    caption = (f"{first.get('method', 't-SNE')} (perplexity {first.get('perplexity', '?')}) of {len(first['x'])} "
               f"class-balanced test images' frozen features, one panel per cell (its first seed with one), coloured "
               f"by class; positions and distances between clusters carry no meaning in t-SNE, only what lies "
               f"together.")
    if len(keys) > MAX_EMBEDDINGS:
        caption += f" The first {MAX_EMBEDDINGS} of {len(keys)} cells are shown."
    return [FigureItem(title=title, caption=caption, figure=fig, png=png,
                       draw=lambda f, p=panels, t=title: figures.embeddings(p, t, fig=f), height_in=fig.get_size_inches()[1])]


def _commands(sweep: Sweep) -> list[str]:
    """The exact command recorded at launch; for results from before that was recorded, the sweep (or study) file
    with the profile its folder name implies (overrides unknown: said so)."""
    from ..launch.command import shell_line

    cmds = []
    if sweep.command:
        cmds.append(shell_line(sweep.command))
    elif sweep.file:
        stem = Path(sweep.file).stem
        profile = sweep.name[len(stem) + 1:] if sweep.name.startswith(stem + "_") else ""
        tool = "tune" if sweep.study else "sweep"
        cmds.append(f"python -m bench_ssl.{tool} {sweep.file}{f' --profile {profile}' if profile else ''}  "
                    f"# launched before bench_ssl recorded commands: add the --set overrides it was run with")
    cmds.append(f"python -m bench_ssl.report {sweep.path} --out reports/ --format html,pdf")
    return cmds


def generator() -> str:
    return f"bench_ssl {__version__}"


__all__ = ["FigureItem", "Report", "agreement_heading", "build", "fmt", "generator", "mean_std"]
