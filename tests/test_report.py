"""Reports that put a reproduced paper figure beside the published one: the agreement statistics against
hand-computed values, every study's claims against the paper's own numbers, every sweep file in both sizes,
partial sweeps (missing cells marked), and a real quick-profile sweep on CIFAR-10 rendered as HTML (opened in
headless Chromium: no console error, every image decoded, nothing fetched, a screenshot) and as PDF (the
expected pages and figure titles)."""

import base64
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from bench_ssl.config import dump_yaml, to_dict
from bench_ssl.report import build, write_report
from bench_ssl.report.agreement import (Claim, best_setting, cell_se, check_claims, correlations, kendall, resolution,
                                        spearman, summary)
from bench_ssl.report.layout import overlapping_texts
from bench_ssl.report.studies import STUDIES, Match, find
from bench_ssl.results import write_manifest
from bench_ssl.sweep import expand, load_sweep, varying_keys

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = ROOT / "sweeps"
CHROMIUM = Path("/usr/bin/chromium")

# sweep file -> (runs in the GPU profile, runs with --profile quick), as documented in each file's top comment
PAPER_SWEEPS = {
    "aug_grid": (49, 16),
    "color_strength": (30, 10),
    "proj_head": (45, 15),
    "loss_fn": (15, 5),
    "temperature": (18, 6),
    "batch_epochs": (20, 9),
    "moco_momentum": (15, 5),
    "moco_queue": (14, 11),
    "supcon": (9, 6),
    "pretext_vs_contrastive": (10, 10),
    "mocov2_temperature": (36, 6),
    "mocov2_ablation": (15, 5),
    "mocov2_vs_simclr": (9, 6),
    "supcon_positives": (18, 4),
    "lr_scaling": (16, 8),
    "supcon_loss": (6, 4),
    "simclr_cifar10": (18, 6),
    "supcon_two_stage": (6, 4),
    "supcon_optimizers": (9, 3),
    "h_vs_gh": (3, 2),
    "supcon_augmentations": (12, 4),
    "supcon_corruptions": (9, 3),
}


