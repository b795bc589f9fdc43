"""One look for every figure: paper-size fonts, the Okabe-Ito colour-blind-safe palette, cividis for
heatmaps, hatched 'n/a' where a cell has no result yet, and the panels the studies are drawn with."""

from __future__ import annotations

import contextlib
import io
import math

import matplotlib

matplotlib.use("Agg")  # files only, never a window; set before pyplot is imported anywhere

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency, and in grey scale by marker
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
HEATMAP_CMAP = "cividis"  # perceptually uniform and colour-blind safe (Nunez et al. 2018)
MISSING = "#9a9a9a"
PAGE_WIDTH_IN = 6.75  # a two-column paper's text width: figures are drawn at print size, so 7-9 pt is 7-9 pt
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "figure.titlesize": 10,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.4,
    "lines.markersize": 4.5,
    "hatch.linewidth": 0.6,
    "hatch.color": MISSING,
    "pdf.fonttype": 42,  # TrueType in the PDF: the text (titles, labels) stays searchable and extractable
    "ps.fonttype": 42,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
}


@contextlib.contextmanager
def style():
    """Every report figure is created, drawn and saved inside this context."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(width_in: float = PAGE_WIDTH_IN, height_in: float = 3.0) -> Figure:
    return Figure(figsize=(width_in, height_in), layout="constrained")


def png_bytes(fig: Figure, tight: bool = True, dpi: float | None = None) -> bytes:
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", bbox_inches="tight" if tight else None, dpi=dpi or RC["savefig.dpi"])
    return buf.getvalue()


def colors(n: int, sequential: bool = False) -> list[str]:
    """n distinct colours: Okabe-Ito for categories, or evenly spaced along cividis for ordered levels
    (batch sizes, strengths), so that order reads as lightness."""
    if sequential and n > 1:
        cmap = matplotlib.colormaps[HEATMAP_CMAP]
        return [matplotlib.colors.to_hex(cmap(0.05 + 0.85 * i / (n - 1))) for i in range(n)]
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def _handle_color(handle) -> str:
    artist = handle.patches[0] if hasattr(handle, "patches") else handle.lines[0] if hasattr(handle, "lines") else handle
    line = hasattr(artist, "get_xdata")
    color = artist.get_color() if line or not hasattr(artist, "get_facecolor") else artist.get_facecolor()
    return matplotlib.colors.to_hex(color)


def legends_below(fig, axes, title: str | None = None) -> None:
    """Legends under the panels rather than over the data: one for the whole figure when every label has the
    same colour in every panel, else one under each panel (e.g. batch sizes matched by rank)."""
    axes = [ax for ax in axes if ax.get_legend_handles_labels()[1]]
    entries, colours, consistent = {}, {}, True
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(lab, h)
            c = _handle_color(h)
            consistent &= colours.setdefault(lab, c) == c
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if not entries:
        return
    if consistent:
        fig.legend(list(entries.values()), list(entries.keys()), loc="outside lower center", ncols=min(len(entries), 7),
                   title=title, title_fontsize=7, frameon=False)
        return
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(list(uniq.values()), list(uniq.keys()), loc="upper center", bbox_to_anchor=(0.5, -0.22),
                  ncols=min(len(uniq), 6), title=title, title_fontsize=7, frameon=False, columnspacing=1.0,
                  handlelength=1.2)


def wrap(text: str, width: int = 44) -> str:
    """Panel subtitles on at most a few short lines, so they never run into the neighbouring panel."""
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def fmt_tick(v) -> str:
    """A config value as a short label: 0.5 -> "0.5", 4096.0 -> "4096", 0.2588170214937917 -> "0.2588"
    (sampled values of an Optuna study would otherwise fill the axis); 1e30 -> "1e+30", not its 31 digits."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e9:
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _bottom(values: list[float]) -> float:
    """Bars start at 0: a bar's length is its value (a difference of a few points looks like one; the intervals
    and the verdicts say whether it is one)."""
    return 0.0


def mark_broken_axis(ax) -> None:
    """Two short slashes at the foot of the y axis: it does not start at zero."""
    kw = {"transform": ax.transAxes, "color": "#444444", "clip_on": False, "linewidth": 0.8}
    for dy in (0.0, 0.025):
        ax.plot([-0.018, 0.018], [0.01 + dy, 0.035 + dy], **kw)


def _err(d: dict) -> float:
    e = d.get("err")
    return e if e is not None and math.isfinite(e) and e > 0 else 0.0


