"""Results written before components owned their configuration (the v1 format of tests/data/legacy_v1) still load in
tables and reports with only the parameters that apply, keep their folders and ids, and are not re-run by a sweep
that describes the same runs in today's keys."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bench_ssl.config import load_config
from bench_ssl.errors import ConfigError
from bench_ssl.report import build, figures
from bench_ssl.results import RunDir, load
from bench_ssl.run import run
from bench_ssl.sweep import load_sweep
from bench_ssl.sweep.driver import run_sweep

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "legacy_v1"
OLD_FOLDERS = {"258cbc0c766b": "moco", "4077eae3e8a3": "end_to_end", "7aa5e65e5a1d": "byol", "96a8cdcac991": "simclr",
               "a2e643970b64": "simclr", "ae148088a7e0": "supervised", "bf86c15aaf03": "simclr", "c18016a2ab3b": "simclr",
               "da15da7dd205": "memory_bank", "f1154ebec0fe": "simclr"}


@pytest.fixture
def legacy(tmp_path, cifar_tar) -> Path:
    """A copy of the v1 results folder with its placeholders filled in: <tmp>/results/legacy_mix."""
    root = tmp_path / "results"
    shutil.copytree(DATA / "legacy_mix", root / "legacy_mix")
    for path in (root / "legacy_mix").rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".json", ".jsonl", ".txt"):
            text = path.read_text().replace("@CIFAR10@", str(cifar_tar.resolve())).replace("@RESULTS@", str(root))
            path.write_text(text.replace("@SWEEP_FILE@", str(DATA / "legacy_mix.v1.yaml")))
    return root / "legacy_mix"


def test_an_old_results_folder_loads_with_only_what_applies(legacy):
    frame = load(legacy)
    assert len(frame) == 11
    assert sorted(frame["status"]) == ["done"] * 9 + ["failed", "pending"]
    assert set(frame.loc[frame["status"] != "pending", "run_id"]) == set(OLD_FOLDERS)  # old folders keep their names
    rows = {r["run_id"]: r for r in frame.to_dict("records")}
    simclr = rows["96a8cdcac991"]
    assert simclr["method.temperature"] == 0.5 and simclr["method.momentum"] != simclr["method.momentum"]  # NaN
    assert rows["258cbc0c766b"]["method.momentum"] == 0.999 and rows["258cbc0c766b"]["method.bn_splits"] == 5
    bank = rows["da15da7dd205"]
    assert bank["method.num_negatives"] == 50 and bank["method.queue_size"] != bank["method.queue_size"]  # v1: K was queue_size
    assert rows["ae148088a7e0"]["model.head.type"] != rows["ae148088a7e0"]["model.head.type"]  # supervised: no head
    assert rows["a2e643970b64"]["model.head.out_dim"] != rows["a2e643970b64"]["model.head.out_dim"]  # head none
    assert "model.cifar_stem" not in frame.columns and "augment.blur.p" not in frame.columns  # convnet; no blur in a view
    assert "eval.knn_k" not in frame.columns and set(frame["eval.knn.k"].dropna()) == {200}
    assert rows["96a8cdcac991"]["knn_top1"] == json.loads((legacy / "96a8cdcac991" / "result.json").read_text())["knn_top1"]
    assert "training diverged" in rows["f1154ebec0fe"]["error"]
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.results", str(legacy)], capture_output=True, text=True)
    assert proc.returncode == 0 and "96a8cdcac991" in proc.stdout, proc.stderr


def test_an_old_results_folder_renders_a_report(legacy):
    report = build(legacy)
    assert len(report.run_table) == 11 and set(report.run_table["status"]) == {"done", "failed", "pending"}
    labels = list(report.cells["label"])
    (moco,) = [label for label in labels if label.startswith("name=moco")]
    assert "queue_size=50" in moco and "bn_splits=5" in moco and "loss=" not in moco
    assert all("queue_size=" not in label and "bn_splits=" not in label for label in labels if label != moco)
    # the long labels of a sweep over many keys wrap between their key=value parts: the figure keeps the page's width
    ticks = [t.get_text() for t in report.figure.figure.axes[0].get_yticklabels()][::-1]
    assert [t.replace("\n", ", ") for t in ticks] == labels and max(len(t.split("\n")) for t in ticks) >= 3
    assert all(line.count("[") == line.count("]") for t in ticks for line in t.split("\n"))
    assert sum("lr=1e+30" in label for label in labels) == 1  # the diverged run's lr, not its 31 digits
    width_px, _ = Image.open(io.BytesIO(report.figure.png)).size
    assert width_px <= (figures.PAGE_WIDTH_IN + 0.3) * figures.RC["savefig.dpi"], width_px


def test_a_sweep_in_todays_keys_finds_the_old_runs_and_runs_only_the_missing_one(legacy, tmp_path, cifar_tar):
    sweep = load_sweep(DATA / "legacy_mix.yaml")
    overrides = [f"data.root={cifar_tar}", f"output.root={legacy.parent}"]
    before = {p.parent.name: p.stat().st_mtime_ns for p in legacy.glob("*/result.json")}
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as o, err.open("w") as e:
        run_sweep(sweep, overrides, dry_run=True, out=o, err=e)
    table = out.read_text()
    assert "10 done" not in table and "done 9  running 0  failed 1  pending 1" in table, table
    with out.open("w") as o, err.open("w") as e:
        code = run_sweep(sweep, overrides, poll_s=0.2, out=o, err=e)
    text = err.read_text()
    assert "11 runs, 9 already done, 1 to run" in text and "1 failed before" in text, text
    assert code == 1  # the failed run stays failed (it is retried only with --retry-failed)
    after = {p.parent.name: p.stat().st_mtime_ns for p in legacy.glob("*/result.json")}
    assert {k: after[k] for k in before} == before  # nothing finished was run again
    (new,) = set(after) - set(before)  # the pending simsiam run, in a folder named by today's id
    assert new not in OLD_FOLDERS and RunDir(legacy / new).read_result()["method"] == "simsiam"
    manifest = json.loads((legacy / "sweep.json").read_text())
    folders = {e.get("folder", e["run_id"]) for e in manifest["runs"]}
    assert set(OLD_FOLDERS) | {new} == folders
    assert len(load(legacy)) == 11


def test_an_old_run_config_returns_its_stored_result_without_training(legacy, tmp_path):
    old = legacy / "96a8cdcac991"
    stored = json.loads((old / "result.json").read_text())
    # a v1 config.yaml (every knob of every method) is read as the run it describes, and that run is this folder
    cfg = load_config(old / "config.yaml")
    assert RunDir.of(cfg).path == old
    result = run(old / "config.yaml")
    assert result == stored and not (old / "checkpoint.pt").exists()


def test_a_hand_written_config_with_an_old_key_names_the_new_one(tmp_path):
    with pytest.raises(ConfigError, match=r"eval.linear_max_iter is now eval.linear.max_iter"):
        load_sweep(DATA / "legacy_mix.v1.yaml")
    with pytest.raises(ConfigError, match=r"eval.linear: False is now eval.protocols; write eval.protocols: \[knn\]"):
        load_config(ROOT / "configs" / "smoke.yaml", ["eval.linear=false"])
    with pytest.raises(ConfigError, match=r"eval.knn_k is now eval.knn.k"):
        load_config(ROOT / "configs" / "smoke.yaml", ["eval.knn_k=50"])
