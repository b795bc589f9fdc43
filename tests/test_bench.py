"""The benchmark runs end to end on CPU in its quick form and writes every field of its JSON."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_writes_json_and_markdown(cifar_tar, tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.bench", "--quick", "--repeats", "1", "--packing", "1,2",
                           "--data", str(cifar_tar), "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    for key in ("standard_epoch_s", "ours_epoch_s", "compute_only_epoch_s", "ours_images_per_s", "device",
                "standard_images_per_s", "compute_only_images_per_s", "augmentation_share", "standard_over_ours",
                "ours_over_compute_only", "eval_s", "peak_memory_gb", "protocol", "packing", "stream_epoch_s",
                "stream_images_per_s", "stream_over_ours", "stream_workers", "graph_epoch_s", "compile_epoch_s",
                "graph_captured"):
        assert key in r, key
    for key in ("standard_epoch_s", "ours_epoch_s", "compute_only_epoch_s", "eval_s", "stream_epoch_s", "graph_epoch_s",
                "compile_epoch_s"):
        assert r[key] > 0
    assert r["stream_images_per_s"] == r["images_per_epoch"] / r["stream_epoch_s"]
    assert r["ours_images_per_s"] == r["images_per_epoch"] / r["ours_epoch_s"]
    assert r["standard_over_ours"] == r["standard_epoch_s"] / r["ours_epoch_s"]
    assert r["images_per_epoch"] == 500 and r["config"]["backbone"] == "convnet"
    assert [row["k"] for row in r["packing"]["rows"]] == [1, 2] and r["packing"]["rows"][0]["speedup"] == 1.0
    two = r["packing"]["rows"][1]
    assert two["fused_wall_s"] > 0 and two["fused_runs_per_hour"] == 2 / two["fused_wall_s"] * 3600
    table = out.with_suffix(".md").read_text()
    assert "(a) standard" in table and "(c) compute only" in table and "(d) ours, data.storage=stream" in table
    assert "(e) ours, train.graph (CPU: eager, nothing to capture)" in table and "(f) ours, train.compile" in table
    assert "| 2 |" in table
    assert table.strip() in proc.stdout
