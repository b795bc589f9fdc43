"""Runs over several ranks, on CPU with gloo: the differentiable gather, each method's step on 2 ranks against the
same global batch on 1, every method training on 2 ranks, a 2-rank run killed and resumed to the same end as an
uninterrupted one, and the bad inputs of a distributed launch."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from bench_ssl.augment import to_float
from bench_ssl.config import load_config
from bench_ssl.distributed import all_gather_grad, all_reduce_sum, init_process_group, shutdown
from bench_ssl.distributed.launch import check_visible, free_port
from bench_ssl.errors import BenchSSLError, ConfigError
from bench_ssl.run import run
from bench_ssl.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
TINY = ["data.train_per_class=20", "data.test_per_class=5", "optim.batch_size=16", "eval.protocols=[knn]",
        "eval.knn_every=0"]


def spawn(fn, *args, size=2):
    """fn(rank, size, *args) in `size` processes joined by a gloo process group; fails if any rank fails."""
    mp.spawn(_rank, args=(size, free_port(), fn, args), nprocs=size, join=True)


def _rank(rank, size, port, fn, args):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    init_process_group("cpu", 120)
    try:
        fn(rank, size, *args)
    finally:
        shutdown()


# ------------------------------------------------------------------------------ the differentiable gather
def _rank_input(rank):
    return torch.randn(3, 4, generator=torch.Generator().manual_seed(rank))


def _rank_weight(rank, size):
    return torch.randn(3 * size, 4, generator=torch.Generator().manual_seed(100 + rank))


def _gather_and_differentiate(rank, size, out):
    x = _rank_input(rank).requires_grad_()
    y = all_gather_grad(x)
    ((y * _rank_weight(rank, size)) ** 2).sum().backward()  # each rank its own function of the whole batch
    torch.save({"y": y.detach(), "grad": x.grad}, out / f"gather{rank}.pt")


def test_the_differentiable_all_gather_sums_every_ranks_gradient_like_autograd_on_the_concatenated_batch(tmp_path):
    spawn(_gather_and_differentiate, tmp_path)
    x = torch.cat([_rank_input(r) for r in range(2)]).requires_grad_()
    sum(((x * _rank_weight(r, 2)) ** 2).sum() for r in range(2)).backward()
    for r in range(2):
        got = torch.load(tmp_path / f"gather{r}.pt")
        torch.testing.assert_close(got["y"], x.detach())  # every rank holds the batch, in rank order
        torch.testing.assert_close(got["grad"], x.grad[3 * r:3 * (r + 1)])


# ------------------------------------------------------------- one method's steps: 2 ranks against 1
def _eval_bn(module):
    """BatchNorm on its running statistics: each image normalised alone, so a rank's half of the batch is
    normalised as it is within the whole batch (SyncBN, which makes training BN agree, runs on GPUs only)."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def _steps(rank, size, sets, out, steps=3):
    """`steps` optimiser steps on fixed global batches (two deterministic views: the image and its mirror), each
    rank on its slice; rank 0 saves the batch's mean loss per step, the first step's gradients and the state."""
    cfg = load_config(SMOKE, [*TINY, *sets, f"train.devices={size}"])
    trainer = Trainer(cfg, "equivalence", out / f"ranks{size}")
    _eval_bn(trainer.method)
    data, b = trainer.data, cfg.optim.batch_size
    initial = {k: v.clone() for k, v in trainer.method.state_dict().items()}
    mine = slice(rank * b // size, (rank + 1) * b // size)
    g = torch.Generator().manual_seed(5)
    losses, grads = [], None
    for step in range(steps):
        idx = torch.randperm(data.train_x.shape[0], generator=g)[:b]
        x = to_float(data.train_x[idx])
        views = [data.normalize(x), data.normalize(x.flip(3))]
        loss, _ = trainer.optimize([v[mine] for v in views], data.train_y[idx][mine], idx[mine], step)
        losses.append(all_reduce_sum(loss.clone()).item() / size)
        if step == 0:
            grads = {n: p.grad.clone() for n, p in trainer.method.named_parameters() if p.grad is not None}
    if rank == 0:
        torch.save({"losses": losses, "grads": grads, "initial": initial, "state": trainer.method.state_dict()},
                   out / f"steps{size}.pt")


EQUIVALENT = {
    "simclr_nt_xent": ["method.name=simclr"],
    "simclr_nt_logistic_semi_hard": ["method.name=simclr", "method.loss=nt_logistic", "method.semi_hard=true"],
    "supcon": ["method.name=supcon", "method.temperature=0.1"],
    "supcon_in": ["method.name=supcon", "method.supcon_variant=in"],
    # shuffling BN across the ranks (1 rank: two BN sub-batches emulated); queue of 4 batches, so 3 steps
    # leave rows of the initial keys and the pointer mid-queue
    "moco": ["method.name=moco", "method.queue_size=64", "method.bn_splits=2", "method.momentum=0.9"],
    "end_to_end": ["method.name=end_to_end", "method.temperature=0.2"],
}
# negatives are drawn per rank, so only the memory bank's first step is comparable: the bank after it
BANK = ["method.name=memory_bank", "method.num_negatives=32"]


def _every_case(rank, size, root, out):
    for name, sets in [*EQUIVALENT.items(), ("memory_bank", BANK)]:
        (out / name).mkdir(exist_ok=True)
        _steps(rank, size, [f"data.root={root}", *sets], out / name, 1 if name == "memory_bank" else 3)


@pytest.fixture(scope="module")
def stepped(cifar_tar, tmp_path_factory):
    """Every case's steps on 2 ranks (one launch for all) and on 1."""
    out = tmp_path_factory.mktemp("steps")
    spawn(_every_case, cifar_tar, out)
    _every_case(0, 1, cifar_tar, out)
    return out


@pytest.mark.parametrize("name", list(EQUIVALENT))
def test_two_ranks_give_the_loss_gradients_and_weights_of_one_rank_with_the_same_global_batch(stepped, name):
    two, one = torch.load(stepped / name / "steps2.pt"), torch.load(stepped / name / "steps1.pt")
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-5, abs=1e-6)
    assert set(two["grads"]) == set(one["grads"]) and one["grads"]
    for key in one["grads"]:
        torch.testing.assert_close(two["grads"][key], one["grads"][key], rtol=1e-4, atol=1e-6, msg=key)
    assert set(two["state"]) == set(one["state"])
    for key in one["state"]:
        torch.testing.assert_close(two["state"][key], one["state"][key], rtol=1e-4, atol=1e-5, msg=key)
    if name == "moco":  # the queue holds the 48 keys of all ranks in the global batch's order, then initial rows
        assert one["state"]["queue.ptr"].item() == 48


