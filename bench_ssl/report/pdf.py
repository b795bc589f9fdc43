"""The report as a PDF (matplotlib's PdfPages: no LaTeX, no browser): A4 pages with a running header, the
figure drawn again as vector graphics, tables paginated. Text is embedded as TrueType, so it stays
searchable."""

from __future__ import annotations

import io
import textwrap

import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from . import figures
from .html import _delta
from .report import CORRELATION_COLUMNS, Report, best_text, ci_text, correlation_row, generator, verdict_line

A4 = (8.27, 11.69)
MARGIN = 0.6  # inches
ROWS_PER_PAGE = 42
WRAP = 112  # characters per line of 8 pt body text on A4


class _Page:
    """A4 page, written top-down: a cursor in inches from the top."""

    def __init__(self, report: Report, heading: str):
        self.fig = Figure(figsize=A4)
        self.y = MARGIN
        self.fig.text(MARGIN / A4[0], 1 - 0.35 / A4[1], f"{report.title} — {report.sweep.name}", fontsize=7, color="#666666",
                      va="center")
        self.heading = heading
        self.text(heading, size=13, weight="bold", gap=0.12)

    def frac(self, inches_from_top: float) -> float:
        return 1 - inches_from_top / A4[1]

    def text(self, s: str, size: float = 8, weight: str = "normal", color: str = "#1a1a1a", gap: float = 0.06,
             wrap: int | None = WRAP, family: str | None = None) -> None:
        lines = []
        for para in str(s).split("\n"):
            lines += textwrap.wrap(para, wrap) if wrap and para else [para]
        for line in lines:
            self.fig.text(MARGIN / A4[0], self.frac(self.y + size / 72), line, fontsize=size, weight=weight, color=color,
                          family=family or "DejaVu Sans")
            self.y += size * 1.4 / 72
        self.y += gap

    def table(self, df: pd.DataFrame, size: float = 6.5, col_chars: int = 48) -> None:
        if df.empty:
            self.text("(none)", color="#666666")
            return
        cells = [[_clip(v, col_chars) for v in row] for row in df.astype(str).itertuples(index=False)]
        row_h = size * 1.9 / 72
        height = row_h * (len(cells) + 1)
        ax = self.fig.add_axes([MARGIN / A4[0], self.frac(self.y + height), 1 - 2 * MARGIN / A4[0], height / A4[1]])
        ax.axis("off")
        t = ax.table(cellText=cells, colLabels=[str(c) for c in df.columns], loc="upper left", cellLoc="left",
                     bbox=[0, 0, 1, 1])
        t.auto_set_font_size(False)
        t.set_fontsize(size)
        t.auto_set_column_width(list(range(len(df.columns))))
        for (r, _), cell in t.get_celld().items():
            cell.set_edgecolor("#cccccc")
            cell.set_linewidth(0.4)
            if r == 0:
                cell.set_facecolor("#f0f0f0")
                cell.set_text_props(weight="bold")
        self.y += height + 0.15


def _clip(v: str, n: int) -> str:
    return v if len(v) <= n else v[: n - 1] + "…"


def _summary(r: Report) -> list[_Page]:
    p = _Page(r, "Summary")
    s = r.sweep
    p.text(r.title, size=11, weight="bold")
    p.text(f"Sweep {s.name}{f' ({s.file})' if s.file else ''}: " + ", ".join(f"{n} {k}" for k, n in r.counts.items())
           + f" of {len(s.runs)} runs. {r.caption_setup['dataset']}, {r.caption_setup['backbone']}, "
             f"{r.caption_setup['epochs']}, {r.caption_setup['seeds']}.")
    if s.description:
        p.text(s.description, color="#333333")
    for n in r.notes:
        p.text("Note: " + n, color="#8a4b00")
    p.text("Agreement with the paper", size=10, weight="bold", gap=0.08)
    if not r.known:
        p.text("No published figure is registered for this sweep: cells, runs, curves and environment only.")
        return [p]
    p.text(verdict_line(r.verdicts), weight="bold")
    p.text(r.resolution, size=7.5)
    if r.correlations:
        p.table(pd.DataFrame([correlation_row(c) for c in r.correlations], columns=CORRELATION_COLUMNS), size=7)
    p.text("Best setting: " + best_text(r.best))
    if r.claims:
        p.text("Effects the paper claims (higher > lower; differences in points)", weight="bold", gap=0.04)
        p.table(pd.DataFrame([(c.text, _delta(c.paper_delta), _delta(c.ours_delta), ci_text(*c.ours_ci), c.verdict, c.note)
                              for c in r.claims], columns=["claim", "paper", "ours", "ours 95%", "verdict", "note"]),
                size=6.5, col_chars=70)
    return [p]