def mark_missing(ax, x: float, y: float, width: float, height: float, text: str | None = "n/a",
                 fontsize: float = 6.5) -> None:
    """A hatched box, with a short note (unless None) where a result is expected but missing."""
    ax.add_patch(Rectangle((x, y), width, height, fill=False, hatch="////", edgecolor=MISSING, linewidth=0.6, zorder=1))
    if text:
        _missing_note(ax, x + width / 2, y + height / 2, text, fontsize)


def _missing_note(ax, x: float, y: float, text: str, fontsize: float) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color="#444444", zorder=2,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})


def bars(ax, data: list[dict], *, x_order: list, hue_order: list, hue_colors: dict, ylabel: str, xlabel: str = "",
         legend: bool = True) -> None:
    """Grouped bars. data: rows {x, hue, value, err, state, note}; state 'ok', 'missing' (expected, no result:
    hatched 'n/a') or 'note' (the source gives text instead of a number, e.g. 'fail')."""
    values = [d["value"] for d in data if d["state"] == "ok"]
    bottom = _bottom([v - _err(d) for v, d in zip(values, (d for d in data if d["state"] == "ok"))])
    highest = max((d["value"] + _err(d) for d in data if d["state"] == "ok"), default=1.0)
    top = highest + 0.12 * max(highest - bottom, 1.0)
    present = {x: [h for h in hue_order if any(d["x"] == x and d["hue"] == h for d in data)] for x in x_order}
    missing: dict = {}
    for hue in hue_order:
        for d in (d for d in data if d["hue"] == hue):
            i = x_order.index(d["x"])
            here = present[d["x"]]  # the bars of one group sit side by side, centred on their tick
            width = 0.8 / max(len(here), 2)
            left = i - width * len(here) / 2 + here.index(hue) * width
            if d["state"] == "ok":
                ax.bar(left + width / 2, d["value"] - bottom, width * 0.92, bottom=bottom, color=hue_colors[hue],
                       label=str(hue) if hue is not None else None, zorder=2)
                if d.get("err") and math.isfinite(d["err"]) and d["err"] > 0:
                    ax.errorbar(left + width / 2, d["value"], yerr=d["err"], color="black", capsize=1.5, linewidth=0.8, zorder=3)
            else:
                missing.setdefault(i, []).append((left + width * 0.04, width * 0.92, d.get("note") or "n/a"))
    for i, boxes in missing.items():  # hatched boxes, and one note over a group's missing bars (narrow bars
        height = (top - bottom) * 0.35  # side by side would print their notes over each other)
        for left, width, _ in boxes:
            mark_missing(ax, left, bottom, width, height, None)
        lo, hi = boxes[0][0], boxes[-1][0] + boxes[-1][1]
        _missing_note(ax, (lo + hi) / 2, bottom + height / 2, "\n".join(dict.fromkeys(n for _, _, n in boxes)), 6)
    ax.set_xticks(range(len(x_order)), [fmt_tick(x) for x in x_order])
    ax.set_xlim(-0.6, len(x_order) - 0.4)
    ax.set_ylim(bottom, top)
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.grid(axis="x", visible=False)
    if legend and len(hue_order) > 1:
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        if uniq:
            ax.legend(uniq.values(), uniq.keys(), loc="best")


