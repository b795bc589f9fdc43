"""What a study module declares: the paper figure it reproduces, the published cells, how a run maps onto a
cell, the effects the paper claims, and the figure's form (heatmap, bars, lines). Most studies only fill in
the class attributes and `key_of`; the cells, the matching and the figure are done here."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ... import paper as published
from .. import figures
from ..agreement import Z95, Claim


def half_widths(cells: pd.DataFrame) -> list[float]:
    """Error bars: the half-width of each cell's 95% interval (seeds and test-set size; see report.agreement)."""
    if "se" not in cells:
        return list(cells["std"])
    return [Z95 * float(e) if e is not None else math.nan for e in cells["se"]]


def field_rows(runs: pd.DataFrame, metric: str, **columns) -> pd.DataFrame:
    """For `Study.cell_rows`: the runs again, `value` the result field `metric` in % (NaN unless finished),
    `columns` set on every row. A finished run without the field is left out: it did not evaluate it, so it
    makes no cell rather than one shown as not run yet."""
    rows = runs.copy()
    raw = pd.to_numeric(rows[metric], errors="coerce") if metric in rows else pd.Series(np.nan, index=rows.index)
    rows["value"] = (raw * 100).where(rows["status"] == "done")
    for name, v in columns.items():
        rows[name] = v
    return rows[(rows["status"] != "done") | rows["value"].notna()]


@dataclass
class PaperCell:
    key: tuple
    value: float  # NaN where the paper gives text instead of a number
    note: str = ""  # that text, e.g. 'fail'


@dataclass
class DrawContext:
    metric_label: str  # e.g. "linear top-1 (%)"
    ours_setup: str  # e.g. "CIFAR-10, ConvNet, 2 epochs, 1 seed"
    paper_setup: str


@dataclass
class Match:
    """Our cells -> the paper's cells. `by_rank` names the parts matched by rank rather than by value (a
    scaled-down grid such as the quick profile's batch sizes), with how, for the caption."""

    paper_key: dict
    by_rank: dict = field(default_factory=dict)  # part name -> "64→256, 128→512, ..."


