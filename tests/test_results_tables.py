"""Paper-ready tables from `bench_ssl.results`: pivots with mean ± std and n in sweep order, accuracies rounded to
the test set's resolution, LaTeX with booktabs and the best in bold, and a quiet exit into `| head`."""

import subprocess
import sys
from pathlib import Path

import pytest
from test_report import SWEEPS, _loss_value, fake_sweep

from bench_ssl.results.formats import decimals_for, latex

ROOT = Path(__file__).resolve().parents[1]


def results(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench_ssl", "results", *map(str, args)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)


@pytest.fixture(scope="module")
def loss_sweep(tmp_path_factory):
    """The loss_fn GPU profile: 5 cells x 3 seeds, linear top-1 = cell base + 1 for seed 0, - 1 otherwise."""
    sweep_dir, runs = fake_sweep(tmp_path_factory.mktemp("tables"), SWEEPS / "loss_fn.yaml", None, _loss_value)
    return sweep_dir, runs


def test_a_pivot_gives_mean_std_and_n_in_sweep_order(loss_sweep):
    sweep_dir, runs = loss_sweep
    proc = results(sweep_dir, "--pivot", "method.loss", "seed", "linear_top1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # rows in the order the sweep lists its runs (nt_xent, nt_logistic, margin_triplet), not alphabetical
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["nt_xent", "nt_logistic", "margin_triplet"]
    # NT-Xent, seed 0: one run at 0.41 on 10,000 test images -> 4 decimals
    assert "0.4100 (n=1)" in lines[2]
    proc = results(sweep_dir, "--pivot", "method.loss", "optim.epochs", "linear_top1")
    nt_xent = proc.stdout.splitlines()[2]
    # three seeds: 0.41, 0.39, 0.39 -> mean 0.3967, std 0.0115
    assert "0.3967 ± 0.0115 (n=3)" in nt_xent, proc.stdout
    csv = results(sweep_dir, "--pivot", "method.loss", "optim.epochs", "linear_top1", "--format", "csv").stdout
    assert "0.39666666" in csv  # full precision in CSV


def test_latex_has_booktabs_one_row_per_cell_and_the_best_in_bold(loss_sweep):
    sweep_dir, runs = loss_sweep
    proc = results(sweep_dir, "--pivot", "method.loss", "optim.epochs", "linear_top1", "--format", "latex")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.count("{") == text.count("}")
    assert [r"\toprule" in text, r"\midrule" in text, r"\bottomrule" in text] == [True] * 3
    rows = [line for line in text.splitlines() if line.endswith(r"\\")][1:]  # after the header
    assert len(rows) == 3 and rows[0].startswith(r"nt\_xent")  # one row per loss, underscores escaped
    assert r"\textbf{0.3967 $\pm$ 0.0115 (n=3)}" in rows[0]  # the highest mean of the column
    plain = results(sweep_dir, "--format", "latex").stdout
    assert len([line for line in plain.splitlines() if line.endswith(r"\\")]) == 1 + len(runs)
    assert plain.count(r"\textbf{") >= 1


def test_rounding_follows_the_test_set_and_latex_escapes():
    assert (decimals_for(500), decimals_for(10_000), decimals_for(None)) == (3, 4, 4)
    import pandas as pd

    text = latex(pd.DataFrame({"a_b": ["50%", "x & y"]}, index=pd.Index(["r1", "r2"], name="k")), index=True)
    assert r"50\%" in text and r"x \& y" in text and r"a\_b" in text


def test_results_into_head_exits_quietly(loss_sweep):
    """`results ... | head`: the reader leaves early; here it is gone before the table is written (a pipe whose
    read end is closed), which is the moment `head` creates when it has its lines."""
    import os

    sweep_dir, _ = loss_sweep
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run([sys.executable, "-m", "bench_ssl", "results", str(sweep_dir)], stdout=write,
                          stderr=subprocess.PIPE, text=True, timeout=600, cwd=ROOT)
    os.close(write)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_the_reports_reproduce_command_is_recorded_at_launch_and_expands_to_the_same_runs(cifar_tar, tmp_path):
    import json
    import os
    import re

    from bench_ssl.report import build

    sets = ["output.root=" + str(tmp_path / "out"), "data.train_per_class=20", "data.test_per_class=10",
            "optim.batch_size=50", "optim.epochs=1", "eval.protocols=[knn]", "method.temperature=0.3"]
    proc = subprocess.run([sys.executable, "-m", "bench_ssl", "sweep", "smoke", *[a for s in sets for a in ("--set", s)]],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    sweep_dir = tmp_path / "out" / "sweep_smoke"
    ids = {r["run_id"] for r in json.loads((sweep_dir / "sweep.json").read_text())["runs"]}
    (line,) = [c for c in build(sweep_dir).commands if "bench_ssl.sweep" in c]
    assert "--set method.temperature=0.3" in line and "--set 'eval.protocols=[knn]'" in line
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("BENCH_SSL_DATA")  # the line carries it: it must not need this shell's
    again = subprocess.run(["bash", "-c", line + " --dry-run"], capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr
    listed = set(re.findall(r"^([0-9a-f]{12})\s", again.stdout, flags=re.M))
    assert listed == ids and "4 runs: done 4" in again.stdout
