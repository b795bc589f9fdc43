"""Runs trained fused (HFTA): the fused network computes each run's own network; K fused runs step by step give the
losses, weights, optimizer states, queues and key encoders of the same runs trained apart (SimCLR with different
temperatures, augmentations, losses, learning rates and seeds; MoCo with different momenta and queues; SupCon with
capped positives; LARS); through the command, a run that diverges fails alone, the others land in the results
store under their own run ids, and a fused group killed mid-run resumes to the end of an uninterrupted one."""

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import yaml

from bench_ssl.config import load_config, run_id
from bench_ssl.fused.layers import NotFusable, fuse, split, stack_inputs, tie, tie_grads
from bench_ssl.fused.trainer import FusedTrainer, check_fusable
from bench_ssl.models import build_backbone, build_head
from bench_ssl.results import load
from bench_ssl.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
TINY = ["data.train_per_class=20", "data.test_per_class=10", "optim.batch_size=40", "optim.epochs=2",
        "eval.protocols=[knn]", "eval.knn_every=0"]


@pytest.mark.parametrize("backbone", ["convnet", "resnet18"])
def test_the_fused_network_computes_each_runs_own_network_and_its_gradients(backbone):
    nets = []
    for seed in range(3):
        torch.manual_seed(seed)
        body = build_backbone(backbone) if backbone == "convnet" else build_backbone(backbone, cifar_stem=True)
        nets.append(nn.Sequential(body, build_head("mlp", body.out_dim, out_dim=16)).double())
    # in float64, so that "the same" is exact up to rounding (float32 sums in another order differ by more than
    # the BatchNorm of a 6-image batch lets a 1e-4 tolerance hold after 18 layers)
    xs = [torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(10 + i), dtype=torch.float64)
          for i in range(3)]
    fused = fuse(nets)
    tie(fused, nets)
    assert fused[0].features[0].groups == 3 if backbone == "convnet" else fused[0].conv1.groups == 3
    outs = split(fused(stack_inputs(xs)), 3)
    sum((o ** 2).sum() for o in outs).backward()
    tie_grads(fused, nets)
    fused_grads = [[p.grad.clone() for p in net.parameters()] for net in nets]
    for i, net in enumerate(nets):  # each run alone, BatchNorm on its own batch: the same outputs and gradients
        net.zero_grad()
        alone = net(xs[i])
        torch.testing.assert_close(outs[i], alone, rtol=1e-10, atol=1e-12)
        (alone ** 2).sum().backward()
        for got, p in zip(fused_grads[i], net.parameters()):
            torch.testing.assert_close(got, p.grad, rtol=1e-9, atol=1e-11)
    with torch.no_grad():  # the runs' modules hold views of the fused weights: an update to one is the other's
        fused[0].parameters().__next__().add_(1.0)
    assert torch.equal(next(nets[1].parameters()), next(fused.parameters()).view(3, *next(nets[1].parameters()).shape)[1])


def test_modules_that_differ_or_hold_unknown_weights_are_not_fusable():
    with pytest.raises(NotFusable, match="differ"):
        fuse([nn.Linear(3, 4), nn.Conv2d(3, 4, 1)])

    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.s = nn.Parameter(torch.ones(1))

    with pytest.raises(NotFusable, match="Scale holds s"):
        fuse([Scale(), Scale()])
    with pytest.raises(NotFusable, match="cannot train fused"):
        check_fusable([load_config(SMOKE, ["method.name=byol"]), load_config(SMOKE, ["method.name=byol"])])
    with pytest.raises(NotFusable, match="same model"):
        check_fusable([load_config(SMOKE), load_config(SMOKE, ["optim.batch_size=64"])])


# ---------------------------------------------------------------- K fused runs, step by step, against apart
GROUPS = {
    # temperatures, augmentation lists and strengths, losses, learning rates and seeds all differ
    "simclr": [["method.temperature=0.2", "seed=1"],
               ["method.temperature=1.0", "augment.view1=[crop, color]", "augment.color.strength=1.0", "optim.lr=0.005"],
               ["method.loss=nt_logistic", "seed=2"]],
    "moco": [["method.name=moco", "method.momentum=0.9", "method.queue_size=80", "method.bn_splits=2"],
             ["method.name=moco", "method.momentum=0.99", "method.queue_size=120", "method.bn_splits=2", "seed=3",
              "method.temperature=0.2"]],
    "supcon": [["method.name=supcon", "method.temperature=0.1"],
               ["method.name=supcon", "method.max_positives=3", "seed=4"]],
    "lars": [["optim.name=lars", "optim.lr=0.3", "optim.lars_eta=0.002"],
             ["optim.name=lars", "optim.lr=0.6", "optim.lars_eta=0.002", "method.temperature=0.2", "seed=5"]],
}