def test_the_memory_bank_is_refreshed_with_every_ranks_features(stepped):
    two, one = torch.load(stepped / "memory_bank" / "steps2.pt"), torch.load(stepped / "memory_bank" / "steps1.pt")
    torch.testing.assert_close(two["initial"]["bank"], one["initial"]["bank"])
    torch.testing.assert_close(two["state"]["bank"], one["state"]["bank"], rtol=1e-5, atol=1e-6)
    refreshed = ~torch.isclose(one["state"]["bank"], one["initial"]["bank"]).all(1)
    assert refreshed.sum().item() == 16  # the whole global batch, not only rank 0's 8 images


# ------------------------------------------------------------------------ every method on two ranks
EVERY = {
    "simclr": [], "supcon": [], "supervised": [], "byol": [], "simsiam": [], "end_to_end": [],
    "moco": ["method.queue_size=64", "method.bn_splits=2"], "memory_bank": ["method.num_negatives=32"],
    "rotation": ["augment.view1=[crop, flip]"], "jigsaw": ["method.permutations=24", "method.grid=2"],
    "relative_patch": [], "exemplar": ["method.num_exemplars=100"], "colorization": [], "inpainting": [],
    "counting": [],
}


def _every_method_two_steps(rank, size, root, out):
    losses = {}
    for name, extra in EVERY.items():
        cfg = load_config(SMOKE, [f"data.root={root}", *TINY, f"method.name={name}", *extra, f"train.devices={size}"])
        trainer = Trainer(cfg, name, out / name)
        idx = torch.arange(rank * 8, rank * 8 + 8)
        for step in range(2):  # DDP finds a parameter without gradient on the second step
            loss, _ = trainer.optimize(trainer.make_views(idx + 16 * step), trainer.data.train_y[idx + 16 * step],
                                       idx + 16 * step, step)
        losses[name] = all_reduce_sum(loss.clone()).item() / size
    if rank == 0:
        (out / "losses.json").write_text(json.dumps(losses))