def lines(ax, data: list[dict], *, x_order: list | None, hue_order: list, hue_colors: dict, ylabel: str,
          xlabel: str = "", xlog: bool = False, legend: bool = True, separate: tuple = ()) -> None:
    """One line per hue over x (categorical positions when x_order is given, numeric otherwise); missing
    points are an 'x' on the axis floor with their note; x values in `separate` (not on the scale of the others,
    e.g. AutoAug among colour strengths) are points, not joined to the line."""
    pos = (lambda x: x_order.index(x)) if x_order is not None else (lambda x: float(x))
    ok = [d for d in data if d["state"] == "ok"]
    lo, hi = (min(d["value"] - _err(d) for d in ok), max(d["value"] + _err(d) for d in ok)) if ok else (0.0, 1.0)
    span = max(hi - lo, 1.0)
    floor = lo - 0.25 * span
    notes: dict = {}
    for j, hue in enumerate(hue_order):
        rows = sorted((d for d in data if d["hue"] == hue), key=lambda d: pos(d["x"]))
        ok = [d for d in rows if d["state"] == "ok"]
        if ok:
            xs = [pos(d["x"]) for d in ok]
            ys = [d["value"] for d in ok]
            err = [d.get("err") if d.get("err") and math.isfinite(d["err"]) else 0.0 for d in ok]
            joined = [d["x"] not in separate for d in ok]
            ax.errorbar(xs, ys, yerr=err if any(err) else None, color=hue_colors[hue], marker=MARKERS[j % len(MARKERS)],
                        capsize=2 if any(err) else 0, label=str(hue) if hue is not None else None, zorder=3,
                        linestyle="none")
            ax.plot([x for x, k in zip(xs, joined) if k], [y for y, k in zip(ys, joined) if k], color=hue_colors[hue],
                    zorder=3)
        for d in rows:
            if d["state"] != "ok":
                ax.plot([pos(d["x"])], [floor], marker="x", color=hue_colors[hue], markersize=6, linestyle="none",
                        clip_on=False, zorder=4)
                notes.setdefault(pos(d["x"]), []).append(d.get("note") or "n/a")
    for x, texts in notes.items():  # one note per position, however many lines miss a point there
        ax.annotate("\n".join(dict.fromkeys(texts)), (x, floor), textcoords="offset points", xytext=(0, 5),
                    ha="center", va="bottom", fontsize=6.5, color="#444444")
    ax.set_ylim(floor - 0.08 * span, hi + 0.15 * span)
    if floor - 0.08 * span > 0:
        mark_broken_axis(ax)
    if x_order is not None:
        ax.set_xticks(range(len(x_order)), [fmt_tick(x) for x in x_order])
        ax.set_xlim(-0.4, len(x_order) - 0.6)
    elif xlog:
        ax.set_xscale("log", base=2 if all(float(d["x"]) >= 1 for d in data) else 10)
        ticks = sorted({float(d["x"]) for d in data})
        ax.set_xticks(ticks, [fmt_tick(t) for t in ticks])
        ax.minorticks_off()
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    if legend and len(hue_order) > 1 and ax.get_legend_handles_labels()[1]:
        ax.legend(loc="best")