def _batches(step, k):
    return [torch.randperm(200, generator=torch.Generator().manual_seed(100 * step + i))[:40] for i in range(k)]


@pytest.fixture
def float64(monkeypatch):
    """Models and views in float64. In float32 a fused and a separate step differ by ~1e-4 of a gradient (sums in
    another order, BatchNorm on 40 images), and training amplifies that within a few steps; in float64 the same
    computation agrees to rounding, so a wrong fusion cannot hide in a tolerance."""
    import bench_ssl.train.loop as loop

    monkeypatch.setattr(loop, "to_float", lambda x: x.to(torch.float64).div_(255.0))
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("group", list(GROUPS))
def test_fused_runs_step_by_step_equal_the_same_runs_apart(cifar_tar, tmp_path, group, float64):
    sets = [[f"data.root={cifar_tar}", *TINY, "optim.warmup_epochs=0", *extra] for extra in GROUPS[group]]
    cfgs = [load_config(SMOKE, s) for s in sets]
    k = len(cfgs)
    fused = FusedTrainer(cfgs, [f"f{i}" for i in range(k)], [tmp_path / f"f{i}" for i in range(k)])
    apart, streams = [], []  # each run apart, with its own global random stream (as its own process would have)
    for i, cfg in enumerate(cfgs):
        apart.append(Trainer(cfg, f"a{i}", tmp_path / f"a{i}"))
        streams.append(torch.get_rng_state())
    initial = [{k: v.clone() for k, v in t.method.state_dict().items()} for t in fused.trainers]
    for m in fused.fused.values():
        m.train()
    for t in apart:
        t.method.train()
    for step in range(3):
        batches = _batches(step, k)
        fused_losses = fused.step(batches, step)
        for i, (t, idx) in enumerate(zip(apart, batches)):
            torch.set_rng_state(streams[i])
            loss, _ = t.optimize(t.make_views(idx), t.data.train_y[idx], idx, step)
            streams[i] = torch.get_rng_state()
            assert fused_losses[i].item() == pytest.approx(loss.item(), rel=1e-6), (group, step, i)
    for i, t in enumerate(apart):
        mine, theirs = fused.trainers[i].method.state_dict(), t.method.state_dict()
        assert set(mine) == set(theirs)
        for key in theirs:  # weights, BN statistics, queues and pointers, key encoders
            # to rounding, relative to how far training moved them (the losses exponentiate in float32)
            a, b, w0 = (x.double() for x in (mine[key], theirs[key], initial[i][key]))
            assert (a - b).norm() <= 1e-6 * (b - w0).norm() + 1e-12, f"{group} run {i}: {key}"
        ours, alone = fused.trainers[i].optimizer.state_dict(), t.optimizer.state_dict()
        assert ours["param_groups"] == alone["param_groups"]  # the run's own lr, weight decay, LARS settings
        for p in alone["state"]:
            for name, value in alone["state"][p].items():  # momentum buffers
                assert (ours["state"][p][name] - value).norm() <= 1e-6 * value.norm() + 1e-12, (group, i, p, name)
    if group == "moco":  # separate queues of their own sizes, filled to their own pointers
        queues = [tr.method.queue for tr in fused.trainers]
        assert [q.keys.shape[0] for q in queues] == [80, 120] and [int(q.ptr) for q in queues] == [40, 0]


# ----------------------------------------------------------------------------- through the command
RUN = [*TINY, "optim.epochs=3", "optim.warmup_epochs=0", "eval.protocols=[knn, linear]",
       "eval.knn_every=1", "output.checkpoint_every=1"]


def _configs(tmp_path, variants):
    paths = []
    base = yaml.safe_load(SMOKE.read_text())
    for i, changes in enumerate(variants):
        cfg = copy.deepcopy(base)
        for key, value in changes.items():
            *section, name = key.split(".")
            (cfg[section[0]] if section else cfg)[name] = value
        path = tmp_path / f"run{i}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        paths.append(path)
    return paths


def _cli(module, configs, out, env=None):
    sets = [a for s in [*RUN, f"output.root={out}"] for a in ("--set", s)]
    return subprocess.Popen([sys.executable, "-m", module, *map(str, configs), *sets], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env or os.environ)


