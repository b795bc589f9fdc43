"""The report as a PDF (matplotlib's PdfPages: no LaTeX and no browser on a cluster's login node): whole A4
pages with 0.6-inch margins and a running header; text wrapped to the measured width of its words; tables
whose columns are sized to their contents within the page, long entries wrapped inside their cell, continued
on the next page under their header; the figure drawn again as vector graphics. Text is embedded as
TrueType, so it stays searchable."""

from __future__ import annotations

import functools
import io

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from . import figures
from .html import _delta
from .report import CORRELATION_COLUMNS, Report, agreement_heading, best_text, ci_text, correlation_row, generator, verdict_line

A4 = (8.27, 11.69)
MARGIN = 0.6  # inches
BOTTOM = A4[1] - MARGIN - 0.15  # the last inch of content: below it only the page number
WIDTH = A4[0] - 2 * MARGIN
PAD = 3.0  # points of space left and right of a table cell's text
RULE = "#cccccc"


@functools.lru_cache(maxsize=4096)
def _char_pt(ch: str, size: float, weight: str, family: str) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(family=family, size=size, weight=weight)
    return text_to_path.get_text_width_height_descent(ch, prop, ismath=False)[0]


def text_width_pt(s: str, size: float, weight: str = "normal", family: str = "DejaVu Sans") -> float:
    """The printed width of a line, from its characters' advances (kerning ignored, 2% margin for it)."""
    return 1.02 * sum(_char_pt(ch, size, weight, family) for ch in s)


def wrap_pt(s: str, width_pt: float, size: float, weight: str = "normal", family: str = "DejaVu Sans") -> list[str]:
    """Greedy word wrap to a printed width; a word longer than the width (a run id, a path) is cut."""
    lines = []
    for para in str(s).split("\n"):
        line = ""
        for word in para.split(" "):
            candidate = f"{line} {word}" if line else word
            if text_width_pt(candidate, size, weight, family) <= width_pt:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = word
            while text_width_pt(line, size, weight, family) > width_pt and len(line) > 1:
                cut = len(line) - 1
                while cut > 1 and text_width_pt(line[:cut], size, weight, family) > width_pt:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


def column_widths(natural: list[float], minimum: list[float], total: float) -> list[float]:
    """Widths (points) for table columns that must share `total`: every column gets what its longest entry
    needs when that fits; otherwise the narrow columns keep theirs and the wide ones share the rest equally
    (never below the longest word of each); any space left over is spread in proportion."""
    n = len(natural)
    if sum(natural) <= total:
        extra = total - sum(natural)
        return [w + extra * w / sum(natural) for w in natural] if sum(natural) else [total / n] * n
    widths = [None] * n
    left, open_cols = total, list(range(n))
    while open_cols:
        share = left / len(open_cols)
        fits = [i for i in open_cols if natural[i] <= share]
        if not fits:
            break
        for i in fits:
            widths[i] = natural[i]
            left -= natural[i]
        open_cols = [i for i in open_cols if widths[i] is None]
    for i in open_cols:
        widths[i] = max(minimum[i], left / len(open_cols))
    scale = min(1.0, total / sum(widths))  # the page width is the limit: long words are cut instead
    return [w * scale for w in widths]


