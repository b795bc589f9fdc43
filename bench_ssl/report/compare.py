"""One study run twice, compared cell by cell: `python -m bench_ssl.report DIR1 DIR2 ...` (e.g. the quick and
the GPU profile, or one sweep on two machines). Cells are matched through the published cell each maps to (a
scaled-down grid is matched to the paper by rank, so its cells meet the full grid's there), else by label. Each
later sweep is set against the first: the difference per cell with its 95% interval, the rank agreement of the
two with a bootstrap interval and a permutation p-value, and every claimed effect's verdict in each sweep."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import figures
from .agreement import MIN_CELLS, correlations, interval
from .data import ReportError
from .report import FigureItem, Report, build, ci_text, correlation_row, fmt, generator, mean_std, verdict_line


@dataclass
class Comparison:
    reports: list[Report]
    title: str
    cell_table: pd.DataFrame  # one row per matched cell: each sweep's mean ± std and interval, the differences
    claim_table: pd.DataFrame  # one row per claimed effect: the paper's difference, each sweep's and its verdict
    rank_table: pd.DataFrame  # each later sweep's cells ranked against the first's
    sweep_table: pd.DataFrame  # what each sweep ran: setup, device, verdict counts, resolution
    figure: FigureItem
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [r.sweep.name for r in self.reports]


def _cell_key(row) -> object:
    return ("paper", row["paper_key"]) if row["paper_key"] is not None else ("label", row["label"])


def _check_same_study(reports: list[Report]) -> None:
    first = reports[0]
    for r in reports[1:]:
        same = (r.known and first.known and type(r.study) is type(first.study) and r.title == first.title) or (
            not r.known and not first.known and r.study.parts == first.study.parts)
        if not same:
            raise ReportError(f"{r.sweep.path} is {r.title!r} but {first.sweep.path} is {first.title!r}; compare the "
                              f"results of one study (e.g. results/temperature_quick results/temperature)")


def build_comparison(sweep_dirs: list[str | Path], metric: str | None = None) -> Comparison:
    if len(sweep_dirs) < 2:
        raise ReportError("a comparison needs two or more sweep folders, e.g. results/temperature_quick results/temperature")
    names = [Path(d).resolve().name for d in sweep_dirs]
    if len(set(names)) < len(names):
        raise ReportError(f"two of the folders have the same name ({', '.join(names)}); give each sweep once")
    reports = [build(d, metric) for d in sweep_dirs]
    _check_same_study(reports)
    first = reports[0]
    indexed = [{_cell_key(c): c for c in r.cells.to_dict("records")} for r in reports]
    order = list(indexed[0]) + [k for ix in indexed[1:] for k in ix if k not in indexed[0]]
    rows, pairs = [], {r.sweep.name: ([], [], []) for r in reports[1:]}
    for key in order:
        cells = [ix.get(key) for ix in indexed]
        some = next(c for c in cells if c is not None)
        row = {"cell": some["paper_label"] or some["label"] if key[0] == "paper" else some["label"]}
        if first.known:
            row["paper"] = fmt(some["paper"]) if key[0] == "paper" else "–"
        base = cells[0]
        for r, c in zip(reports, cells):
            name = r.sweep.name
            row[f"{name}"] = mean_std(c["mean"], c["std"], c["n_done"]) if c is not None else "not run"
            row[f"{name} 95%"] = ci_text(c["ci_low"], c["ci_high"]) if c is not None else "–"
            if c is base:
                continue
            delta, se = _difference(base, c)
            lo, hi = interval(delta, se)
            row[f"{name} − {first.sweep.name}"] = "–" if not math.isfinite(delta) else (
                f"{delta:+.1f} {ci_text(lo, hi)}" + ("" if math.isfinite(se) else " (noise unknown)"))
            if base is not None and c is not None and base["n_done"] and c["n_done"]:
                ours, ref, err = pairs[name]
                ours.append(float(c["mean"]))
                ref.append(float(base["mean"]))
                err.append(float(c["se"]) if c["se"] is not None and math.isfinite(c["se"]) else math.nan)
        rows.append(row)
    cell_table = pd.DataFrame(rows)
    ranks = correlations({f"{name} vs {first.sweep.name}": pair for name, pair in pairs.items()})
    rank_table = pd.DataFrame([correlation_row(c) for c in ranks],
                              columns=["sweeps", "n", "Spearman ρ", "95% interval", "Kendall τ-b", "95% interval ", "p",
                                       "evidence?"])
    notes = []
    if first.known and any(r.match.by_rank for r in reports):
        notes.append("Cells are matched through the published cell each maps to; a scaled-down grid is matched to "
                     "the paper by rank (see each sweep's own report), so its cells meet the full grid's there.")
    missing = [f"{r.sweep.name}: {int((r.cells['state'] == 'missing').sum())} of {len(r.cells)}" for r in reports
               if (r.cells["state"] == "missing").any()]
    if missing:
        notes.append("Cells without a finished run (left out of the differences and the ranks): " + "; ".join(missing) + ".")
    title = f"{first.title}: {' vs '.join(r.sweep.name for r in reports)}"
    return Comparison(reports=reports, title=title, cell_table=cell_table, claim_table=_claims(reports),
                      rank_table=rank_table, sweep_table=_sweeps(reports), figure=_figure(reports, pairs, title),
                      notes=notes)


def _difference(a, b) -> tuple[float, float]:
    if a is None or b is None or not (a["n_done"] and b["n_done"]):
        return math.nan, math.nan
    se = [c["se"] if c["se"] is not None else math.nan for c in (a, b)]
    return float(b["mean"] - a["mean"]), math.hypot(*se) if all(math.isfinite(s) for s in se) else math.nan


def _claims(reports: list[Report]) -> pd.DataFrame:
    if not reports[0].known:
        return pd.DataFrame()
    texts = list(dict.fromkeys(c.text for r in reports for c in r.claims))
    rows = []
    for text in texts:
        row = {"claim": text}
        for r in reports:
            c = next((c for c in r.claims if c.text == text), None)
            if "paper" not in row and c is not None:
                row["paper"] = "–" if not math.isfinite(c.paper_delta) else f"{c.paper_delta:+.1f}"
            row[r.sweep.name] = "not in this sweep" if c is None else (
                "–" if not math.isfinite(c.ours_delta) else f"{c.ours_delta:+.1f} {ci_text(*c.ours_ci)}")
            row[f"{r.sweep.name}: verdict"] = c.verdict if c is not None else "n/a"
        rows.append(row)
    return pd.DataFrame(rows)


def _sweeps(reports: list[Report]) -> pd.DataFrame:
    rows = []
    for r in reports:
        s, env = r.caption_setup, dict(r.environment)
        rows.append({"sweep": r.sweep.name, "runs": ", ".join(f"{n} {k}" for k, n in r.counts.items()),
                     "setup": f"{s['dataset']}, {s['images']}, {s['backbone']}, {s['epochs']}, {s['batch']}, {s['seeds']}",
                     "device": env.get("device", "–"),
                     "verdicts": verdict_line(r.verdicts).replace("Verdicts (claimed effects and the best setting): ", "")
                     or "–",
                     "resolution": r.resolution})
    return pd.DataFrame(rows)


def _figure(reports: list[Report], pairs: dict, title: str) -> FigureItem:
    """Each later sweep's cells against the first's, with both 95% intervals, and the line y = x."""
    first = reports[0]
    base = {_cell_key(c): c for c in first.cells.to_dict("records")}

    def draw(fig=None):
        with figures.style():
            fig = fig or figures.new_figure(figures.PAGE_WIDTH_IN * 0.62, 3.4)
            ax = fig.subplots()
            lo, hi = math.inf, -math.inf
            for j, r in enumerate(reports[1:]):
                xs, ys, xe, ye = [], [], [], []
                for c in r.cells.to_dict("records"):
                    b = base.get(_cell_key(c))
                    if b is None or not (b["n_done"] and c["n_done"]):
                        continue
                    xs.append(b["mean"])
                    ys.append(c["mean"])
                    xe.append(_half(b))
                    ye.append(_half(c))
                if xs:
                    ax.errorbar(xs, ys, xerr=xe, yerr=ye, linestyle="none", marker=figures.MARKERS[j % 8],
                                color=figures.PALETTE[j % 8], capsize=1.5, elinewidth=0.7, label=r.sweep.name)
                    lo = min(lo, *np.subtract(xs, xe), *np.subtract(ys, ye))
                    hi = max(hi, *np.add(xs, xe), *np.add(ys, ye))
            if math.isfinite(lo):
                pad = 0.05 * max(hi - lo, 1.0)
                ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#777777", linestyle="--", linewidth=0.8,
                        label="same value")
                ax.set_xlim(lo - pad, hi + pad)
                ax.set_ylim(lo - pad, hi + pad)
            else:
                ax.text(0.5, 0.5, "no cell finished in both", ha="center", va="center", transform=ax.transAxes)
            ax.set_xlabel(f"{first.sweep.name}: {first.sweep.metric_label}")
            ax.set_ylabel(f"later sweep: {first.sweep.metric_label}" if len(reports) > 2
                          else f"{reports[1].sweep.name}: {reports[1].sweep.metric_label}")
            ax.set_aspect("equal", adjustable="box")
            ax.legend(loc="upper left", fontsize=6.5)
            fig.suptitle(figures.wrap(title, 70), fontsize=8.5)
        return fig

    fig = draw()
    caption = (f"One point per cell finished in both sweeps: its mean in {first.sweep.name} (x) and in the other "
               f"sweep (y), bars the 95% intervals (seeds and test-set size). Points on the dashed line have the same "
               f"value; a different size or machine shifts them off it, and what carries over is the order (the rank "
               f"table: below {MIN_CELLS} cells, or at p ≥ 0.05, a correlation is not evidence).")
    return FigureItem(title="Cell by cell", caption=caption, figure=fig, png=figures.png_bytes(fig), draw=draw,
                      height_in=fig.get_size_inches()[1])


def _half(c) -> float:
    lo, hi = c["ci_low"], c["ci_high"]
    return (hi - lo) / 2 if lo is not None and math.isfinite(lo) and math.isfinite(hi) else 0.0


def stem(comparison: Comparison) -> str:
    return "compare_" + "_vs_".join(comparison.names)


def render_html(c: Comparison) -> str:
    from .html import CSS, e, img, table

    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{e(c.title)}</title><style>{CSS}</style></head><body>", f"<h1>{e(c.title)}</h1>",
             f"<p class='sub'>{len(c.reports)} sweeps of one study, cell by cell; each later one against "
             f"<code>{e(c.names[0])}</code>.</p>"]
    parts += [f"<p class='note'>{e(n)}</p>" for n in c.notes]
    parts += ["<h2>Sweeps</h2>", table(c.sweep_table),
              "<h2>Figure</h2>", f"<figure>{img(c.figure.png, c.figure.title)}<figcaption><b>Figure 1.</b> "
                                 f"{e(c.figure.caption)}</figcaption></figure>",
              "<h2>Rank agreement between the sweeps</h2>", table(c.rank_table)]
    if not c.claim_table.empty:
        parts += ["<h2>Effects the paper claims, in each sweep</h2>", table(c.claim_table)]
    parts += ["<h2>Cells</h2>",
              "<p>Each sweep's mean ± std over seeds and 95% interval; the differences to the first sweep with their "
              "95% interval (both sweeps' errors combined).</p>", table(c.cell_table),
              "<h2>Reproduce</h2>",
              "<pre>" + "\n".join(e(cmd) for r in c.reports for cmd in r.commands[:1]) + "\n"
              + e(f"python -m bench_ssl.report {' '.join(str(r.sweep.path) for r in c.reports)}") + "</pre>",
              f"<p class='na'>Made by {e(generator())}.</p>", "</body></html>"]
    return "\n".join(parts)


def write_pdf(c: Comparison, path) -> list[str]:
    from .pdf import _Doc, _figure, save

    d = _Doc(c.reports[0], header=c.title)
    d.section_start("Comparison")
    d.text(c.title, size=11, weight="bold")
    for n in c.notes:
        d.text("Note: " + n, color="#8a4b00")
    d.text("Sweeps", size=10, weight="bold")
    d.table(c.sweep_table)
    d.text("Rank agreement between the sweeps", size=10, weight="bold")
    d.table(c.rank_table)
    if not c.claim_table.empty:
        d.text("Effects the paper claims, in each sweep", size=10, weight="bold")
        d.table(c.claim_table)
    _figure(d, c.figure, 1)
    d.section_start("Cells")
    d.text("Each sweep's mean ± std over seeds and 95% interval; the differences to the first sweep with their 95% "
           "interval (both sweeps' errors combined).", color="#333333")
    d.table(c.cell_table)
    d.text("Reproduce", size=10, weight="bold", gap=0.05)
    for r in c.reports:
        d.text(r.commands[0], size=7, family="DejaVu Sans Mono")
    d.text(f"python -m bench_ssl.report {' '.join(str(r.sweep.path) for r in c.reports)}", size=7,
           family="DejaVu Sans Mono")
    return save(d.pages, path, c.title)


__all__ = ["Comparison", "build_comparison", "render_html", "stem", "write_pdf"]