def test_a_diverging_run_fails_alone_and_the_others_land_in_the_results_as_if_run_apart(cifar_tar, tmp_path):
    good, bad = _configs(tmp_path, [{"method.temperature": 0.2, "optim.lr": 0.02}, {"optim.lr": 1.0e+9}])
    proc = _cli("bench_ssl.fused", [good, bad], tmp_path / "fused")
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 1, err  # one run failed
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["status"] for line in lines] == ["done", "failed"]
    table = load(tmp_path / "fused" / "smoke").set_index("run_id")
    good_id = run_id(load_config(good, [*RUN, f"output.root={tmp_path / 'fused'}"]))
    bad_id = run_id(load_config(bad, [*RUN, f"output.root={tmp_path / 'fused'}"]))
    assert table.loc[good_id, "status"] == "done" and table.loc[bad_id, "status"] == "failed"
    assert "training diverged" in (tmp_path / "fused" / "smoke" / bad_id / "traceback.txt").read_text()

    alone = _cli("bench_ssl.run", [good], tmp_path / "apart")
    _, err = alone.communicate(timeout=900)
    assert alone.returncode == 0, err
    fused = json.loads((tmp_path / "fused" / "smoke" / good_id / "result.json").read_text())
    apart = json.loads((tmp_path / "apart" / "smoke" / good_id / "result.json").read_text())
    assert fused["fused_with"] == [bad_id] and fused["run_id"] == apart["run_id"] == good_id
    # the same computation in float32, summed in another order: its first epoch agrees closely, and 15 steps of a
    # tiny noisy problem drift apart by a little (the exact agreement is the float64 test above)
    losses = [[json.loads(line)["loss"] for line in (tmp_path / out / "smoke" / good_id / "metrics.jsonl").read_text()
               .splitlines()] for out in ("fused", "apart")]
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-3)
    assert fused["final_loss"] == pytest.approx(apart["final_loss"], rel=2e-2)
    assert abs(fused["linear_top1"] - apart["linear_top1"]) <= 0.05


def _holding(run_dir):
    log = run_dir / "log.txt"
    return log.exists() and "holding after the checkpoint" in log.read_text()


def test_a_fused_group_killed_mid_run_resumes_to_the_end_of_an_uninterrupted_one(cifar_tar, tmp_path):
    configs = _configs(tmp_path, [{"method.temperature": 0.2}, {"method.temperature": 0.7, "seed": 9, "optim.lr": 0.05}])
    clean = _cli("bench_ssl.fused", configs, tmp_path / "clean")
    _, err = clean.communicate(timeout=900)
    assert clean.returncode == 0, err
    release = tmp_path / "release"
    env = {**os.environ, "BENCH_SSL_HOLD": str(release)}
    first = _cli("bench_ssl.fused", configs, tmp_path / "killed", env=env)
    ids = [run_id(load_config(c, [*RUN, f"output.root={tmp_path / 'killed'}"])) for c in configs]
    dirs = [tmp_path / "killed" / "smoke" / i for i in ids]
    deadline = time.time() + 900
    while not _holding(dirs[0]):
        assert first.poll() is None, first.communicate()
        assert time.time() < deadline
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    release.touch()
    second = _cli("bench_ssl.fused", configs, tmp_path / "killed", env=env)
    _, err = second.communicate(timeout=900)
    assert second.returncode == 0, err
    for rid, d in zip(ids, dirs):
        result = json.loads((d / "result.json").read_text())
        expected = json.loads((tmp_path / "clean" / "smoke" / rid / "result.json").read_text())
        assert result["resumed_from_epoch"] == 1
        for key in ("final_loss", "knn_top1", "linear_top1"):
            assert result[key] == pytest.approx(expected[key], abs=1e-6), (rid, key)