def test_every_method_steps_on_two_ranks(cifar_tar, tmp_path):
    from bench_ssl.methods import METHODS

    assert set(EVERY) == set(METHODS)  # a new method joins this list
    spawn(_every_method_two_steps, cifar_tar, tmp_path)
    losses = json.loads((tmp_path / "losses.json").read_text())
    assert set(losses) == set(EVERY) and all(math.isfinite(v) for v in losses.values()), losses


# ------------------------------------------------------------------ a whole run: killed and resumed
RUN = ["data.train_per_class=20", "data.test_per_class=10", "optim.batch_size=40", "optim.epochs=3",
       "eval.protocols=[knn, linear]", "eval.knn_every=1", "output.checkpoint_every=1", "train.devices=2"]


def _run_cli(out, *extra, env=None):
    args = [sys.executable, "-m", "bench_ssl.run", str(SMOKE), *(a for s in [*RUN, f"output.root={out}", *extra]
                                                                 for a in ("--set", s))]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or os.environ)


def _children(pid):
    try:
        return [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]
    except OSError:
        return []


def _wait_for(check, proc, timeout, what):
    deadline = time.time() + timeout
    while not check():
        assert proc.poll() is None, f"exited {proc.returncode} before {what}: {proc.communicate()}"
        assert time.time() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)


def _holding(run_dir, times):
    log = run_dir / "log.txt"
    return log.exists() and log.read_text().count("holding after the checkpoint") >= times