def _figure_page(r: Report, item, number: int, vector: bool = True) -> _Page:
    """The figure drawn again (vector) into the middle band of the page, between the heading and the caption;
    or, with vector=False (the many small panels of the learning curves), its PNG placed there."""
    heading = "Figure" if number == 1 else item.title
    page = _Page(r, heading)
    width = A4[0] - 2 * MARGIN
    top = page.y
    height = min(item.height_in * width / figures.PAGE_WIDTH_IN, A4[1] - top - MARGIN - 1.6)
    rest = A4[1] - top - height
    if not vector:
        from PIL import Image

        image = Image.open(io.BytesIO(item.png))
        height = min(width * image.height / image.width, A4[1] - top - MARGIN - 1.6)
        ax = page.fig.add_axes([MARGIN / A4[0], page.frac(top + height), width / A4[0], height / A4[1]])
        ax.imshow(image, interpolation="lanczos")
        ax.set_aspect("auto")
        ax.axis("off")
        page.y = top + height + 0.2
        page.text(f"Figure {number}. {item.caption}", size=7.5)
        return page
    with figures.style():
        fig = Figure(figsize=A4, layout="constrained")
        fig.get_layout_engine().set(w_pad=0.02, h_pad=0.02, wspace=0, hspace=0)
        band = fig.subfigures(3, 1, height_ratios=[top, height, rest])
        middle = band[1].subfigures(1, 3, width_ratios=[MARGIN, width, MARGIN])[1]
        item.draw(middle)
    for t in page.fig.texts:  # the running header and the heading, at the same places as on the other pages
        fig.text(*t.get_position(), t.get_text(), fontsize=t.get_fontsize(), weight=t.get_weight(), color=t.get_color(),
                 va=t.get_va(), ha=t.get_ha())
    page.fig = fig
    page.y = top + height + 0.2
    page.text(f"Figure {number}. {item.caption}", size=7.5)
    return page


def _table_pages(r: Report, heading: str, df: pd.DataFrame, intro: str = "") -> list[_Page]:
    pages = []
    chunks = [df.iloc[i:i + ROWS_PER_PAGE] for i in range(0, len(df), ROWS_PER_PAGE)] or [df]
    for i, chunk in enumerate(chunks):
        p = _Page(r, heading + (f" ({i + 1}/{len(chunks)})" if len(chunks) > 1 else ""))
        if intro and i == 0:
            p.text(intro, color="#333333")
        p.table(chunk)
        pages.append(p)
    return pages


def _environment(r: Report) -> _Page:
    p = _Page(r, "Environment")
    p.table(pd.DataFrame(r.environment, columns=["", "value"]), size=7, col_chars=110)
    if r.best_config:
        p.text(f"Best trial as a run config: {r.best_config}", size=7.5)
    p.text("Reproduce", size=10, weight="bold", gap=0.05)
    for c in r.commands:
        p.text(c, size=7, family="DejaVu Sans Mono", wrap=120)
    p.text(f"Made by {generator()} at {r.generated_at} from {r.sweep.path}.", size=7, color="#666666")
    return p


def pages(r: Report) -> list[_Page]:
    out = _summary(r)
    out.append(_figure_page(r, r.figure, 1))
    out += _table_pages(r, "Cells", r.cell_table, "One row per cell of the figure: mean ± std over the seeds that finished.")
    out += _table_pages(r, "Runs", r.run_table, "Every run of the sweep, in the order of the cells.")
    for i, item in enumerate([*r.curve_figures, *r.study_figures], start=2):
        out.append(_figure_page(r, item, i, vector=False))
    out.append(_environment(r))
    return out


def write(r: Report, path) -> list[str]:
    """Write the PDF to `path` (a file name or a binary file object); returns the page headings in order."""
    import matplotlib

    with figures.style():
        ps = pages(r)
        # whole A4 pages: the style's tight bounding box (right for a PNG figure) would crop each page to its ink
        with matplotlib.rc_context({"savefig.bbox": "standard"}), \
                PdfPages(path, metadata={"Title": f"{r.title} — {r.sweep.name}", "Creator": generator()}) as pdf:
            for i, p in enumerate(ps, start=1):
                p.fig.text(1 - MARGIN / A4[0], 0.3 / A4[1], f"page {i} of {len(ps)}", fontsize=7, color="#666666",
                           ha="right")
                pdf.savefig(p.fig)
    return [p.heading for p in ps]


__all__ = ["write"]
