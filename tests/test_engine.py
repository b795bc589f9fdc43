"""End-to-end runs on real CIFAR-10 images: the smoke run, skipping finished runs, crash/resume, errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bench_ssl.config import load_config, run_id
from bench_ssl.errors import ConfigError, DatasetError
from bench_ssl.run import run
from bench_ssl.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
# a smaller run for the crash/resume test: 500 images, 4 epochs, a checkpoint after every epoch
TINY = ["data.train_per_class=50", "data.test_per_class=20", "optim.batch_size=100", "optim.epochs=4",
        "output.checkpoint_every=1", "eval.knn_every=0", "eval.protocols=[knn]"]


def cli(*args, cwd=ROOT, env=None):
    return subprocess.Popen([sys.executable, "-m", "bench_ssl.run", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_smoke_run_cli_writes_result_and_skips_when_finished(cifar_tar, tmp_path):
    t0 = time.time()
    proc = cli(SMOKE, "--set", f"data.root={cifar_tar}", "--set", f"output.root={tmp_path}")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    elapsed = time.time() - t0
    rid = run_id(load_config(SMOKE, [f"data.root={cifar_tar}"]))
    run_dir = tmp_path / "smoke" / rid
    result = json.loads((run_dir / "result.json").read_text())
    assert result["run_id"] == rid and json.loads(out.strip().splitlines()[-1])["run_id"] == rid
    for key in ("linear_top1", "linear_top5", "knn_top1"):
        assert 0.15 < result[key] <= 1.0, (key, result[key])
    assert result["linear_top5"] >= result["linear_top1"]
    for key in ("wall_time_s", "images_per_s", "seed", "versions", "device", "git_commit", "peak_gpu_mem_gb"):
        assert key in result
    assert result["versions"]["torch"] == torch.__version__
    assert {p.name for p in run_dir.iterdir()} >= {"config.yaml", "metrics.jsonl", "result.json", "checkpoint.pt", "log.txt"}
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2] and all("knn_top1" in m and m["loss"] > 0 for m in metrics)
    assert load_config(run_dir / "config.yaml").method.temperature == 0.5  # the saved config loads back
    print(f"smoke run: {elapsed:.1f} s, kNN {result['knn_top1']:.3f}, linear {result['linear_top1']:.3f}")

    # the same command again finds the finished run and trains nothing
    mtime = (run_dir / "result.json").stat().st_mtime_ns
    proc = cli(SMOKE, "--set", f"data.root={cifar_tar}", "--set", f"output.root={tmp_path}")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "already finished" in err
    assert (run_dir / "result.json").stat().st_mtime_ns == mtime


def test_symmetric_views_are_augmented_in_one_call_yet_each_view_draws_its_own(cifar_tar, tmp_path):
    cfg = load_config(SMOKE, [f"data.root={cifar_tar}", *TINY])
    trainer = Trainer(cfg, "views", tmp_path / "a")
    assert [members for _, members in trainer.view_groups] == [[0, 1]]  # view1 == view2: one call
    idx = torch.arange(16)
    v1, v2 = trainer.make_views(idx)
    assert v1.shape == v2.shape == (16, 3, 32, 32)
    assert ((v1 - v2).flatten(1).abs().amax(dim=1) > 0.05).all()  # every image's two views differ
    again = Trainer(cfg, "views", tmp_path / "b").make_views(idx)
    assert torch.equal(again[0], v1) and torch.equal(again[1], v2)  # same seed, same views
    asym = Trainer(load_config(SMOKE, [f"data.root={cifar_tar}", *TINY, "augment.view2=[crop]"]), "asym", tmp_path / "c")
    assert [members for _, members in asym.view_groups] == [[0], [1]]
    w1, w2 = asym.make_views(idx)
    assert w1.shape == w2.shape == (16, 3, 32, 32) and not torch.equal(w1, w2)


def test_compiled_augmentation_gives_the_eager_views(cifar_tar, tmp_path):
    """train.compile fuses the augmentation too; parameters are drawn eagerly, so the views stay the same."""
    sets = [f"data.root={cifar_tar}", *TINY, "augment.view2=[crop, flip, color, blur, solarize]"]
    eager = Trainer(load_config(SMOKE, sets), "eager", tmp_path / "a")
    fused = Trainer(load_config(SMOKE, [*sets, "train.compile=true"]), "fused", tmp_path / "b")
    assert fused.augment_fn is not fused.augment
    for start in (0, 16):  # a second batch reuses the compiled graphs and continues the same stream
        idx = torch.arange(start, start + 16)
        for a, b in zip(eager.make_views(idx), fused.make_views(idx), strict=True):
            assert a.shape == b.shape == (16, 3, 32, 32)
            torch.testing.assert_close(b, a, atol=1e-4, rtol=0)


def _weights(run_dir):
    return torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]


@pytest.fixture(scope="module")
def straight(cifar_tar, tmp_path_factory):
    """The tiny run, uninterrupted: (overrides, run id, its run folder)."""
    sets = [f"data.root={cifar_tar}", *TINY]
    root = tmp_path_factory.mktemp("straight")
    proc = cli(SMOKE, *[a for s in sets for a in ("--set", s)], "--set", f"output.root={root}")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    rid = run_id(load_config(SMOKE, sets))
    return sets, rid, root / "smoke" / rid


def _assert_same_end(run_a, run_b):
    a = json.loads((run_a / "result.json").read_text())
    b = json.loads((run_b / "result.json").read_text())
    assert b["resumed_from_epoch"] is not None and a["resumed_from_epoch"] is None
    assert [m["epoch"] for m in map(json.loads, (run_b / "metrics.jsonl").read_text().splitlines())] == [1, 2, 3, 4]
    wa, wb = _weights(run_a), _weights(run_b)
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name
    assert a["knn_top1"] == b["knn_top1"] and a["final_loss"] == b["final_loss"]


def test_run_killed_mid_training_resumes_and_ends_like_an_uninterrupted_run(straight, tmp_path):
    sets, rid, straight_dir = straight
    args = [SMOKE] + [a for s in sets for a in ("--set", s)] + ["--set", f"output.root={tmp_path}"]
    crashed = cli(*args, env={**os.environ, "BENCH_SSL_HOLD": str(tmp_path / "never")})  # waits after epoch 1
    run_dir = tmp_path / "smoke" / rid
    deadline = time.time() + 600
    while not (run_dir / "log.txt").exists() or "holding after the checkpoint" not in (run_dir / "log.txt").read_text():
        assert crashed.poll() is None and time.time() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.1)
    os.kill(crashed.pid, signal.SIGKILL)  # no clean-up: like a lost node
    crashed.wait()
    assert not (run_dir / "result.json").exists()
    assert (run_dir / "lock").exists()  # left behind by the dead process, taken over below
    done = [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    assert done == [1]

    resumed = cli(*args)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert "resumed" in err and not (run_dir / "lock").exists()
    _assert_same_end(straight_dir, run_dir)


def test_stop_request_mid_epoch_checkpoints_there_and_resumes_exactly(straight, tmp_path, monkeypatch):
    """SIGTERM/preemption: the loop saves at the next step boundary inside the epoch and the resumed run
    replays the rest of that epoch's permutation."""
    from bench_ssl.methods.simclr import SimCLR
    from bench_ssl.train import interrupt

    sets, rid, straight_dir = straight
    sets = [*sets, f"output.root={tmp_path}"]
    steps = []

    def after_step(self, progress):
        steps.append(progress)
        if len(steps) == 7:  # epochs have 5 steps: this is inside epoch 2
            interrupt.request_stop()

    monkeypatch.setattr(SimCLR, "after_optimizer_step", after_step)
    with pytest.raises(interrupt.Interrupted, match="in epoch 2 after batch 2/5"):
        run(SMOKE, sets)
    monkeypatch.undo()
    run_dir = tmp_path / "smoke" / rid
    progress = torch.load(run_dir / "checkpoint.pt", weights_only=True)["progress"]
    assert (progress["epoch"], progress["batch"], progress["step"]) == (1, 2, 7)
    assert not (run_dir / "traceback.txt").exists()  # an interruption is not a failure
    run(SMOKE, sets)
    assert "batch 2 of epoch 2" in (run_dir / "log.txt").read_text()
    _assert_same_end(straight_dir, run_dir)