def test_a_two_rank_run_killed_twice_resumes_to_the_end_of_an_uninterrupted_one(cifar_tar, tmp_path):
    clean = _run_cli(tmp_path / "clean")
    out, err = clean.communicate(timeout=900)
    assert clean.returncode == 0, err
    (clean_dir,) = (tmp_path / "clean" / "smoke").iterdir()
    expected = json.loads((clean_dir / "result.json").read_text())
    assert sorted(p.name for p in clean_dir.glob("rank*.log")) == ["rank1.log"]

    root, release = tmp_path / "killed", tmp_path / "release"
    env = {**os.environ, "BENCH_SSL_HOLD": str(release)}
    first = _run_cli(root, env=env)
    run_dir = root / "smoke" / clean_dir.name
    _wait_for(lambda: _holding(run_dir, 1), first, 900, "a hold after the first checkpoint")
    ranks = _children(first.pid)
    assert len(ranks) == 2
    os.kill(ranks[1], signal.SIGKILL)  # rank 1 lost: the owner stops rank 0 and says which rank failed
    _, err = first.communicate(timeout=300)
    assert first.returncode == 2 and "rank 1 of 2" in err and "SIGKILL" in err and "resume" in err, err
    assert not any(Path(f"/proc/{pid}").exists() for pid in ranks)

    second = _run_cli(root, env=env)  # resumes from epoch 1, holds after epoch 2's checkpoint
    _wait_for(lambda: _holding(run_dir, 2), second, 900, "a hold after the second checkpoint")
    ranks = _children(second.pid)
    os.kill(second.pid, signal.SIGKILL)  # the owner lost: its ranks die with it, no orphan keeps training
    second.wait(timeout=60)
    deadline = time.time() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in ranks):
        assert time.time() < deadline, "a rank outlived its owner"
        time.sleep(0.1)

    release.touch()
    third = _run_cli(root, env=env)
    _, err = third.communicate(timeout=900)
    assert third.returncode == 0, err
    result = json.loads((run_dir / "result.json").read_text())
    assert result["resumed_from_epoch"] == 2
    for key in ("final_loss", "knn_top1", "linear_top1"):
        assert result[key] == pytest.approx(expected[key], abs=1e-6), key
    epochs = [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


# ------------------------------------------------------------------------------------------ bad inputs
def test_a_global_batch_that_does_not_split_over_the_ranks_is_refused_with_the_multiples():
    with pytest.raises(ConfigError, match=r"optim.batch_size: 100 does not split evenly over 3 ranks.*99 or 102"):
        load_config(SMOKE, ["optim.batch_size=100", "train.devices=3"])
    with pytest.raises(ConfigError, match=r"method.bn_splits: 2 BN sub-batches do not spread evenly over 4 ranks"):
        load_config(SMOKE, ["method.name=moco", "method.queue_size=1024", "optim.batch_size=128", "method.bn_splits=2",
                            "train.devices=4"])
    with pytest.raises(ConfigError, match="model.sync_bn: true would undo moco's shuffling BN"):
        load_config(SMOKE, ["method.name=moco", "method.queue_size=1024", "model.sync_bn=true"])


def test_more_gpus_than_visible_and_several_nodes_from_one_machine_are_one_line_each(cifar_tar, tmp_path):
    with pytest.raises(BenchSSLError, match=r"train.devices: 4 GPUs asked for but 2 visible .*use train.devices=2"):
        check_visible(4, 2)
    check_visible(2, 2)
    with pytest.raises(BenchSSLError, match="train.nodes: 2 nodes cannot be started from this one machine"):
        run(SMOKE, [f"data.root={cifar_tar}", f"output.root={tmp_path}", "train.nodes=2"])
    assert not (tmp_path / "smoke").exists()


def test_a_rank_that_cannot_reach_the_others_fails_in_one_line_instead_of_hanging(cifar_tar, tmp_path):
    port = free_port()  # nobody listens there: rank 1 waits for a rank 0 that never comes
    env = {**os.environ, "RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port)}
    args = [sys.executable, "-m", "bench_ssl.run", str(SMOKE), "--set", f"output.root={tmp_path}",
            "--set", "train.devices=2", "--set", "train.dist_timeout_s=3"]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr
    assert f"rank 1 of 2 could not reach the other ranks at 127.0.0.1:{port} within 3 s" in errors[0]
    assert "train.dist_timeout_s" in errors[0]


# ------------------------------------------------------------------------------ a job of two Slurm tasks
def test_a_two_task_slurm_job_trains_the_run_of_a_local_launch_and_resumes_after_preemption(slurm_cluster, cifar_tar,
                                                                                               tmp_path):
    import submitit

    from bench_ssl.config import dump_yaml, run_id
    from bench_ssl.launch.job import RunJob

    local = _run_cli(tmp_path / "local", f"data.root={cifar_tar}")
    _, err = local.communicate(timeout=900)
    assert local.returncode == 0, err
    (local_dir,) = (tmp_path / "local" / "smoke").iterdir()
    expected = json.loads((local_dir / "result.json").read_text())

    def attempt(i):
        root = tmp_path / f"try{i}"
        release = root / "release"
        cfg = load_config(SMOKE, [*RUN, f"data.root={cifar_tar}", f"output.root={root}"])
        run_dir = root / "smoke" / run_id(cfg)
        run_dir.mkdir(parents=True)
        (run_dir / "config.yaml").write_text(dump_yaml(cfg))
        executor = submitit.AutoExecutor(folder=str(root / "submitit" / "%j"), cluster="slurm")
        # one thread per rank, as the local launch gives each of its two ranks on this 2-core machine
        executor.update_parameters(timeout_min=60, cpus_per_task=1, tasks_per_node=2, name="bench_ssl-test-ranks",
                                   slurm_setup=[f"export BENCH_SSL_HOLD={release}", "export OMP_NUM_THREADS=1"])
        job = executor.submit(RunJob(), str(run_dir / "config.yaml"))
        deadline = time.time() + 1200  # generous: other users' jobs may hold the cluster's CPUs
        while not _holding(run_dir, 1):  # rank 0 holds after epoch 1's checkpoint, rank 1 waits for it
            assert not job.done(), job.stderr()
            assert time.time() < deadline, "the run did not reach its first checkpoint"
            time.sleep(0.1)
        job._interrupt()  # preemption: SIGTERM then USR2 to both tasks
        while "stopped by signal" not in (run_dir / "log.txt").read_text():
            assert time.time() < deadline, "the run did not stop on the preemption signal"
            time.sleep(0.1)
        release.touch()  # the requeued job (both tasks) resumes from epoch 1 and runs to the end
        while not job.done():
            assert time.time() < deadline + 600, "the requeued job did not finish"
            time.sleep(0.5)
        results = job.results()  # one per task: rank 0 reports the run
        assert results[0]["status"] == "done" and results[0]["run_id"] == run_dir.name, results
        # rank 1 leaves once rank 0 has written the result, so its report (first 'stopped', by the preempted
        # attempt) follows rank 0's
        while job.results()[1] != {"status": "done", "rank": 1}:
            assert time.time() < deadline + 900, f"rank 1 did not end: {job.results()}"
            time.sleep(0.5)
        return run_dir

    run_dir = slurm_cluster.surviving_restarts(attempt)
    assert run_dir.name == local_dir.name
    log = (run_dir / "log.txt").read_text()
    assert "stopped by signal" in log and "resumed" in log
    result = json.loads((run_dir / "result.json").read_text())
    assert result["resumed_from_epoch"] == 1
    for key in ("final_loss", "knn_top1", "linear_top1"):
        assert result[key] == pytest.approx(expected[key], abs=1e-4), key


# ------------------------------------------------------------------------- the sweep launchers place them
def test_the_local_launcher_gives_a_run_of_d_ranks_d_idle_gpus_and_packs_runs_of_one():
    from bench_ssl.launch.base import Job
    from bench_ssl.launch.local import LocalLauncher

    def job(devices):
        return Job("r", Path("/r"), Path("/r/config.yaml"), devices)

    gpu = LocalLauncher(None, 2)
    gpu.gpus, gpu.slots = 4, 8  # the placement rule, on the GPU machine this CPU machine is not
    gpu.load = [1, 0, 0, 0]
    assert gpu._place(job(2)) == [1, 2]  # two idle GPUs, not the one a packed run uses
    assert gpu._place(job(1)) == [1]  # the least loaded GPU with room
    gpu.load = [1, 2, 2, 0]
    assert gpu._place(job(2)) is None  # one idle GPU: the 2-rank run waits
    assert gpu._place(job(1)) == [3]
    gpu.load = [2, 2, 2, 2]
    assert gpu._place(job(1)) is None
    gpu.load = [0, 0, 0, 0]
    assert gpu._place(job(8)) == [0, 1, 2, 3]  # more than there are: all of them, and the run says so itself
    cpu = LocalLauncher(2, 1)
    cpu.gpus = 0
    assert cpu._place(job(2)) == []
    cpu.running = [(job(2), None, [])]
    assert cpu._place(job(1)) is None  # a 2-rank run fills both worker slots
    cpu.running = [(job(1), None, [])]
    assert cpu._place(job(1)) == [] and cpu._place(job(2)) is None


def _two_shapes(tmp_path, root):
    sweep = tmp_path / "shapes.yaml"
    sweep.write_text(f"""name: shapes
base: {SMOKE}
set: {{data.root: {root}, data.train_per_class: 20, data.test_per_class: 10, optim.batch_size: 40, optim.epochs: 1,
      eval.protocols: [knn], eval.knn_every: 0}}
runs:
  - {{train.devices: 1}}
  - {{train.devices: 2}}
""")
    return sweep


@pytest.mark.parametrize("launcher", ["local", "slurm"])
def test_a_sweep_runs_a_one_rank_and_a_two_rank_run_side_by_side(cifar_tar, tmp_path, launcher, request):
    sweep = _two_shapes(tmp_path, cifar_tar)

    def attempt(i):
        out = tmp_path / f"{launcher}{i}"
        args = [sys.executable, "-m", "bench_ssl.sweep", str(sweep), "--launcher", launcher, "--max-parallel", "2",
                "--set", f"output.root={out}"]
        if launcher == "slurm":
            args += ["--cpus-per-task", "1", "--time-min", "60"]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stderr
        return out, proc.stderr

    if launcher == "slurm":
        out, _ = request.getfixturevalue("slurm_cluster").surviving_restarts(attempt)
    else:
        out, _ = attempt(0)
    runs = {json.loads(p.read_text())["config"]["train"].get("devices", 1): p.parent
            for p in (out / "shapes").glob("*/result.json")}
    assert sorted(runs) == [1, 2]
    for run_dir in runs.values():
        assert 0 <= json.loads((run_dir / "result.json").read_text())["knn_top1"] <= 1
    # locally the run's owner starts its ranks (rank 1 writes rank1.log); on Slurm they are the job's two tasks
    assert (runs[2] / "rank1.log").exists() == (launcher == "local")