class _Doc:
    """A4 pages written top-down with a cursor (inches from the top): text and tables flow onto a new page,
    headed "<section> (continued)", when the page is full, so nothing runs off a page and no page is blank."""

    def __init__(self, report, header: str | None = None):
        self.report = report
        self.header = header or f"{report.title} — {report.sweep.name}"
        self.pages: list[tuple[str, Figure]] = []
        self.fig: Figure | None = None
        self.y = MARGIN
        self.section = ""

    def new_page(self, heading: str) -> None:
        self.fig = Figure(figsize=A4)
        self.pages.append((heading, self.fig))
        self.fig.text(MARGIN / A4[0], 1 - 0.35 / A4[1], self.header, fontsize=7, color="#666666", va="center")
        self.y = MARGIN
        self._line(heading, 13, "bold", "#1a1a1a", "DejaVu Sans")
        self.y += 0.12

    def section_start(self, heading: str) -> None:
        self.section = heading
        self.new_page(heading)

    def room(self, inches: float) -> None:
        if self.y + inches > BOTTOM:
            self.new_page(f"{self.section} (continued)")

    def frac(self, inches_from_top: float) -> float:
        return 1 - inches_from_top / A4[1]

    def _line(self, line: str, size: float, weight: str, color: str, family: str) -> None:
        self.fig.text(MARGIN / A4[0], self.frac(self.y + size / 72), line, fontsize=size, weight=weight, color=color,
                      family=family)
        self.y += size * 1.4 / 72

    def text(self, s: str, size: float = 8, weight: str = "normal", color: str = "#1a1a1a", gap: float = 0.06,
             family: str = "DejaVu Sans") -> None:
        for line in wrap_pt(s, WIDTH * 72, size, weight, family):
            self.room(size * 1.4 / 72)
            self._line(line, size, weight, color, family)
        self.y += gap

    def table(self, df: pd.DataFrame, size: float = 6.5) -> None:
        """Columns sized to their contents within the page width, long entries wrapped inside their cell,
        rows that do not fit continued on the next page under the header again."""
        if df.empty:
            self.text("(none)", color="#666666")
            return
        header = [str(c) for c in df.columns]
        rows = [[str(v) for v in row] for row in df.astype(str).itertuples(index=False)]
        natural, minimum = [], []
        for j, h in enumerate(header):
            entries = [(h, "bold")] + [(row[j], "normal") for row in rows]
            natural.append(max(text_width_pt(t, size, w) for t, w in entries) + 2 * PAD + 0.5)  # 0.5: rounding
            minimum.append(max(text_width_pt(word, size, w) for t, w in entries for word in (t.split(" ") or [""]))
                           + 2 * PAD)
        widths = column_widths(natural, [min(m, WIDTH * 72 / len(header)) for m in minimum], WIDTH * 72)
        line_h = size * 1.3 / 72

        def wrapped(cells, weight):
            return [wrap_pt(c, w - 2 * PAD, size, weight) for c, w in zip(cells, widths)]

        head = wrapped(header, "bold")
        head_h = line_h * max(map(len, head)) + 0.05

        def draw_header():
            self._row(head, widths, size, "bold", head_h, "#f0f0f0")

        self.room(head_h + line_h + 0.05)
        draw_header()
        for row in rows:
            cells = wrapped(row, "normal")
            h = line_h * max(map(len, cells)) + 0.05
            if self.y + h > BOTTOM:
                self.new_page(f"{self.section} (continued)")
                draw_header()
            self._row(cells, widths, size, "normal", h, None)
        self.y += 0.15

    def _row(self, cells: list[list[str]], widths: list[float], size: float, weight: str, height: float, fill) -> None:
        from matplotlib.patches import Rectangle

        x0 = MARGIN / A4[0]
        top, bottom = self.frac(self.y), self.frac(self.y + height)
        if fill:
            self.fig.add_artist(Rectangle((x0, bottom), WIDTH / A4[0], top - bottom, transform=self.fig.transFigure,
                                          facecolor=fill, edgecolor="none", zorder=0))
        self.fig.add_artist(Line2D([x0, 1 - x0], [bottom, bottom], transform=self.fig.transFigure, color=RULE,
                                   linewidth=0.4))
        if fill:
            self.fig.add_artist(Line2D([x0, 1 - x0], [top, top], transform=self.fig.transFigure, color=RULE, linewidth=0.4))
        x = MARGIN * 72
        for lines, w in zip(cells, widths):
            for k, line in enumerate(lines):
                self.fig.text((x + PAD) / 72 / A4[0], self.frac(self.y + 0.025 + size / 72 + k * size * 1.3 / 72), line,
                              fontsize=size, weight=weight, color="#1a1a1a", family="DejaVu Sans")
            x += w
        self.y += height


def _summary(d: _Doc) -> None:
    r = d.report
    d.section_start("Summary")
    s = r.sweep
    d.text(r.title, size=11, weight="bold")
    d.text(f"Sweep {s.name}{f' ({s.file})' if s.file else ''}: " + ", ".join(f"{n} {k}" for k, n in r.counts.items())
           + f" of {len(s.runs)} runs. {r.caption_setup['dataset']}, {r.caption_setup['backbone']}, "
             f"{r.caption_setup['epochs']}, {r.caption_setup['seeds']}.")
    if s.description:
        d.text(s.description, color="#333333")
    for n in r.notes:
        d.text("Note: " + n, color="#8a4b00")
    d.text(agreement_heading(r), size=10, weight="bold", gap=0.08)
    if not r.known:
        d.text("No published figure is registered for this sweep: cells, runs, curves and environment only.")
        return
    d.text(verdict_line(r.verdicts, r.study.has_best), weight="bold")
    d.text(r.resolution, size=7.5)
    if r.correlations:
        d.table(pd.DataFrame([correlation_row(c) for c in r.correlations], columns=CORRELATION_COLUMNS), size=7)
    if r.study.has_best:
        d.text("Best setting: " + best_text(r.best))
    if r.claims:
        d.text(f"Effects {r.study.claims_by} claims (higher > lower; differences in points)", weight="bold", gap=0.04)
        d.table(pd.DataFrame([(c.text, _delta(c.paper_delta), _delta(c.ours_delta), ci_text(*c.ours_ci), c.verdict, c.note)
                              for c in r.claims], columns=["claim", "paper", "ours", "ours 95%", "verdict", "note"]))