def heatmap(ax, values: np.ndarray, *, missing: np.ndarray, absent: np.ndarray, rows: list[str], cols: list[str],
            title: str, xlabel: str, ylabel: str, cbar_label: str, fmt: str = ".1f") -> None:
    """An annotated seaborn heatmap; `missing` cells (expected, no result) are hatched 'n/a', `absent` cells
    (not part of this sweep) are left blank with a dash."""
    import seaborn as sns

    shown = np.where(np.isfinite(values), values, np.nan)
    finite = shown[np.isfinite(shown)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    sns.heatmap(shown, ax=ax, cmap=HEATMAP_CMAP, annot=True, fmt=fmt, annot_kws={"fontsize": 6}, vmin=vmin, vmax=vmax,
                linewidths=0.5, linecolor="white", square=True, cbar_kws={"label": cbar_label, "shrink": 0.8},
                xticklabels=cols, yticklabels=rows)
    for (r, c), miss in np.ndenumerate(missing):
        if miss:
            mark_missing(ax, c + 0.04, r + 0.04, 0.92, 0.92, "n/a", fontsize=5.5)
        elif absent[r, c]:
            ax.text(c + 0.5, r + 0.5, "–", ha="center", va="center", fontsize=6, color=MISSING)
    # each heatmap spans its own range (ours and a paper's are on different scales): said where it is read
    ax.set_title(f"{title}\ncolours: own scale, {vmin:{fmt}}–{vmax:{fmt}}" if finite.size else title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=45, length=0)
    ax.tick_params(axis="y", rotation=0, length=0)
    ax.grid(False)
    ax.figure.axes[-1].tick_params(labelsize=6)


def cell_colors(n: int) -> list[str]:
    """n colours for n cells: Okabe-Ito up to its size, else evenly spaced along a perceptual colormap."""
    if n <= len(PALETTE):
        return PALETTE[:n]
    cmap = matplotlib.colormaps["turbo"]
    return [matplotlib.colors.to_hex(cmap(0.05 + 0.9 * i / (n - 1))) for i in range(n)]


def overlaid_curves(cells: list[dict], title: str, loss_label: str = "training loss", knn_label: str = "kNN top-1 (%)",
                    fig=None) -> Figure:
    """One panel per metric (the training loss; the kNN monitor where it ran), every run in it: one colour per
    cell, its seeds as thin lines and their mean as a thick one; the cells' legend below, in columns.
    cells: {label, runs: [{epochs, loss, knn_epochs, knn}]}."""
    has_knn = any(r["knn"] for c in cells for r in c["runs"])
    n = max(1, len(cells))
    cols = 1 if n <= 4 else 2 if n <= 10 else 4 if n <= 24 else 5
    legend_rows = math.ceil(n / cols)
    height = 2.4 + 0.16 * legend_rows
    fig = fig or Figure(figsize=(PAGE_WIDTH_IN, height))
    top, bottom = 1 - 0.7 / height, (0.55 + 0.16 * legend_rows) / height
    axes = fig.subplots(1, 2 if has_knn else 1, squeeze=False,
                        gridspec_kw={"left": 0.08, "right": 0.98, "top": top, "bottom": bottom, "wspace": 0.25})[0]
    panels = [(axes[0], "loss", "epochs", loss_label)] + ([(axes[1], "knn", "knn_epochs", knn_label)] if has_knn else [])
    handles = []
    for color, cell in zip(cell_colors(n), cells):
        for ax, key, xkey, _ in panels:
            series = [(r[xkey], r[key]) for r in cell["runs"] if r[key]]
            for xs, ys in series:  # a run of one epoch is a point, not an invisible line
                ax.plot(xs, ys, color=color, linewidth=0.6, alpha=0.45, marker="o" if len(xs) == 1 else None,
                        markersize=3)
            lengths = {len(xs) for xs, _ in series}
            if series and len(lengths) == 1:
                mean = np.mean([ys for _, ys in series], axis=0)
                line, = ax.plot(series[0][0], mean, color=color, linewidth=1.6,
                                marker="o" if len(series[0][0]) == 1 else None, markersize=4)
                if ax is axes[0]:
                    handles.append((line, cell["label"]))
        if not any(h[1] == cell["label"] for h in handles):
            from matplotlib.lines import Line2D

            handles.append((Line2D([], [], color=color, linewidth=1.6), f"{cell['label']} (no epoch yet)"))
    for ax, _, _, label in panels:
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.legend([h for h, _ in handles], [wrap(label, 34) for _, label in handles], loc="lower center", ncols=cols,
               fontsize=6, frameon=False, bbox_to_anchor=(0.5, 0.0), handlelength=1.5, columnspacing=1.0)
    fig.suptitle(title, fontsize=9, x=0.01, y=1 - 0.05 / height, ha="left", va="top")
    return fig


def embeddings(panels: list[dict], title: str, fig=None) -> Figure:
    """Small multiples of 2-D embeddings, one per panel {title, x, y, label, classes}: points coloured by class,
    one legend of the classes below."""
    n = max(1, len(panels))
    cols = max(2, min(4, n))  # a lone panel stays square, at half the width
    rows = math.ceil(n / cols)
    classes = panels[0]["classes"] if panels else []
    legend_rows = math.ceil(len(classes) / 5) if classes else 0
    height = 0.5 + 1.75 * rows + 0.16 * legend_rows
    fig = fig or Figure(figsize=(PAGE_WIDTH_IN, height))
    axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw={
        "left": 0.02, "right": 0.98, "top": 1 - 0.5 / height, "bottom": (0.15 + 0.16 * legend_rows) / height,
        "wspace": 0.08, "hspace": 0.35})
    colours = cell_colors(len(classes))
    for ax, panel in zip(axes.flat, panels):
        label = np.asarray(panel["label"])
        for c, colour in enumerate(colours):
            keep = label == c
            ax.scatter(np.asarray(panel["x"])[keep], np.asarray(panel["y"])[keep], s=2, color=colour, linewidths=0,
                       label=classes[c])
        ax.set_title(wrap(panel["title"], 30), fontsize=6.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_color("#cccccc")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if classes:
        from matplotlib.lines import Line2D

        fig.legend([Line2D([], [], marker="o", linestyle="none", color=c, markersize=4) for c in colours], classes,
                   loc="lower center", ncols=min(5, len(classes)), fontsize=6.5, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(title, fontsize=9, x=0.01, y=1 - 0.05 / height, ha="left", va="top")
    return fig


__all__ = ["HEATMAP_CMAP", "MARKERS", "PAGE_WIDTH_IN", "PALETTE", "RC", "bars", "cell_colors", "colors", "embeddings", "heatmap",
           "lines", "overlaid_curves",
           "mark_missing", "new_figure", "png_bytes", "style"]