def test_a_run_held_by_a_live_process_is_not_run_twice(straight, tmp_path):
    from bench_ssl.results import RunLocked, run_status

    sets, rid, _ = straight
    sets = [*sets, f"output.root={tmp_path}"]
    run_dir = tmp_path / "smoke" / rid
    run_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    try:
        (run_dir / "lock").write_text(json.dumps({"host": os.uname().nodename, "pid": holder.pid, "slurm_job": None}))
        assert run_status(run_dir) == "running"
        with pytest.raises(RunLocked, match=f"pid {holder.pid}"):
            run(SMOKE, sets)
    finally:
        holder.kill()
        holder.wait()
    assert run_status(run_dir) == "pending"  # its owner died: resumable


def test_batch_larger_than_dataset_is_rejected_before_training(cifar_tar, tmp_path):
    sets = [f"data.root={cifar_tar}", f"output.root={tmp_path}", "data.train_per_class=5", "optim.batch_size=64"]
    with pytest.raises(ConfigError, match=r"optim.batch_size: 64 is larger than the training set of 50 images"):
        run(SMOKE, sets)
    run_dir = tmp_path / "smoke" / run_id(load_config(SMOKE, sets))
    assert not (run_dir / "checkpoint.pt").exists() and not (run_dir / "result.json").exists()
    assert "batch_size" in (run_dir / "traceback.txt").read_text()


def test_missing_dataset_is_one_clear_line(tmp_path):
    missing = tmp_path / "no-such-cifar"
    with pytest.raises(DatasetError, match=str(missing)):
        run(SMOKE, [f"data.root={missing}", f"output.root={tmp_path}"])
    proc = cli(SMOKE, "--set", f"data.root={missing}", "--set", f"output.root={tmp_path}")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1].startswith("error: ") and str(missing) in err.strip().splitlines()[-1]
