"""The report as one self-contained HTML file: inline CSS, figures embedded as PNG data URIs, no script and
no external asset, so it opens the same from a laptop, an e-mail or a CI artefact."""

from __future__ import annotations

import base64
import html
import math

import pandas as pd

from .agreement import MIN_CELLS
from .report import CORRELATION_COLUMNS, Report, agreement_heading, best_text, ci_text, correlation_row, generator, verdict_line

CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;color:#1a1a1a;max-width:1100px;margin:2em auto;padding:0 1.2em;line-height:1.45;font-size:15px}
h1{font-size:1.55em;margin-bottom:.1em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.sub{color:#555;margin-top:0}.note{background:#fff4d6;border-left:4px solid #E69F00;padding:.5em .8em;margin:.6em 0}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#333;margin-top:.4em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}th,td{border:1px solid #ddd;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.agrees{color:#006d4e;font-weight:bold}.opposite{color:#b33f00;font-weight:bold}.inconclusive{color:#555}.na{color:#777}
code,pre{font-family:"DejaVu Sans Mono",Menlo,monospace;font-size:.85em}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}
.status-done{color:#006d4e}.status-failed{color:#b33f00}.status-pending,.status-running{color:#8a6d00}
"""


def e(x) -> str:
    return html.escape(str(x))


def img(png: bytes, alt: str) -> str:
    return f'<img alt="{e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def table(df: pd.DataFrame, numeric: tuple = (), status_col: str | None = None) -> str:
    head = "".join(f"<th>{e(c)}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for col, v in zip(df.columns, row):
            cls = "num" if col in numeric else ""
            if col == status_col:
                cls = f"status-{v}"
            cells.append(f'<td class="{cls}">{e(v)}</td>' if cls else f"<td>{e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def agreement_html(r: Report) -> str:
    if not r.known:
        return ("<p>No published figure is registered for this sweep (bench_ssl/report/studies), so there is nothing "
                "to compare with; the cells, runs, curves and environment follow.</p>")
    out = [f"<p><b>{e(verdict_line(r.verdicts, r.study.has_best))}</b></p>", f"<p>{e(r.resolution)}</p>"]
    rows = [correlation_row(c) for c in r.correlations]
    if rows:
        out.append("<h3>Rank correlation with the paper</h3>")
        out.append(table(pd.DataFrame(rows, columns=CORRELATION_COLUMNS), numeric=CORRELATION_COLUMNS[1:-1]))
        out.append(f"<p class='na'>Over the cells with both a result of ours and a published number; 95% intervals "
                   f"from a bootstrap over cells and over our noise, p from a permutation test. Below {MIN_CELLS} cells "
                   f"a correlation is not evidence, nor above p = 0.05. +1: the same order as the paper.</p>")
    if r.study.has_best:
        out.append("<h3>Best setting</h3>")
        out.append(f"<p>{e(best_text(r.best))}</p>")
    b = r.best
    if b is not None and b.paper_overall_label and b.paper_overall_label != b.paper_label:
        out.append(f"<p class='na'>The paper's best overall, {e(b.paper_overall_label)}, is not among the cells "
                   f"with a result here.</p>")
    if r.claims:
        out.append(f"<h3>Effects {e(r.study.claims_by)} claims</h3>")
        body = []
        for c in r.claims:
            cls = {"agrees": "agrees", "opposite": "opposite", "inconclusive": "inconclusive"}.get(c.verdict, "na")
            body.append(f"<tr><td>{e(c.text)}</td><td class='num'>{e(_delta(c.paper_delta))}</td>"
                        f"<td class='num'>{e(_delta(c.ours_delta))}</td><td class='num'>{e(ci_text(*c.ours_ci))}</td>"
                        f"<td class='{cls}'>{e(c.verdict)}</td><td>{e(c.note)}</td></tr>")
        out.append("<table><thead><tr><th>claim (higher &gt; lower)</th><th>paper Δ (points)</th><th>ours Δ (points)</th>"
                   "<th>ours 95% interval</th><th>verdict</th><th>note</th></tr></thead><tbody>" + "".join(body)
                   + "</tbody></table>")
    return "\n".join(out)


def _delta(v: float) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:+.1f}"


def render(r: Report) -> str:
    s = r.sweep
    counts = ", ".join(f"{n} {k}" for k, n in r.counts.items())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(r.title)} — {e(s.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(r.title)}</h1>",
        f"<p class='sub'>Sweep <code>{e(s.name)}</code>{f' ({e(s.file)})' if s.file else ''} · {e(counts)} · "
        f"{e(r.caption_setup['dataset'])}, {e(r.caption_setup['backbone'])}, {e(r.caption_setup['epochs'])}, "
        f"{e(r.caption_setup['seeds'])}</p>",
    ]
    if s.description:
        parts.append(f"<p>{e(s.description)}</p>")
    parts += [f"<p class='note'>{e(n)}</p>" for n in r.notes]
    parts += [
        "<h2>Figure</h2>",
        f"<figure>{img(r.figure.png, r.figure.title)}<figcaption><b>Figure 1.</b> {e(r.figure.caption)}</figcaption></figure>",
        f"<h2>{e(agreement_heading(r))}</h2>",
        agreement_html(r),
        "<h2>Cells</h2>",
        table(r.cell_table, numeric=("paper", "ours (mean ± std)", "seeds done")),
        "<h2>Runs</h2>",
        table(r.run_table, numeric=tuple(c for c in r.run_table.columns if "%" in c or c in ("wall (s)", "seed", "epochs")),
              status_col="status"),
        "<h2>Learning curves</h2>",
    ]
    for i, f in enumerate(r.curve_figures, start=2):
        parts.append(f"<figure>{img(f.png, f.title)}<figcaption><b>Figure {i}.</b> {e(f.caption)}</figcaption></figure>")
    if r.embedding_figures:
        parts.append("<h2>Embeddings</h2>")
        for i, f in enumerate(r.embedding_figures, start=2 + len(r.curve_figures)):
            parts.append(f"<figure>{img(f.png, f.title)}<figcaption><b>Figure {i}.</b> {e(f.caption)}</figcaption></figure>")
    if r.study_figures or r.best_config:
        parts.append("<h2>Optuna study</h2>")
        if r.best_config:
            parts.append(f"<p>The best trial as a ready-to-run config: <code>{e(r.best_config)}</code> "
                         f"(<code>python -m bench_ssl.run {e(r.best_config)}</code>).</p>")
        for i, f in enumerate(r.study_figures, start=2 + len(r.curve_figures) + len(r.embedding_figures)):
            parts.append(f"<figure>{img(f.png, f.title)}<figcaption><b>Figure {i}.</b> {e(f.caption)}</figcaption></figure>")
    parts += [
        "<h2>Environment</h2>",
        table(pd.DataFrame(r.environment, columns=["", "value"])),
        "<h2>Reproduce</h2>",
        "<pre>" + "\n".join(e(c) for c in r.commands) + "</pre>",
        f"<p class='na'>Made by {e(generator())} at {e(r.generated_at)} from <code>{e(s.path)}</code>.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


__all__ = ["render"]
