"""The pretext-vs-contrastive study's report: a method x protocol table, one panel per protocol, and verdicts on
the expected shape that are called only beyond the noise. Results are written as the runs write them, with
chosen numbers, so the expected entries and verdicts can be computed by hand."""

import json
import math
from pathlib import Path

import pytest

from bench_ssl.report import write_report
from bench_ssl.report.layout import overlapping_texts
from bench_ssl.report.report import build
from bench_ssl.report.studies.pretext_vs_contrastive import CONTRASTIVE, PRETEXT, PROTOCOLS
from test_report import SWEEPS, fake_sweep

FAMILY_TOP1 = {"pretext": 0.40, "contrastive": 0.60, "supervised": 0.80}


def family(name: str) -> str:
    return "pretext" if name in PRETEXT else "contrastive" if name in CONTRASTIVE else "supervised"


def write_protocols(sweep_dir: Path, runs, gap: float | None = None, skip=()) -> None:
    """Every protocol's number in each finished run's result.json: the family's level (contrastive at
    pretext + `gap` when given), NMI half of it; `skip` runs keep no transfer numbers (not evaluated)."""
    for r in runs:
        path = sweep_dir / r.run_id / "result.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        fam = family(r.config.method.name)
        level = FAMILY_TOP1[fam] if gap is None or fam == "supervised" else 0.40 + (gap if fam == "contrastive" else 0.0)
        for protocol, (field, accuracy, n_field) in PROTOCOLS.items():
            if r.index in skip and protocol.startswith("transfer"):
                continue
            result[field] = level / 2 if not accuracy else level
        result["transfer_num_test"] = 2000
        path.write_text(json.dumps(result))


def test_the_report_tabulates_every_method_under_every_protocol_and_calls_the_expected_shape(tmp_path):
    sweep_dir, runs = fake_sweep(tmp_path, SWEEPS / "pretext_vs_contrastive.yaml", "quick")
    write_protocols(sweep_dir, runs, skip={0})
    r = build(sweep_dir)
    assert r.known and not r.correlations and r.best is None  # nothing published to correlate with
    assert len(r.cells) == 10 * len(PROTOCOLS) - 2  # run 0 (rotation) has no transfer numbers: no such cells
    table = r.cell_table.set_index("method")
    assert list(table.columns) == ["family", *PROTOCOLS, "seeds done"]
    assert list(table.index) == [*PRETEXT.values(), *CONTRASTIVE.values(), "Supervised (CE)"]
    # SimCLR's linear top-1: 60% on 10,000 test images (one seed): ±1.96 sqrt(.6 x .4 / 10000) = ±0.96 points
    assert table.loc["SimCLR", "linear"] == "60.0 ±1.0"
    assert table.loc["SimCLR", "transfer linear"] == "60.0 ±2.1"  # the transfer test set: 2,000 images
    assert table.loc["SimCLR", "k-means NMI"] == "30.0"  # no accuracy: no binomial error, and one seed
    assert table.loc["Rotation", "transfer kNN"] == "–" and table.loc["Rotation", "seeds done"] == "1/1"
    assert {c.text: c.verdict for c in r.claims} == {
        "contrastive (mean of 2) beats pretext (mean of 7) on linear": "agrees",
        "supervised beats contrastive on linear": "agrees", "supervised beats pretext on linear": "agrees",
        "contrastive (mean of 2) beats pretext (mean of 7) on kNN": "agrees",
        "supervised beats contrastive on kNN": "agrees", "supervised beats pretext on kNN": "agrees"}
    (linear,) = [c for c in r.claims if c.text.startswith("contrastive") and c.text.endswith("linear")]
    # se of mean(2 cells) - mean(7 cells), each cell sqrt(p(1-p)/n) points
    se = math.sqrt(2 * 0.24 / 4 + 7 * 0.24 / 49) / math.sqrt(10_000) * 100
    assert linear.ours_delta == pytest.approx(20.0) and linear.ours_se == pytest.approx(se)
    assert r.verdicts == {"agrees": 6, "opposite": 0, "inconclusive": 0, "n/a": 0}
    ours_panels = [ax for ax in r.figure.figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in ours_panels] == list(PROTOCOLS)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(r.figure.figure)
    assert overlapping_texts(r.figure.figure) == []
    assert "Right: the paper" not in r.figure.caption and "The expected shape: contrastive above pretext" in r.figure.caption


def test_a_gap_inside_the_noise_is_inconclusive_and_the_report_renders_in_both_formats(tmp_path):
    from pdf_check import check_pages

    sweep_dir, runs = fake_sweep(tmp_path, SWEEPS / "pretext_vs_contrastive.yaml", "quick", pending={9})
    write_protocols(sweep_dir, runs, gap=0.005)  # half a point on 10,000 images: inside the ±1.2 of the difference
    r = build(sweep_dir)
    verdicts = {c.text: c.verdict for c in r.claims}
    assert verdicts["contrastive (mean of 2) beats pretext (mean of 7) on linear"] == "inconclusive"
    assert verdicts["supervised beats pretext on kNN"] == "n/a"  # the supervised run has not finished
    out = write_report(sweep_dir, tmp_path / "reports", "html,pdf")
    html = out["html"].read_text()
    assert "Against the expected shape" in html and "Effects the literature claims" in html
    assert "Best setting" not in html and "difference within noise" in html
    assert out["pdf_pages"] == ["Summary", "Figure", "Cells", "Runs", "Learning curves", "Environment"]
    check_pages(out["pdf"], tmp_path / "pages", out["pdf_pages"], {"Figure", "Learning curves"})
