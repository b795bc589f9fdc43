"""The benchmark runs end to end on CPU in its quick form and writes every field of its JSON."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_writes_json_and_markdown(cifar_tar, tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.bench", "--quick", "--repeats", "1", "--packing", "1,2",
                           "--data", str(cifar_tar), "--out", str(out),
                           "--peak-tflops", "0.5"], capture_output=True, text=True, cwd=ROOT, timeout=600)
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
    f = r["flop_floor"]  # the rate given on the command line (a CPU has none in the table)
    assert r["flops_per_step"] > 0 and f["epoch_tflop"] == r["flops_per_step"] * r["steps_per_epoch"] / 1e12
    assert f["floor_epoch_s"] == f["epoch_tflop"] / 0.5 and f["ours_over_floor"] == r["ours_epoch_s"] / f["floor_epoch_s"]
    table = out.with_suffix(".md").read_text()
    assert "at 0.5 TFLOP/s dense bf16" in table and f"(b) {f['ours_over_floor']:.1f}x" in table
    assert "(a) standard" in table and "(c) compute only" in table and "(d) ours, data.storage=stream" in table
    assert "(e) ours, train.graph (CPU: eager, nothing to capture)" in table and "(f) ours, train.compile" in table
    assert "| 2 |" in table
    assert table.strip() in proc.stdout


def test_flop_counts_match_the_hand_count_and_the_chip_is_found_by_its_name():
    import torch

    from bench_ssl.bench.flops import count_flops, floor, peak_tflops

    layer, x = torch.nn.Linear(8, 4), torch.randn(2, 8, requires_grad=True)
    # forward 2*B*in*out; backward the same twice (gradient of the input and of the weight)
    assert count_flops(lambda: layer(x).sum().backward()) == 3 * 2 * 2 * 8 * 4
    conv = torch.nn.Conv2d(3, 5, 3, padding=1, bias=False)
    assert count_flops(lambda: conv(torch.randn(2, 3, 6, 6))) == 2 * 2 * 5 * 6 * 6 * 3 * 9
    assert peak_tflops("NVIDIA H100 PCIe") == 756.0 and peak_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert peak_tflops("NVIDIA H200") == 989.4 and peak_tflops("NVIDIA L4") == 121.0
    assert peak_tflops("NVIDIA L40") == 181.0  # not the L4's rate, whose name it contains
    assert floor(10**12, 3, "cpu (x86_64, 2 threads)")["floor_epoch_s"] is None  # no rate: no floor, never a guess