# ------------------------------------------------------------------------------- the sweep groups them
@pytest.mark.parametrize("launcher", ["local", "slurm"])
def test_a_sweep_with_fuse_trains_its_runs_in_groups_that_land_under_their_own_run_ids(cifar_tar, tmp_path, launcher,
                                                                                         request):
    sweep = ROOT / "sweeps" / "smoke.yaml"  # 2 temperatures x 2 colour strengths: two fused pairs
    sets = ["--set", f"data.root={cifar_tar}", "--set", "optim.epochs=1", "--set", "eval.protocols=[knn]"]

    def attempt(i):
        out = tmp_path / f"{launcher}{i}"
        args = [sys.executable, "-m", "bench_ssl.sweep", str(sweep), "--launcher", launcher, "--fuse", "2",
                *sets, "--set", f"output.root={out}"]
        if launcher == "slurm":
            args += ["--cpus-per-task", "1", "--time-min", "60"]
        dry = subprocess.run([*args, "--dry-run"], capture_output=True, text=True, timeout=600)
        assert "fused: 4 of the runs to do train in 2 fused group(s) (g1: 2, g2: 2)" in dry.stdout, dry.stdout
        proc = subprocess.run(args, capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stderr
        return out

    out = request.getfixturevalue("slurm_cluster").surviving_restarts(attempt) if launcher == "slurm" else attempt(0)
    table = load(out / "sweep_smoke").set_index("run_id")
    assert len(table) == 4 and (table["status"] == "done").all()
    from bench_ssl.sweep import expand, load_sweep

    overrides = [sets[i + 1] for i in range(0, len(sets), 2)] + [f"output.root={out}"]
    expected = {r.run_id for r in expand(load_sweep(sweep), overrides)}  # the sweep's runs, as if trained apart
    assert set(table.index) == expected  # the run ids of the same runs trained apart
    partners = {rid: json.loads((out / "sweep_smoke" / rid / "result.json").read_text())["fused_with"]
                for rid in table.index}
    assert all(len(p) == 1 and partners[p[0]] == [rid] for rid, p in partners.items())


# ------------------------------------------------------------------------------- the captured step
def _three_steps(cifar_tar, tmp_path, *extra):
    cfg = load_config(SMOKE, [f"data.root={cifar_tar}", *TINY, *extra])
    torch.manual_seed(0)
    trainer = Trainer(cfg, "graph", tmp_path / "_".join(extra or ["eager"]))
    trainer.method.train()
    losses = []
    for step in range(3):
        idx = _batches(step, 1)[0].to(trainer.device)
        losses.append(trainer.optimize(trainer.make_views(idx), trainer.data.train_y[idx], idx, step)[0].item())
    return losses, trainer.method.state_dict()


def test_train_graph_on_a_cpu_steps_eagerly_says_so_once_and_trains_the_same_weights(cifar_tar, tmp_path, caplog):
    with caplog.at_level("INFO", logger="bench_ssl.train"):
        graph_losses, graph_state = _three_steps(cifar_tar, tmp_path, "device=cpu", "train.graph=true")
    lines = [r.getMessage() for r in caplog.records if "train.graph" in r.getMessage()]
    assert lines == ["train.graph: CUDA graphs need a GPU; run graph steps eagerly on cpu"]
    losses, state = _three_steps(cifar_tar, tmp_path, "device=cpu")
    assert graph_losses == losses
    assert all(torch.equal(graph_state[k], state[k]) for k in state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_train_graph_on_cuda_gives_the_views_losses_and_weights_of_eager(cifar_tar, tmp_path):
    graph_losses, graph_state = _three_steps(cifar_tar, tmp_path, "device=cuda", "train.graph=true")
    losses, state = _three_steps(cifar_tar, tmp_path, "device=cuda")
    assert graph_losses == pytest.approx(losses, rel=1e-2)  # bf16 kernels chosen differently when compiled
    for key in state:
        a, b, = graph_state[key].double(), state[key].double()
        assert (a - b).norm() <= 1e-2 * b.norm() + 1e-6, key


def test_a_run_another_live_process_holds_is_left_to_it_and_the_rest_train_fused(cifar_tar, tmp_path):
    import socket

    configs = _configs(tmp_path, [{"method.temperature": t} for t in (0.2, 0.4, 0.6)])
    out = tmp_path / "out"
    held = _run_folder(configs[1], out)
    held.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (held / "lock").write_text(json.dumps({"host": socket.gethostname(), "pid": holder.pid, "slurm_job": None,
                                               "token": "held-elsewhere", "since": time.time()}))
        proc = _cli("bench_ssl.fused", configs, out)
        stdout, err = proc.communicate(timeout=900)
    finally:
        holder.kill()
    assert proc.returncode == 1, err
    statuses = [json.loads(line)["status"] for line in stdout.splitlines()]
    assert statuses == ["done", "running elsewhere", "done"]
    assert not (held / "result.json").exists()
    first = json.loads((_run_folder(configs[0], out) / "result.json").read_text())
    assert first["fused_with"] == [_run_folder(configs[2], out).name]


def _run_folder(config, out):  # the run folder of a config under `out`, with the command's settings
    return out / "smoke" / run_id(load_config(config, [*RUN, f"output.root={out}"]))