def _figure(d: _Doc, item, number: int, vector: bool = True) -> None:
    """A figure on a page of its own, below the heading, its caption under it: drawn again as vector graphics
    into that band, or (vector=False: Optuna's plots, the learning curves) its PNG placed there."""
    d.section_start("Figure" if number == 1 else item.title)
    top = d.y
    room = BOTTOM - top - 1.4  # the caption's share of the page
    if not vector:
        from PIL import Image

        image = Image.open(io.BytesIO(item.png))
        height = min(WIDTH * image.height / image.width, room)
        width = height * image.width / image.height
        ax = d.fig.add_axes([MARGIN / A4[0], d.frac(top + height), width / A4[0], height / A4[1]])
        ax.imshow(image, interpolation="lanczos")
        ax.set_aspect("auto")
        ax.axis("off")
    else:
        height = min(item.height_in * WIDTH / figures.PAGE_WIDTH_IN, room)
        with figures.style():
            fig = Figure(figsize=A4, layout="constrained")
            fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0, hspace=0)
            band = fig.subfigures(3, 1, height_ratios=[top, height, A4[1] - top - height])
            middle = band[1].subfigures(1, 3, width_ratios=[MARGIN, WIDTH, MARGIN])[1]
            item.draw(middle)
        for t in d.fig.texts:  # the running header and the heading, at the same places as on the other pages
            fig.text(*t.get_position(), t.get_text(), fontsize=t.get_fontsize(), weight=t.get_weight(),
                     color=t.get_color(), va=t.get_va(), ha=t.get_ha())
        d.pages[-1] = (d.pages[-1][0], fig)
        d.fig = fig
    d.y = top + height + 0.2
    d.text(f"Figure {number}. {item.caption}", size=7.5)


def _table(d: _Doc, heading: str, df: pd.DataFrame, intro: str = "") -> None:
    d.section_start(heading)
    if intro:
        d.text(intro, color="#333333")
    d.table(df)


def _environment(d: _Doc) -> None:
    r = d.report
    d.section_start("Environment")
    d.table(pd.DataFrame(r.environment, columns=["", "value"]), size=7)
    if r.best_config:
        d.text(f"Best trial as a run config: {r.best_config}", size=7.5)
    d.text("Reproduce", size=10, weight="bold", gap=0.05)
    for c in r.commands:
        d.text(c, size=7, family="DejaVu Sans Mono")
    d.text(f"Made by {generator()} at {r.generated_at} from {r.sweep.path}.", size=7, color="#666666")


def pages(r: Report) -> list[tuple[str, Figure]]:
    """[(heading, A4 figure)] in order; a section that fills its page continues on the next."""
    d = _Doc(r)
    _summary(d)
    _figure(d, r.figure, 1)
    _table(d, "Cells", r.cell_table, "One row per cell of the figure: mean ± std over the seeds that finished, and "
                                     "the 95% interval from the seeds and the test-set size.")
    _table(d, "Runs", r.run_table, "Every run of the sweep, in the order of the cells.")
    for i, item in enumerate([*r.curve_figures, *r.embedding_figures, *r.study_figures], start=2):
        _figure(d, item, i, vector=False)
    _environment(d)
    return d.pages


def write(r: Report, path) -> list[str]:
    """Write the PDF to `path` (a file name or a binary file object); returns the page headings in order."""
    with figures.style():
        return save(pages(r), path, f"{r.title} — {r.sweep.name}")


def save(ps: list[tuple[str, Figure]], path, title: str) -> list[str]:
    """The pages, numbered, as one PDF; returns their headings."""
    import matplotlib

    with figures.style():
        # whole A4 pages: the style's tight bounding box (right for a PNG figure) would crop each page to its ink
        with matplotlib.rc_context({"savefig.bbox": "standard"}), \
                PdfPages(path, metadata={"Title": title, "Creator": generator()}) as pdf:
            for i, (_, fig) in enumerate(ps, start=1):
                fig.text(1 - MARGIN / A4[0], 0.3 / A4[1], f"page {i} of {len(ps)}", fontsize=7, color="#666666",
                         ha="right")
                pdf.savefig(fig)
    return [heading for heading, _ in ps]


__all__ = ["column_widths", "save", "text_width_pt", "wrap_pt", "write"]