def number(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def views(run: dict, key: str) -> list[str]:
    """augment.view1 / view2 of a loaded run: a JSON string in the table, a list in a config."""
    value = run.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return []
    return list(value) if isinstance(value, (list, tuple)) else []


def align_levels(ours: list, paper: list) -> tuple[dict, str]:
    """Match our levels of one axis to the paper's: by value when every one of ours is published, else by
    rank (our i-th smallest to the paper's i-th smallest), e.g. a quick profile's batch 64/128/256 for the
    paper's 256/512/1024. Returns ({ours: paper or None}, a description when matched by rank)."""
    ours_s = sorted(set(ours), key=float)
    paper_s = sorted(set(paper), key=float)
    if all(any(math.isclose(float(o), float(p)) for p in paper_s) for o in ours_s):
        return {o: next(p for p in paper_s if math.isclose(float(o), float(p))) for o in ours_s}, ""
    mapping = {o: (paper_s[i] if i < len(paper_s) else None) for i, o in enumerate(ours_s)}
    desc = ", ".join(f"{figures.fmt_tick(o)}→{figures.fmt_tick(p) if p is not None else '–'}" for o, p in mapping.items())
    return mapping, desc


class Study:
    name = ""  # the sweep's name (without a profile suffix such as _quick): the registry key
    figure = ""  # e.g. "SimCLR Fig. 5"
    title = ""  # e.g. "composition of data augmentations"
    citation = ""  # e.g. "Chen et al. 2020, arXiv:2002.05709"
    paper_table = ""  # the packaged CSV (bench_ssl/paper/data)
    paper_setup = ""  # what the paper ran, e.g. "ImageNet, ResNet-50, batch 4096, 100 epochs"
    expected = ""  # the shape the paper shows, one sentence
    parts: tuple[str, ...] = ()  # names of a cell key's parts, e.g. ("loss", "negatives")
    orders: dict = {}  # part index -> the order of its values (others: numbers ascending, then text)
    kind = "bar"  # bar | line | heatmap
    x = 0  # the part on the x axis
    hue: int | None = None  # the part told apart by colour (and marker)
    facet: int | None = None  # the part that splits the figure into rows
    categorical_x = True  # lines over evenly spaced categories, or over the numeric value
    xlog = False
    sequential_hue = False  # the hue part is ordered (batch sizes): a sequential palette instead of categories
    separate_x: tuple = ()  # x values drawn as lone points, not joined to the line (e.g. AutoAug)
    claims_by = "the paper"  # who claims the effects the report checks
    metric_text = ""  # what the figure shows, for its caption (default: the report's metric, e.g. linear top-1)
    metric_label = ""  # our panel's axis label (default: the report's metric)
    paper_metric_label = "linear top-1 (%)"  # the paper panel's axis label

    # ------------------------------------------------------------------ to fill in
    def paper(self) -> list[PaperCell]:
        raise NotImplementedError

    def key_of(self, run: dict) -> tuple | None:
        """The cell a run belongs to, in our own units (None: not a cell of this figure)."""
        raise NotImplementedError

    def claims(self, match: Match) -> list[Claim]:
        """Effects the paper claims, in paper keys (`match` tells which of them our sweep has)."""
        return []

    @property
    def has_paper(self) -> bool:
        """Published numbers to compare with (else: our cells and the claimed shape only)."""
        return bool(self.paper_table)

    @property
    def has_best(self) -> bool:
        """The cells are rival settings of one thing, so the paper's best setting can be looked for in ours (not
        so when each cell measures something else, e.g. SimCLR Table 3's four prediction tasks)."""
        return self.has_paper

    def cell_rows(self, runs: pd.DataFrame) -> pd.DataFrame:
        """The rows the cells are built from (`key_of` each, `value` the metric): the runs themselves, or e.g.
        one row per run and protocol for a study whose cells are (method, protocol). `key_of` of a run itself
        is then the group the run is listed and drawn under (run table, learning curves, embeddings)."""
        return runs

    def cell_table(self, cells: pd.DataFrame) -> pd.DataFrame | None:
        """The report's Cells table in the study's own form (None: the standard one, a row per cell)."""
        return None

    def groups(self) -> dict:
        """Subsets of cells to correlate on their own, {name: predicate(paper key)}, besides all cells."""
        return {}

    # ------------------------------------------------------------------ defaults
    def match(self, keys: list[tuple]) -> Match:
        published_keys = {c.key for c in self.paper()}
        return Match({k: k if k in published_keys else None for k in keys})

    def label(self, key: tuple) -> str:
        return ", ".join(figures.fmt_tick(v) for v in key)

    def part_label(self, part: int, value) -> str:
        return figures.fmt_tick(value)

    def sort_key(self, key: tuple):
        out = []
        for i, v in enumerate(key):
            order = self.orders.get(i)
            if order is not None and v in order:
                out.append((0, order.index(v), ""))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append((1, float(v), ""))
            else:
                out.append((2, 0.0, str(v)))
        return tuple(out)

    def load_paper(self) -> pd.DataFrame:
        return published.load(self.paper_table)

    def best_overall(self) -> tuple[str, float] | None:
        cells = [c for c in self.paper() if math.isfinite(c.value)]
        if not cells:
            return None
        best = max(cells, key=lambda c: c.value)
        return self.label(best.key), best.value

    # ------------------------------------------------------------------ the figure
    def height_in(self) -> float:
        """The figure's height at print width (PAGE_WIDTH_IN)."""
        rows = len(self.orders.get(self.facet, [0, 0])) if self.facet is not None else 1
        return 3.5 if self.kind == "heatmap" else 0.6 + 2.3 * rows

    def draw(self, cells: pd.DataFrame, paper: pd.DataFrame, ctx: DrawContext, match: Match, fig=None):
        """Ours (left) beside the paper's figure rebuilt from the published numbers (right), into `fig` (a
        Figure or SubFigure; a new figure of PAGE_WIDTH_IN x height_in() when None)."""
        keys = list(paper["key"]) + list(cells["key"])
        facets = [None] if self.facet is None else self._ordered_values(self.facet, [k[self.facet] for k in keys], keys)
        with figures.style():
            fig = fig or figures.new_figure(figures.PAGE_WIDTH_IN, 0.6 + 2.3 * len(facets))
            axes = fig.subplots(len(facets), 2, squeeze=False)
            for row, facet in enumerate(facets):
                ours_rows = [self._point(k, m, s, n, "ok" if n else "missing", note or "n/a")
                             for k, m, s, n, note in zip(cells["key"], cells["mean"], half_widths(cells), cells["n_done"],
                                                         cells["missing_note"])
                             if self.facet is None or k[self.facet] == facet]
                paper_rows = [self._point(k, v, math.nan, 1, "ok" if math.isfinite(v) else "note", note)
                              for k, v, note in zip(paper["key"], paper["value"], paper["note"])
                              if self.facet is None or k[self.facet] == facet]
                suffix = f" — {self.part_label(self.facet, facet)}" if facet is not None else ""
                self._panel(axes[row, 0], ours_rows, f"Ours{suffix}", self.metric_label or ctx.metric_label, legend=True)
                self._panel(axes[row, 1], paper_rows, f"Paper{suffix}", self.paper_metric_label, legend=True)
            first = f" — {self.part_label(self.facet, facets[0])}" if facets[0] is not None else ""
            axes[0, 0].set_title(f"Ours{first}\n{figures.wrap(ctx.ours_setup)}", fontsize=7.5)
            axes[0, 1].set_title(f"Paper{first}\n{figures.wrap(ctx.paper_setup)}", fontsize=7.5)
            if self.hue is not None:
                figures.legends_below(fig, list(axes.flat), self.parts[self.hue])
            fig.suptitle(f"{self.figure}: {self.title}")
        return fig

    def _point(self, key, value, err, n, state, note) -> dict:
        return {"x": key[self.x], "hue": key[self.hue] if self.hue is not None else None, "value": float(value),
                "err": float(err) if err is not None else math.nan, "state": state, "note": note}

    def _panel(self, ax, rows: list[dict], title: str, ylabel: str, legend: bool) -> None:
        ax.set_title(title)
        if not rows:
            ax.text(0.5, 0.5, "no cells", ha="center", va="center", transform=ax.transAxes)
            return
        keys = [tuple(r["x"] if i == self.x else (r["hue"] if i == self.hue else 0) for i in range(len(self.parts)))
                for r in rows]
        x_order = self._ordered_values(self.x, [r["x"] for r in rows], keys)
        hue_order = self._ordered_values(self.hue, [r["hue"] for r in rows], keys) if self.hue is not None else [None]
        hue_labels = {h: self.part_label(self.hue, h) if self.hue is not None else None for h in hue_order}
        # colours over the study's whole order of hue values (not just this panel's), so a value keeps its colour
        all_hues = self._ordered_values(self.hue, [*self.orders.get(self.hue, []), *hue_order], keys) \
            if self.hue is not None and not self.sequential_hue else hue_order
        palette = {(self.part_label(self.hue, h) if self.hue is not None else None): c
                   for h, c in self._palette(all_hues).items()}
        rows = [{**r, "hue": hue_labels[r["hue"]]} for r in rows]
        hue_names = [hue_labels[h] for h in hue_order]
        xlabel = self.parts[self.x]
        if self.kind == "bar":
            labelled = [{**r, "x": self.part_label(self.x, r["x"])} for r in rows]
            figures.bars(ax, labelled, x_order=[self.part_label(self.x, x) for x in x_order], hue_order=hue_names,
                         hue_colors=palette, ylabel=ylabel, xlabel=xlabel, legend=legend)
        else:
            if self.categorical_x:
                labelled = [{**r, "x": self.part_label(self.x, r["x"])} for r in rows]
                figures.lines(ax, labelled, x_order=[self.part_label(self.x, x) for x in x_order], hue_order=hue_names,
                              hue_colors=palette, ylabel=ylabel, xlabel=xlabel, legend=legend,
                              separate=tuple(self.part_label(self.x, x) for x in self.separate_x))
            else:
                figures.lines(ax, rows, x_order=None, hue_order=hue_names, hue_colors=palette, ylabel=ylabel,
                              xlabel=xlabel, xlog=self.xlog, legend=legend)

    def _palette(self, hues: list) -> dict:
        """The same colour for the same hue value in both panels (ours and the paper's)."""
        if self.sequential_hue:
            return dict(zip(hues, figures.colors(len(hues), sequential=True)))
        return dict(zip(hues, figures.colors(len(hues))))

    def _ordered_values(self, part: int, values: list, keys: list[tuple]) -> list:
        uniq = list(dict.fromkeys(values))

        def sk(v):
            probe = tuple(v if i == part else 0 for i in range(len(self.parts)))
            return self.sort_key(probe)[part]

        return sorted(uniq, key=sk)


class GenericStudy(Study):
    """A sweep without a registered paper figure: one bar per cell (the varying keys, seeds pooled)."""

    figure = "Sweep"
    kind = "bar"

    def __init__(self, name: str, varying: list[str]):
        self.name = name
        self.title = name
        self.parts = tuple(k for k in varying if k != "seed") or ("run",)

    def paper(self) -> list[PaperCell]:
        return []

    def key_of(self, run: dict) -> tuple | None:
        if self.parts == ("run",):
            return ("all runs",)
        return tuple(_hashable(run.get(k)) for k in self.parts)

    def label(self, key: tuple) -> str:
        """`name=moco, momentum=0.99`: the varying keys that apply to the cell (another method's knob is left out)."""
        if self.parts == ("run",):
            return "all runs"
        return ", ".join(f"{p.split('.')[-1]}={figures.fmt_tick(v)}" for p, v in zip(self.parts, key) if v is not None)

    LABEL_CHARS = 48  # a tick label's line: the labels take at most about half of the page's width

    def wrap(self, label: str) -> str:
        """A long cell label on several lines, broken only between its `key=value` parts, so that the bars keep
        their width on the page (a sweep over many keys would otherwise push the axes off it). Not figures.wrap:
        that breaks at any space, also inside a list value such as `view1=["crop", "flip"]`."""
        lines: list[str] = []
        for part in re.split(r", (?=[\w.]+=)", label):
            if lines and len(lines[-1]) + 2 + len(part) <= self.LABEL_CHARS:
                lines[-1] += ", " + part
            else:
                lines.append(part)
        return "\n".join(lines)

    def height_in(self, labels: list[str] = ()) -> float:
        """A row per bar (at least 4), taller by the extra lines of the wrapped labels."""
        return 1.2 + 0.22 * max(4, len(labels)) + 0.12 * sum(label.count("\n") for label in labels)

    def draw(self, cells: pd.DataFrame, paper: pd.DataFrame, ctx: DrawContext, match: Match, fig=None):
        labels = [self.wrap(label) for label in cells["label"]][::-1]
        with figures.style():
            fig = fig or figures.new_figure(figures.PAGE_WIDTH_IN, self.height_in(labels))
            ax = fig.subplots()
            means = np.asarray(cells["mean"], dtype=float)[::-1]
            stds = np.nan_to_num(np.asarray(half_widths(cells), dtype=float)[::-1])
            ok = np.isfinite(means)
            ax.barh(np.flatnonzero(ok), means[ok], xerr=stds[ok], color=figures.PALETTE[0], capsize=1.5, zorder=2)
            top = float(np.nanmax(means)) if ok.any() else 1.0
            notes = list(cells["missing_note"])[::-1]
            for i in np.flatnonzero(~ok):
                figures.mark_missing(ax, 0, i - 0.4, top * 0.3, 0.8, notes[i] or "n/a")
            ax.set_yticks(range(len(labels)), labels)
            ax.set_xlabel(ctx.metric_label)
            ax.set_title(f"Ours — {ctx.ours_setup}", fontsize=7.5)
            ax.grid(axis="y", visible=False)
            fig.suptitle(f"Sweep {self.name}: {ctx.metric_label} per cell")
        return fig


def _hashable(v):
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


__all__ = ["DrawContext", "GenericStudy", "Match", "PaperCell", "Study", "align_levels", "field_rows", "number", "views"]
