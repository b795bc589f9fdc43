"""Reports that put each reproduced paper figure beside the published one.

`python -m bench_ssl.report results/<sweep> [--out reports/] [--format html,pdf]` writes
`reports/<sweep>.html` (self-contained) and `reports/<sweep>.pdf` (the format `png` adds the figure alone):
the figure in the paper's form next to the paper's numbers, rank correlations, the best setting and the sign
of each claimed effect, a table of every run (mean ± std over seeds), per-run learning curves and the
environment. A partial sweep renders with its missing cells marked. `write_report(sweep_dir, out_dir, formats)`
does the same from Python. `python -m bench_ssl.report DIR1 DIR2 ...` (write_comparison) compares one study's
sweeps, e.g. the quick and the GPU profile, cell by cell in `reports/compare_<first>_vs_<second>.<format>`.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..errors import BenchSSLError
from ..lazy import exports
from ..output import atomic_write_bytes, atomic_write_text

__getattr__ = exports(__name__, {"Report": "report", "build": "report", "ReportError": "data"})

FORMATS = ("html", "pdf")
METRICS = {"linear_top1": "linear top-1 (%)", "knn_top1": "kNN top-1 (%)"}  # what "ours" can be
EXTRA_FORMATS = ("png",)  # the reproduced figure on its own (for a README or slides); not written by default


def parse_formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in str(text).split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS + EXTRA_FORMATS]
    if unknown or not formats:
        from .data import ReportError

        raise ReportError(f"--format {text!r}: {'unknown format ' + repr(unknown[0]) if unknown else 'no format given'}; "
                          f"use one or more of {', '.join(FORMATS + EXTRA_FORMATS)}, comma-separated (e.g. html,pdf)")
    return list(dict.fromkeys(formats))


def write_report(sweep_dir: str | Path, out_dir: str | Path = "reports", formats=FORMATS, metric: str | None = None) -> dict:
    """Build the report of one sweep and write it as `out_dir/<sweep>.<format>`; returns {format: path}, plus
    'pdf_pages' (the PDF's page headings) when a PDF was written."""
    from .report import build

    formats = parse_formats(",".join(formats) if not isinstance(formats, str) else formats)
    report = build(sweep_dir, metric)
    out_dir = _out_dir(out_dir)
    runs = report.sweep.runs
    written: dict = {"unreadable": list(runs.loc[runs["status"] == "corrupt", "error"]) if "error" in runs else []}
    stem = report.sweep.path.resolve().name
    if "html" in formats:
        from .html import render

        path = out_dir / f"{stem}.html"
        atomic_write_text(path, render(report))
        written["html"] = path
    if "pdf" in formats:
        from .pdf import write

        path = out_dir / f"{stem}.pdf"
        buf = io.BytesIO()
        written["pdf_pages"] = write(report, buf)
        atomic_write_bytes(path, buf.getvalue())
        written["pdf"] = path
    if "png" in formats:
        path = out_dir / f"{stem}.png"
        atomic_write_bytes(path, report.figure.png)
        written["png"] = path
    return written


def write_comparison(sweep_dirs, out_dir: str | Path = "reports", formats=FORMATS, metric: str | None = None) -> dict:
    """One study's sweeps compared cell by cell (bench_ssl.report.compare), written as
    `out_dir/compare_<first>_vs_<second>.<format>`; returns {format: path}."""
    from .compare import build_comparison, render_html, stem, write_pdf

    formats = parse_formats(",".join(formats) if not isinstance(formats, str) else formats)
    comparison = build_comparison(list(sweep_dirs), metric)
    out_dir = _out_dir(out_dir)
    name = stem(comparison)
    written: dict = {}
    if "html" in formats:
        written["html"] = out_dir / f"{name}.html"
        atomic_write_text(written["html"], render_html(comparison))
    if "pdf" in formats:
        buf = io.BytesIO()
        written["pdf_pages"] = write_pdf(comparison, buf)
        written["pdf"] = out_dir / f"{name}.pdf"
        atomic_write_bytes(written["pdf"], buf.getvalue())
    if "png" in formats:
        written["png"] = out_dir / f"{name}.png"
        atomic_write_bytes(written["png"], comparison.figure.png)
    return written


def _out_dir(out_dir) -> Path:
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchSSLError(f"cannot create the report folder {out_dir}: {exc.strerror or exc}; give a writable one "
                            "with --out DIR") from None
    return out_dir


__all__ = ["FORMATS", "Report", "ReportError", "build", "parse_formats", "write_comparison", "write_report"]