def cli(module: str, *args, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


# ------------------------------------------------------------------------------ agreement statistics


def test_rank_correlations_match_hand_computed_values():
    # no ties: ranks differ by d = (-1, 1, -1, 1, 0): rho = 1 - 6*4/(5*24) = 0.8; 8 concordant, 2 discordant pairs
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert kendall([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.6)
    # a tie in ours: average ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4): rho = 4.5 / sqrt(4.5 * 5) = sqrt(0.9);
    # tau-b: 5 concordant, 0 discordant, 1 pair tied in ours: 5 / sqrt((6 - 1) * 6) = 5 / sqrt(30)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(math.sqrt(0.9))
    assert kendall([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(5 / math.sqrt(30))
    # ties on both sides: ranks (1.5, 1.5, 3, 4) vs (2.5, 2.5, 1, 4): rho = 1.5 / 4.5; tau-b = (3 - 2) / sqrt(5 * 5)
    assert spearman([1, 1, 2, 3], [2, 2, 1, 3]) == pytest.approx(1 / 3)
    assert kendall([1, 1, 2, 3], [2, 2, 1, 3]) == pytest.approx(0.2)
    # a missing cell is left out, not imputed: (1,1) (2,2) (3,4) (4,3) remain
    assert spearman([1, 2, math.nan, 3, 4], [1, 2, 5, 4, 3]) == pytest.approx(0.8)
    assert kendall([1, 2, math.nan, 3, 4], [1, 2, 5, 4, 3]) == pytest.approx(4 / 6)
    assert math.isnan(spearman([1, 2], [2, 1])) and math.isnan(kendall([1, 1, 1], [1, 2, 3]))  # too few / constant


def test_best_setting_and_claimed_effects():
    best = best_setting(["a", "b", "c"], [1, 3, 2], [3, 1, 2])
    assert (best.paper_label, best.ours_label, best.rank_in_ours, best.agrees) == ("a", "b", 3, False)
    tied = best_setting(["a", "b", "c"], [3, 3, 1], [5, 1, 2])  # a tie for our best includes the paper's best
    assert tied.agrees and tied.rank_in_ours == 1
    partial = best_setting(["a", "b", "c"], [math.nan, 2, 1], [9, 1, 2])  # the paper's best has no result yet
    assert partial.paper_label == "c" and partial.agrees is False and partial.n == 2
    claims = [Claim("A > B", ("A",), ("B",)), Claim("mean(A, C) > B", ("A", "C"), ("B",)), Claim("B > Z", ("B",), ("Z",))]
    se = {"A": 0.1, "B": 0.1, "C": 0.1}  # small noise: the signs are findings
    res = check_claims(claims, {"A": 2.0, "B": 1.0, "C": -1.0}, {"A": 5.0, "B": 3.0, "C": 4.0, "Z": math.nan}, {"Z": "fail"}, se)
    assert [r.verdict for r in res] == ["agrees", "opposite", "n/a"]
    noisy = check_claims(claims, {"A": 2.0, "B": 1.0, "C": -1.0}, {"A": 5.0, "B": 3.0, "C": 4.0}, {}, {"A": 1.0, "B": 1.0, "C": 1.0})
    assert [r.verdict for r in noisy[:2]] == ["inconclusive", "inconclusive"]  # |delta| < 1.96 * se of the difference
    unknown = check_claims(claims[:1], {"A": 2.0, "B": 1.0}, {"A": 5.0, "B": 3.0})  # no noise estimate: not a finding
    assert unknown[0].verdict == "inconclusive" and "no estimate of the noise" in unknown[0].note
    assert res[0].paper_delta == pytest.approx(2.0) and res[1].ours_delta == pytest.approx(-0.5)
    assert math.isnan(res[2].paper_delta) and "fail" in res[2].note


def test_a_tenth_of_a_point_on_500_images_is_inconclusive_and_ten_points_over_3_seeds_agree():
    # one seed, 500 test images, 40% accuracy: se = sqrt(0.4 * 0.6 / 500) = 2.19 points per cell
    assert cell_se([40.0], 500) == pytest.approx(100 * math.sqrt(0.4 * 0.6 / 500))
    assert cell_se([40.0], None) != cell_se([40.0], None)  # NaN: one seed and no test-set size say nothing
    claim = [Claim("normalised > unnormalised", ("l2",), ("none",))]
    small = check_claims(claim, {"l2": 40.1, "none": 40.0}, {"l2": 64.4, "none": 57.1}, {},
                         {"l2": cell_se([40.1], 500), "none": cell_se([40.0], 500)})[0]
    # the difference's se is sqrt(2) * 2.19 = 3.10; its interval +0.1 +- 6.1 contains zero
    assert small.ours_se == pytest.approx(math.hypot(cell_se([40.1], 500), cell_se([40.0], 500)))
    assert small.verdict == "inconclusive" and small.ours_ci[0] < 0 < small.ours_ci[1]
    a, b = [70.1, 70.0, 69.9], [60.2, 60.0, 59.8]  # 10 points, 3 seeds, small spread, 10,000 test images
    # se^2 = s^2 / 3 + p(1-p)/n: (0.01 / 3 + 0.7 * 0.3 / 1e4 * 1e4) for the first cell
    assert cell_se(a, 10_000) == pytest.approx(math.sqrt(0.01 / 3 + 0.21), rel=1e-6)
    big = check_claims(claim, {"l2": 70.0, "none": 60.0}, {"l2": 64.4, "none": 57.1}, {},
                       {"l2": cell_se(a, 10_000), "none": cell_se(b, 10_000)})[0]
    assert big.verdict == "agrees" and big.ours_ci[0] > 8
    assert resolution(cell_se([40.0], 500)) == pytest.approx(1.959964 * math.sqrt(2) * 2.19089, rel=1e-4)


def test_cells_read_off_the_same_runs_are_not_pooled_as_independent_evidence():
    """SupCon Table 8: each pretraining run gives three cells (one per linear-stage optimizer). Pooling LARS's
    three cells against RMSProp's three must not shrink the noise by sqrt(3): they are three readouts of the same
    two runs. Cells of distinct runs (the same claim over three separate runs each) do average down."""
    claim = [Claim("LARS > RMSProp (pooled)", ("L1", "L2", "L3"), ("R1", "R2", "R3"))]
    ours = {"L1": 49.0, "L2": 48.0, "L3": 47.0, "R1": 46.0, "R2": 46.0, "R3": 46.0}
    paper = {k: 1.0 for k in ours}
    se = {k: 1.0 for k in ours}
    shared = {k: ["lars-s0", "lars-s1"] for k in ("L1", "L2", "L3")} | {k: ["rms-s0", "rms-s1"] for k in ("R1", "R2", "R3")}
    distinct = {k: [f"{k}-s0", f"{k}-s1"] for k in ours}
    same_runs = check_claims(claim, ours, paper, {}, se, shared)[0]
    separate = check_claims(claim, ours, paper, {}, se, distinct)[0]
    assert same_runs.ours_delta == pytest.approx(2.0) == separate.ours_delta
    assert same_runs.ours_se == pytest.approx(math.sqrt(2.0))  # each side's SE stays 1 (fully correlated bound)
    assert separate.ours_se == pytest.approx(math.sqrt(2.0 / 3.0))  # each side 1 / sqrt(3)
    assert same_runs.verdict == "inconclusive" and separate.verdict == "agrees"  # +2.0: inside 1.96 * 1.41, not 0.82


def test_the_best_setting_handles_ties_and_the_runner_up_within_noise():
    tie = best_setting(["crop", "color", "blur"], [40.0, 40.0, 40.0], [30.0, 50.0, 10.0], se=[2.2, 2.2, 2.2])
    assert tie.ties == ["crop", "color", "blur"] and tie.agrees and tie.verdict == "inconclusive"
    close = best_setting(["a", "b", "c"], [41.0, 40.0, 30.0], [50.0, 40.0, 30.0], se=[2.0, 2.0, 2.0])
    assert close.ours_label == "a" and close.runner_up_label == "b" and close.distinguishable is False
    assert close.verdict == "inconclusive"
    clear = best_setting(["a", "b", "c"], [60.0, 40.0, 30.0], [50.0, 40.0, 30.0], se=[1.0, 1.0, 1.0])
    assert clear.distinguishable and clear.verdict == "agrees"
    other = best_setting(["a", "b", "c"], [30.0, 60.0, 40.0], [50.0, 40.0, 30.0], se=[1.0, 1.0, 1.0])
    assert other.verdict == "opposite" and other.rank_in_ours == 3  # another cell clearly beats the paper's best
    assert summary([], other) == {"agrees": 0, "opposite": 1, "inconclusive": 0, "n/a": 0}


def test_rank_correlations_carry_a_bootstrap_interval_and_a_permutation_p_value():
    paper = [1, 2, 3, 4, 5, 6, 7, 8]
    (strong,) = correlations({"all": ([1.0, 2, 3, 4, 5, 6, 7, 8], paper, [0.01] * 8)})
    assert strong.spearman == pytest.approx(1.0) and strong.evidence and strong.p_value < 0.01
    assert strong.spearman_ci[0] > 0.8
    (noisy,) = correlations({"all": ([1.0, 2, 3, 4, 5, 6, 7, 8], paper, [50.0] * 8)})  # noise far above the gaps
    assert noisy.spearman == pytest.approx(1.0) and noisy.spearman_ci[0] < 0.3  # the interval says so
    (few,) = correlations({"all": ([1.0, 2, 3], [1, 2, 3], [0.1] * 3)})
    assert few.n == 3 and not few.evidence and few.p_value > 0.1  # 3 cells: 1/6 of orderings are perfect


@pytest.mark.parametrize("name", sorted(n for n in STUDIES if STUDIES[n].has_paper and STUDIES[n].claims_by == "the paper"))
def test_every_claim_holds_on_the_papers_own_numbers(name):
    study = STUDIES[name]
    cells = study.paper()
    assert cells, f"{name}: no published cells"
    values = {c.key: c.value for c in cells}
    notes = {c.key: c.note for c in cells if c.note}
    claims = study.claims(Match({c.key: c.key for c in cells}))
    assert claims, f"{name}: no claimed effect"
    for claim in claims:
        for key in (*claim.higher, *claim.lower):
            assert key in values, f"{name}: claim {claim.text!r} names {key}, which the paper does not have"
        result = check_claims([claim], values, values, notes)[0]
        assert result.paper_delta > 0 or (math.isnan(result.paper_delta) and result.note), (name, claim.text)


# ------------------------------------------------------------------------------ the sweep files


@pytest.mark.parametrize("name", sorted(PAPER_SWEEPS))
def test_every_paper_sweep_expands_in_both_sizes_and_maps_onto_the_figure(name):
    path = SWEEPS / f"{name}.yaml"
    text = path.read_text()
    header = text.split("\nname:")[0]
    study = STUDIES[name]
    assert study.figure.split()[0] in header and "Expected shape" in header and "--profile quick" in header
    gpu, quick = PAPER_SWEEPS[name]
    assert f"{gpu} runs" in header or f"= {gpu} runs" in header, f"{name}: the comment does not state its {gpu} GPU runs"
    assert f"{quick} runs" in header, f"{name}: the comment does not state its {quick} quick runs"
    sets = ["data.root=cifar10-jpg.tar.gz", "output.root=results"]
    for profile, expected in ((None, gpu), ("quick", quick)):
        spec = load_sweep(path, profile)
        assert spec.description
        runs = expand(spec, sets)
        assert len(runs) == expected, (name, profile)
        configs = [{k: v for k, v in _flat(to_dict(r.config)).items()} for r in runs]
        # the cells as the report builds them: a study may make several rows (cells) of one run
        rows = study.cell_rows(pd.DataFrame([{**c, "status": "pending"} for c in configs]))
        keys = [study.key_of(c) for c in rows.to_dict("records")]
        assert all(k is not None for k in keys), f"{name} ({profile}): a run is not a cell of {study.figure}"
        match = study.match(sorted(set(keys), key=study.sort_key))
        unmatched = [k for k, pk in match.paper_key.items() if pk is None]
        assert not unmatched, f"{name} ({profile}): cells without a published counterpart: {unmatched}"
        if profile == "quick":
            assert spec.name == f"{name}_quick"
            assert {c["model.backbone"] for c in configs} == {"convnet"}
            assert max(c["optim.epochs"] for c in configs) <= 4


# the studies with published numbers: each gets a `cpu` profile sized for its headline effect, or says why not
HEADLINE_STUDIES = sorted(set(PAPER_SWEEPS) - {"pretext_vs_contrastive"})


@pytest.mark.parametrize("name", HEADLINE_STUDIES)
def test_every_study_has_a_cpu_size_that_can_decide_its_headline_or_says_why_not(name):
    """The `cpu` profile runs every cell its headline claim (the study's first) compares, on the small ConvNet,
    with at least two seeds (an interval without seed noise would be too narrow to call the effect); the top
    comment states its runs and what it measured. Without a profile the comment says so, with the reason."""
    path = SWEEPS / f"{name}.yaml"
    header = path.read_text().split("\nname:")[0]
    study = STUDIES[name]
    if "cpu" not in load_sweep(path).profiles:
        assert "--profile cpu: none" in header, f"{name}: no cpu profile and no word on why"
        return
    spec = load_sweep(path, "cpu")
    assert spec.name == f"{name}_cpu"
    runs = expand(spec, ["data.root=cifar10-jpg.tar.gz", "output.root=results"])
    assert "--profile cpu" in header, f"{name}: the top comment does not describe its cpu profile"
    described = header.split("--profile cpu", 1)[1]
    assert f"{len(runs)} runs" in described, name
    assert "Measured:" in described, f"{name}: the cpu size's measured headline"
    configs = [_flat(to_dict(r.config)) for r in runs]
    assert {c["model.backbone"] for c in configs} == {"convnet"}
    assert len({c["seed"] for c in configs}) >= 2
    rows = study.cell_rows(pd.DataFrame([{**c, "status": "pending"} for c in configs]))
    keys = sorted({study.key_of(c) for c in rows.to_dict("records")}, key=study.sort_key)
    match = study.match(keys)
    have = {pk for pk in match.paper_key.values() if pk is not None}
    headline = study.claims(match)[0]
    missing = [k for k in (*headline.higher, *headline.lower) if k not in have]
    assert not missing, f"{name}: the cpu profile lacks cells of its headline ({headline.text}): {missing}"


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.dumps(v) if isinstance(v, (list, tuple)) else v
    return out


def test_the_quick_profile_is_chosen_by_set_profile_in_a_dry_run(tmp_path):
    proc = cli("bench_ssl.sweep", SWEEPS / "temperature.yaml", "--dry-run", "--set", "profile=quick",
               "--set", "data.root=x.tar.gz", "--set", f"output.root={tmp_path}", timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "6 runs:" in proc.stdout and "method.temperature" in proc.stdout


# ------------------------------------------------------------------------------ synthetic sweeps (no training)


def fake_sweep(root: Path, sweep_file: Path, profile=None, value=None, pending=(), failed=(), device="cpu (x86_64, 2 threads)",
               wall_s=10.0) -> tuple[Path, list]:
    """A sweep folder as the driver and the runs leave it, with chosen results: `value(run)` (a fraction) for
    finished runs, no folder for `pending` run indices, a traceback for `failed` ones."""
    spec = load_sweep(sweep_file, profile)
    runs = expand(spec, ["data.root=cifar10-jpg.tar.gz", f"output.root={root}"])
    sweep_dir = root / spec.name
    sweep_dir.mkdir(parents=True)
    write_manifest(sweep_dir, spec, runs, varying_keys(runs))
    for r in runs:
        if r.index in pending:
            continue
        d = sweep_dir / r.run_id
        d.mkdir()
        (d / "config.yaml").write_text(dump_yaml(r.config))
        if r.index in failed:
            (d / "traceback.txt").write_text("Traceback (most recent call last):\nRuntimeError: loss is NaN\n")
            continue
        v = value(r) if value else 0.3
        epochs = [{"epoch": e, "loss": 5 - 0.1 * e, "knn_top1": v - 0.1 + 0.03 * e} for e in (1, 2)]
        (d / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in epochs))
        (d / "result.json").write_text(json.dumps({
            "run_id": r.run_id, "linear_top1": v, "linear_top5": 0.9, "knn_top1": v - 0.05, "wall_time_s": wall_s,
            "train_time_s": wall_s * 0.8, "device": device, "hostname": "node1", "git_commit": "0123abc", "seed": r.config.seed,
            "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T01:00:00+00:00", "peak_gpu_mem_gb": 2.5,
            "num_train": 1000, "num_test": 10_000, "versions": {"torch": "2.14.1", "python": "3.11.7"}, "config": to_dict(r.config)}))
    return sweep_dir, runs


# our linear top-1 (%) per loss_fn cell, two seeds each (mean ± 1): ranks vs the paper's differ in one swap
LOSS_OURS = {("nt_xent", False): 40.0, ("nt_logistic", False): 38.0, ("nt_logistic", True): 35.0,
             ("margin_triplet", False): 34.0, ("margin_triplet", True): 37.0}


def _loss_value(run) -> float:
    m = run.config.method
    base = LOSS_OURS[(m.loss, m.semi_hard if m.loss != "nt_xent" else False)]
    return (base + (1.0 if run.config.seed == 0 else -1.0)) / 100


def test_agreement_of_a_report_matches_hand_computed_values(tmp_path):
    sweep_dir, _ = fake_sweep(tmp_path, SWEEPS / "loss_fn.yaml", "quick", _loss_value)
    r = build(sweep_dir)
    assert r.known and r.title == "SimCLR Table 4: contrastive loss functions and negative mining"
    # ours 41, 39, 36, 35, 38 (seed 0 only: the quick profile runs 1 seed) vs the paper's 63.9, 51.6, 57.9, 50.9, 57.5
    # ranks (5, 4, 2, 1, 3) vs (5, 2, 4, 1, 3): sum d^2 = 8, rho = 1 - 48/120 = 0.6; 7 concordant, 3 discordant: tau 0.4
    (corr,) = r.correlations
    assert (corr.n, corr.spearman, corr.kendall) == (5, pytest.approx(0.6), pytest.approx(0.4))
    assert r.best.agrees and r.best.paper_label == "NT-Xent"
    assert [c.verdict for c in r.claims] == ["agrees", "agrees", "opposite", "agrees"]
    assert r.claims[2].ours_delta == pytest.approx(-3.0) and r.claims[2].paper_delta == pytest.approx(6.3)


def test_a_partial_sweep_reports_mean_std_over_seeds_and_marks_missing_cells(tmp_path):
    # the GPU profile: 5 cells x 3 seeds, seeds outermost; margin triplet + mining (index 4, 9, 14) has no result,
    # NT-Logistic's seed 2 (index 11) failed
    sweep_dir, _ = fake_sweep(tmp_path, SWEEPS / "loss_fn.yaml", None, _loss_value, pending={4, 14}, failed={9, 11})
    r = build(sweep_dir)
    cells = r.cells.set_index("label")
    assert cells.loc["Margin Triplet (semi-hard)", "state"] == "missing"
    # NT-Xent: seeds 0, 1, 2 -> 41, 39, 39: mean 39.67, std 1.155
    assert cells.loc["NT-Xent", "mean"] == pytest.approx(119 / 3)
    assert cells.loc["NT-Xent", "std"] == pytest.approx(math.sqrt(4 / 3))
    assert cells.loc["NT-Logistic", "n_done"] == 2 and cells.loc["NT-Logistic", "n_runs"] == 3
    # four cells remain: ranks (4, 3, 2, 1) vs (4, 2, 3, 1): rho = 1 - 6*2/60 = 0.8, tau = (5 - 1)/6
    (corr,) = r.correlations
    assert (corr.n, corr.spearman, corr.kendall) == (4, pytest.approx(0.8), pytest.approx(4 / 6))
    assert [c.verdict for c in r.claims] == ["agrees", "n/a", "opposite", "n/a"]
    assert any("Partial sweep" in n and "2 pending" in n and "2 failed" in n for n in r.notes)
    assert "Hatched: 1 of 5 cells have no finished run yet (their runs: 2 pending, 1 failed)" in r.figure.caption
    table = r.cell_table.set_index("cell")
    assert table.loc["NT-Xent", "ours (mean ± std)"] == "39.7 ± 1.2"
    assert table.loc["Margin Triplet (semi-hard)", "ours (mean ± std)"] == "n/a"
    runs_table = r.run_table
    assert (runs_table["status"] == "failed").sum() == 2 and runs_table["note"].str.contains("loss is NaN").sum() == 2
    out = write_report(sweep_dir, tmp_path / "reports", "html")
    html = out["html"].read_text()
    assert "n/a" in html and "Partial sweep" in html and "39.7 ± 1.2" in html


def test_a_sweep_that_has_not_started_renders_with_every_cell_missing(tmp_path):
    sweep_dir, _ = fake_sweep(tmp_path, SWEEPS / "temperature.yaml", "quick", pending=set(range(6)))
    r = build(sweep_dir)
    assert (r.cells["state"] == "missing").all() and r.best.paper_label is None
    assert all(c.verdict == "n/a" for c in r.claims)
    out = write_report(sweep_dir, tmp_path / "reports", "html")
    html = out["html"].read_text()
    assert "6 pending" in html and "Hatched: 6 of 6 cells have no finished run yet (their runs: 6 pending)" in html and "no cell has both" in html


def test_a_partial_7x7_grid_hatches_the_missing_cells_and_counts_gpu_hours(tmp_path):
    paper = {c.key: c.value for c in STUDIES["aug_grid"].paper()}

    def value(run):
        v1 = run.config.augment.view1[1:]
        return paper[(v1[0], v1[0]) if len(v1) == 1 else tuple(v1)] * 0.6 / 100

    pending, failed = set(range(42, 49)), {3}  # the Rotate row not started, Crop -> Sobel failed
    sweep_dir, _ = fake_sweep(tmp_path, SWEEPS / "aug_grid.yaml", None, value, pending, failed, device="NVIDIA H200",
                              wall_s=360.0)
    r = build(sweep_dir)
    ours_ax = r.figure.figure.axes[0]
    hatched = [p for p in ours_ax.patches if p.get_hatch()]
    assert len(hatched) == 8  # 7 + 1 cells marked n/a
    assert sum(t.get_text() == "n/a" for t in ours_ax.texts) == 8
    (corr,) = r.correlations
    assert corr.n == 41 and corr.spearman == pytest.approx(1.0) and corr.kendall == pytest.approx(1.0)
    assert r.best.agrees and r.best.paper_label == "Crop → Color"
    env = dict(r.environment)
    assert env["GPU-hours"].startswith("4.10")  # 41 runs x 360 s on a CUDA device
    assert env["device"] == "NVIDIA H200" and env["commit"] == "0123abc"
    assert "Hatched: 8 of 49 cells have no finished run yet (their runs: 7 pending, 1 failed)" in r.figure.caption


def test_a_sweep_without_a_paper_figure_gets_the_generic_report(tmp_path):
    sweep_dir, _ = fake_sweep(tmp_path, SWEEPS / "smoke.yaml", None, lambda run: 0.3 + run.config.method.temperature / 10)
    r = build(sweep_dir)
    assert not r.known and r.title == "Sweep sweep_smoke" and not r.correlations and len(r.cells) == 4
    out = write_report(sweep_dir, tmp_path / "reports", "html,pdf")
    assert "No published figure" in out["html"].read_text()
    assert out["pdf_pages"][:2] == ["Summary", "Figure"]


def test_studies_are_found_by_sweep_name_with_or_without_a_profile_suffix():
    assert find("moco_queue_quick").name == "moco_queue" and find(None, "aug_grid").name == "aug_grid"
    assert find("methods") is None and find("sweep_smoke") is None


def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    from bench_ssl.report.__main__ import main

    def error(*args) -> str:
        assert main([str(a) for a in args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        return err

    assert "does not exist" in error(tmp_path / "nope", "--out", tmp_path)
    (tmp_path / "empty").mkdir()
    assert "holds no runs" in error(tmp_path / "empty", "--out", tmp_path)
    assert "unknown format 'docx'" in error(tmp_path / "empty", "--format", "html,docx")
    (tmp_path / "file.txt").write_text("x")
    assert "is not a folder" in error(tmp_path / "file.txt")


# ------------------------------------------------------------------------------ a real quick sweep


@pytest.fixture(scope="module")
def real_sweep(cifar_tar, tmp_path_factory):
    """sweeps/loss_fn.yaml with --profile quick on the real CIFAR-10 tarball (5 runs), on half its training images
    (the report's path is the same; the suite's time is not)."""
    root = tmp_path_factory.mktemp("report_sweep")
    t0 = time.time()
    proc = cli("bench_ssl.sweep", SWEEPS / "loss_fn.yaml", "--profile", "quick", "--set", f"data.root={cifar_tar}",
               "--set", f"output.root={root}", "--set", "data.train_per_class=50", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "loss_fn_quick", time.time() - t0


def open_in_chromium(html: Path, screenshot: Path, timeout: float = 60) -> dict:
    """Load the page in headless Chromium over the DevTools protocol; collect console errors, uncaught
    exceptions, failed loads and every URL requested, check each <img>, and save a full-page screenshot."""
    import websocket

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y --no-install-recommends chromium)")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    proc = subprocess.Popen([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={profile}",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.time() + timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, "chromium exited at start"
            assert time.time() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)
        events, ids = [], iter(range(1, 1_000_000))

        def call(method, **params):
            i = next(ids)
            ws.send(json.dumps({"id": i, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == i:
                    assert "error" not in msg, msg
                    return msg["result"]
                events.append(msg)

        for domain in ("Runtime", "Log", "Page", "Network"):
            call(f"{domain}.enable")
        call("Emulation.setDeviceMetricsOverride", width=1200, height=900, deviceScaleFactor=1, mobile=False)
        call("Page.navigate", url=html.resolve().as_uri())
        while not any(e.get("method") == "Page.loadEventFired" for e in events):
            events.append(json.loads(ws.recv()))
        images = json.loads(call("Runtime.evaluate", returnByValue=True, expression=(
            "JSON.stringify(Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, "
            "width: i.naturalWidth, height: i.naturalHeight})))"))["result"]["value"])
        height = int(call("Page.getLayoutMetrics")["cssContentSize"]["height"])
        shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                    clip={"x": 0, "y": 0, "width": 1200, "height": height, "scale": 1})
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        try:
            call("Browser.close")
        except Exception:  # noqa: BLE001 - the browser may close the socket first
            pass
        ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
    errors = [e for e in events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    return {"errors": errors, "images": images, "requests": requests, "height": height}


def test_a_real_quick_sweep_renders_html_and_pdf(real_sweep, tmp_path):
    import pypdf

    sweep_dir, sweep_s = real_sweep
    t0 = time.time()
    proc = cli("bench_ssl.report", sweep_dir, "--out", tmp_path / "reports", "--format", "html,pdf", timeout=900)
    assert proc.returncode == 0, proc.stderr
    html_path, pdf_path = tmp_path / "reports" / "loss_fn_quick.html", tmp_path / "reports" / "loss_fn_quick.pdf"
    assert proc.stdout.split() == [str(html_path), str(pdf_path)]
    report_s = time.time() - t0
    print(f"\nquick sweep: {sweep_s:.0f} s, report: {report_s:.1f} s")

    html = html_path.read_text()
    title = "SimCLR Table 4: contrastive loss functions and negative mining"
    assert f"<h1>{title}</h1>" in html and "Spearman" in html and "Kendall" in html and "Environment" in html
    assert not re.search(r"""(src|href)=["'](?!data:)""", html), "the HTML refers to an external asset"
    assert "<script" not in html
    screenshot = tmp_path / "loss_fn_quick.png"
    page = open_in_chromium(html_path, screenshot)
    assert page["errors"] == [], page["errors"]
    assert [i["alt"] for i in page["images"]] == [title, "Learning curves"]
    assert all(i["complete"] and i["width"] > 600 and i["height"] > 100 for i in page["images"]), page["images"]
    assert all(u.startswith(("file://", "data:")) for u in page["requests"]), page["requests"]
    assert [u for u in page["requests"] if u.startswith("file://")] == [html_path.resolve().as_uri()]
    assert screenshot.stat().st_size > 20_000 and page["height"] > 1500

    reader = pypdf.PdfReader(pdf_path)
    texts = [p.extract_text() for p in reader.pages]
    headings = ["Summary", "Figure", "Cells", "Runs", "Learning curves", "Environment"]
    assert len(texts) == len(headings)
    sizes = {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages}
    assert sizes == {(595, 842)}  # every page a whole A4 page (not cropped to its ink)
    assert "Verdicts (claimed effects and the best setting):" in texts[0] and "Resolution:" in texts[0]
    for i, (heading, text) in enumerate(zip(headings, texts), start=1):
        assert heading in text and f"page {i} of {len(headings)}" in text, (i, heading, text[:300])
    assert title in texts[1] and "Ours" in texts[1] and "Paper" in texts[1] and "linear top-1 (%)" in texts[1]
    assert "Figure 1." in texts[1] and "CIFAR-10" in texts[1] and "2 epochs" in texts[1] and "1 seed" in texts[1]
    assert "Spearman" in texts[0] and "NT-Xent beats NT-Logistic" in texts[0]
    assert "cpu (x86_64" in texts[5] and "GPU-hours" in texts[5] and "torch" in texts[5]
    assert all(run in texts[3] for run in (p.name for p in sweep_dir.iterdir() if (p / "result.json").exists()))
    assert reader.metadata.title.startswith(title)
    from pdf_check import check_pages

    check_pages(pdf_path, tmp_path / "pages", headings, {"Figure", "Learning curves"})


def test_a_real_sweep_with_runs_missing_still_renders_with_the_cells_marked(real_sweep, tmp_path):
    sweep_dir = tmp_path / "loss_fn_quick"
    shutil.copytree(real_sweep[0], sweep_dir)
    done = sorted(p for p in sweep_dir.iterdir() if (p / "result.json").exists())
    (done[0] / "result.json").unlink()  # interrupted: pending again
    (done[1] / "result.json").unlink()
    (done[1] / "traceback.txt").write_text("Traceback (most recent call last):\nRuntimeError: out of memory\n")
    out = write_report(sweep_dir, tmp_path / "reports", "html,pdf")
    html = out["html"].read_text()
    assert "Partial sweep: " in html and "1 pending" in html and "1 failed" in html and "out of memory" in html
    assert html.count(">n/a<") >= 2 and "Hatched: 2 of 5 cells have no finished run yet (their runs: 1 pending, 1 failed)" in html
    assert out["pdf_pages"] == ["Summary", "Figure", "Cells", "Runs", "Learning curves", "Environment"]


@pytest.mark.parametrize("n_cells", [2, 49])
def test_learning_curves_overlay_every_run_per_metric_without_overlapping_text(n_cells):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from bench_ssl.report import figures

    cells = [{"label": f"cell {i} → transform {i % 7}", "runs": [
        {"epochs": [1, 2, 3], "loss": [5 - 0.1 * e - 0.01 * i for e in (1, 2, 3)], "knn_epochs": [1, 2, 3],
         "knn": [20 + i * 0.3 + s + e for e in (1, 2, 3)]} for s in range(3)]} for i in range(n_cells)]
    with figures.style():
        fig = figures.overlaid_curves(cells, "Learning curves")
        FigureCanvasAgg(fig)
        assert len(fig.axes) == 2  # one panel per metric, not one per run
        assert len(fig.legends[0].get_texts()) == n_cells
        assert len(fig.axes[1].get_lines()) == n_cells * 4  # 3 seeds thin + the mean thick, per cell
        assert overlapping_texts(fig) == []


@pytest.mark.parametrize("name", sorted(PAPER_SWEEPS))
def test_every_studys_figure_has_no_overlapping_text_with_every_cell_or_with_two_runs(name, tmp_path):
    """The GPU-profile figure (49 cells for aug_grid), and the same figure when only 2 runs have finished
    (the rest hatched n/a): no two texts touch, rotated tick labels taken as the rectangles they cover."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from bench_ssl.report.cells import build_cells
    from bench_ssl.report.data import load_sweep as load_results
    from bench_ssl.report.studies import DrawContext

    n_runs = PAPER_SWEEPS[name][0]
    for label, pending in (("all", ()), ("two", range(2, n_runs))):
        sweep_dir, _ = fake_sweep(tmp_path / label, SWEEPS / f"{name}.yaml", value=lambda r: 0.3 + 0.001 * r.index,
                                  pending=pending)
        sweep = load_results(sweep_dir)
        study = find(name, sweep.name)
        if hasattr(study, "configure"):
            study.configure(sweep.runs)
        cells, paper, match = build_cells(study, study.cell_rows(sweep.runs))
        ctx = DrawContext(sweep.metric_label, "CIFAR-10, ResNet-18, 100 epochs, 3 seeds", study.paper_setup)
        fig = study.draw(cells, paper, ctx, match)
        FigureCanvasAgg(fig)
        assert overlapping_texts(fig) == [], (name, label)


def test_the_pdf_is_whole_a4_pages_with_nothing_off_the_page_and_no_blank_page(tmp_path):
    """49 cells with long failure notes (the run table's widest case): every page rendered by pdftoppm, the
    tables' columns inside the page, rows that do not fit continued under their header."""
    from pdf_check import check_pages

    sweep_dir, runs = fake_sweep(tmp_path, SWEEPS / "aug_grid.yaml", value=lambda r: 0.3 + 0.001 * r.index,
                                 failed={1, 2, 30})
    for i in (1, 2, 30):
        (sweep_dir / runs[i].run_id / "traceback.txt").write_text(
            "Traceback (most recent call last):\n" + "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB "
            "(GPU 0; 79.35 GiB total capacity; 75.01 GiB already allocated; a_very_long_identifier_without_spaces_"
            "that_has_to_be_cut_somewhere_to_fit_its_column)\n")
    out = write_report(sweep_dir, tmp_path / "reports", "pdf")
    headings = out["pdf_pages"]
    assert headings[:2] == ["Summary", "Figure"] and headings[-1] == "Environment"
    assert "Runs (continued)" in headings and len(headings) == len(set(headings))
    check_pages(out["pdf"], tmp_path / "pages", headings, {"Figure", "Learning curves"})
    import pypdf

    text = "".join(p.extract_text() for p in pypdf.PdfReader(out["pdf"]).pages)
    assert all(r.run_id in text for r in runs)  # every run, none lost at a page break


def test_two_sizes_of_one_study_are_compared_cell_by_cell(tmp_path, capsys):
    """The quick and the GPU profile of the temperature study: cells meet through the paper cell each maps to;
    a difference is the GPU mean minus the quick one with both errors combined; each claim's verdict per sweep."""
    from bench_ssl.report.__main__ import main as report_main
    from pdf_check import check_pages

    quick = {0.05: 36, 0.1: 38, 0.5: 37, 1.0: 35, 10.0: 30, 100.0: 29}  # l2-normalised cells first

    def quick_value(r):
        return quick[r.config.method.temperature] / 100

    def gpu_value(r):  # 10 points higher, seeds 41 +- 1
        return (quick[r.config.method.temperature] + 10 + (r.config.seed - 1)) / 100

    q_dir, _ = fake_sweep(tmp_path / "q", SWEEPS / "temperature.yaml", "quick", quick_value)
    g_dir, _ = fake_sweep(tmp_path / "g", SWEEPS / "temperature.yaml", None, gpu_value)
    assert report_main([str(q_dir), str(g_dir), "--out", str(tmp_path / "reports")]) == 0
    html_path = tmp_path / "reports" / "compare_temperature_quick_vs_temperature.html"
    assert capsys.readouterr().out.split()[0] == str(html_path)

    from bench_ssl.report.compare import build_comparison

    c = build_comparison([q_dir, g_dir])
    assert len(c.cell_table) == 6  # the six cells of both, matched
    row = c.cell_table.set_index("cell").iloc[0]
    # se² in points²: s²/k over seeds (quick: 1 seed, none) + p(1-p)/n on the 10,000 test images the results name
    p_q, p_g = 0.36, 0.46
    se = math.sqrt(p_q * (1 - p_q) / 10_000 * 1e4 + (1 / 3 + p_g * (1 - p_g) / 10_000 * 1e4))
    delta = row["temperature − temperature_quick"]
    assert delta.startswith("+10.0 [") and f"{10 - 1.96 * se:.1f}" in delta and f"{10 + 1.96 * se:.1f}" in delta
    (rank,) = c.rank_table.to_dict("records")
    assert rank["n"] == 6 and rank["Spearman ρ"] == "+1.00"  # the same order at both sizes
    verdicts = c.claim_table.set_index("claim")
    assert set(verdicts.columns) >= {"paper", "temperature_quick: verdict", "temperature: verdict"}
    html = html_path.read_text()
    assert "Rank agreement between the sweeps" in html and "Effects the paper claims, in each sweep" in html
    pdf = tmp_path / "reports" / "compare_temperature_quick_vs_temperature.pdf"
    check_pages(pdf, tmp_path / "pages", ["Comparison", "Figure", "Cells"], {"Figure"})

    other, _ = fake_sweep(tmp_path / "o", SWEEPS / "loss_fn.yaml", "quick")
    assert report_main([str(q_dir), str(other), "--out", str(tmp_path / "reports")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "compare the results of one study" in err[0]
    assert report_main([str(q_dir), str(q_dir)]) == 2
    assert "give each sweep once" in capsys.readouterr().err
