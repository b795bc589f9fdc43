"""Real sweeps on CPU: a worker killed half-way, a failing run among good ones, the same sweep on a real
Slurm cluster, and a Slurm job preempted mid-run that requeues and resumes from its checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench_ssl.config import dump_yaml, load_config, run_id
from bench_ssl.results import load
from bench_ssl.sweep import expand, load_sweep

ROOT = Path(__file__).resolve().parents[1]
SMOKE_SWEEP = ROOT / "sweeps" / "smoke.yaml"


def sweep_cli(*args, env=None):
    # SIGINT as a terminal delivers it: a test session started in the background (`cmd &` in a script) passes
    # SIGINT on ignored, and a driver that ignores Ctrl-C cannot be tested for what it does on Ctrl-C
    return subprocess.Popen([sys.executable, "-m", "bench_ssl.sweep", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(predicate, proc, timeout, what):
    deadline = time.time() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert proc.poll() is None, f"the process ended before {what}: {proc.stderr.read()}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _held(sweep_dir: Path) -> list[Path]:
    """Runs that wait after a checkpoint (BENCH_SSL_HOLD): in a known mid-run state for as long as the test needs."""
    logs = sweep_dir.glob("*/log.txt") if sweep_dir.exists() else []
    return [log.parent for log in logs if "holding after the checkpoint" in log.read_text()]


@pytest.fixture(scope="module")
def local_sweep(cifar_tar, tmp_path_factory):
    """sweeps/smoke.yaml run locally with one worker SIGKILLed half-way, then re-run to the end."""
    root = tmp_path_factory.mktemp("local")
    sets = ["--set", f"data.root={cifar_tar}", "--set", f"output.root={root}"]
    sweep_dir = root / "sweep_smoke"
    release = root / "release"
    driver = sweep_cli(SMOKE_SWEEP, *sets, env={**os.environ, "BENCH_SSL_HOLD": str(release)})
    (victim,) = _wait_for(lambda: _held(sweep_dir), driver, 600, "a run holding after its first checkpoint")
    os.kill(json.loads((victim / "lock").read_text())["pid"], signal.SIGKILL)
    release.touch()
    _, err1 = driver.communicate(timeout=600)
    mtimes = {d.parent.name: d.stat().st_mtime_ns for d in sweep_dir.glob("*/result.json")}
    assert len(mtimes) == 3  # the driver went on with the other runs after losing one worker
    rerun = sweep_cli(SMOKE_SWEEP, *sets)
    _, err2 = rerun.communicate(timeout=600)
    return {"dir": sweep_dir, "victim": victim.name, "mtimes": mtimes, "first": (driver.returncode, err1),
            "rerun": (rerun.returncode, err2), "sets": sets}


def test_killed_worker_sweep_finishes_on_rerun_without_rerunning_finished_runs(local_sweep):
    code, err = local_sweep["first"]
    assert code == 1 and f"not finished  {local_sweep['victim']}" in err, err
    code, err = local_sweep["rerun"]
    assert code == 0, err
    assert f"{len(local_sweep['mtimes'])} already done" in err
    sweep_dir = local_sweep["dir"]
    for name, mtime in local_sweep["mtimes"].items():  # finished runs were not run again
        assert (sweep_dir / name / "result.json").stat().st_mtime_ns == mtime
    victim = json.loads((sweep_dir / local_sweep["victim"] / "result.json").read_text())
    assert victim["resumed_from_epoch"] == 1  # killed while holding after epoch 1
    frame = load(sweep_dir)
    expected = {r.run_id for r in expand(load_sweep(SMOKE_SWEEP), [s for s in local_sweep["sets"] if s != "--set"])}
    assert set(frame["run_id"]) == expected and (frame["status"] == "done").all()
    assert frame["knn_top1"].between(0.1, 1.0).all() and "method.temperature" in frame.columns


def test_a_failing_run_does_not_stop_the_others_and_is_retried_only_on_request(cifar_tar, tmp_path):
    """Half the runs diverge (a failure of the run itself, which no pre-flight check can see)."""
    spec = tmp_path / "mixed.yaml"
    spec.write_text(f"""name: mixed
base: {ROOT / 'configs' / 'smoke.yaml'}
set: {{data.train_per_class: 20, data.test_per_class: 10, optim.batch_size: 50, optim.epochs: 1, eval.protocols: [knn]}}
runs: [{{optim.lr: 0.1}}, {{optim.lr: 1.0e+30}}]
grid: {{method.temperature: [0.2, 0.5]}}
""")
    args = [spec, "--set", f"output.root={tmp_path / 'out'}", "--max-parallel", "2"]
    proc = sweep_cli(*args)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1
    frame = load(tmp_path / "out" / "mixed")
    assert sorted(frame["status"]) == ["done", "done", "failed", "failed"]
    failed = frame[frame["status"] == "failed"]
    assert failed["error"].str.contains("training diverged").all()
    threads = max(1, (os.cpu_count() or 1) // 2)  # two runs at once on a CPU share its cores, none oversubscribes
    for d in frame[frame["status"] == "done"]["run_dir"]:
        device = json.loads((Path(d) / "result.json").read_text())["device"]
        assert device.endswith(f", {threads} thread{'' if threads == 1 else 's'})"), device
    for d in failed["run_dir"]:
        assert "Traceback" in (Path(d) / "traceback.txt").read_text()
        assert f"failed  {Path(d).name}: bench_ssl.errors.BenchSSLError: training diverged" in err
    assert "--retry-failed" in err
    stamps = {d: (Path(d) / "traceback.txt").stat().st_mtime_ns for d in failed["run_dir"]}

    again = sweep_cli(*args)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 1 and "2 already done, 0 to run" in err and "2 failed before" in err
    assert all((Path(d) / "traceback.txt").stat().st_mtime_ns == t for d, t in stamps.items())

    retry = sweep_cli(*args, "--retry-failed")
    _, err = retry.communicate(timeout=300)
    assert retry.returncode == 1 and "2 to run" in err
    assert all((Path(d) / "traceback.txt").stat().st_mtime_ns != t for d, t in stamps.items())


# --------------------------------------------------------------------------------------- Slurm


def test_the_same_sweep_on_slurm_gives_the_same_run_ids_and_results(local_sweep, slurm_cluster, cifar_tar, tmp_path):
    def attempt(i):
        out = tmp_path / f"try{i}"
        args = [SMOKE_SWEEP, "--launcher", "slurm", "--set", f"data.root={cifar_tar}", "--set", f"output.root={out}",
                "--cpus-per-task", "1", "--time-min", "60", "--max-parallel", "4"]
        proc = sweep_cli(*args)
        _, err = proc.communicate(timeout=1800)  # generous: other users' jobs may hold the cluster's CPUs
        assert proc.returncode == 0, err
        return out, err

    out, err = slurm_cluster.surviving_restarts(attempt)
    assert "launcher: slurm" in err
    local = load(local_sweep["dir"]).set_index("run_id").sort_index()
    slurm = load(out / "sweep_smoke").set_index("run_id").sort_index()
    assert list(slurm.index) == list(local.index)
    for col in ("knn_top1", "linear_top1", "linear_top5", "final_loss"):
        assert slurm[col].tolist() == pytest.approx(local[col].tolist(), abs=1e-6), col
    assert slurm["hostname"].notna().all()


def test_a_slurm_job_preempted_mid_run_requeues_and_resumes_from_its_checkpoint(slurm_cluster, cifar_tar, tmp_path):
    import submitit

    from bench_ssl.launch.job import RunJob

    def attempt(i):
        root = tmp_path / f"try{i}"
        release = root / "release"
        cfg = load_config(ROOT / "configs" / "smoke.yaml", [
            f"data.root={cifar_tar}", f"output.root={root}", "data.train_per_class=50", "data.test_per_class=20",
            "optim.batch_size=50", "optim.epochs=6", "eval.protocols=[knn]", "eval.knn_every=0", "output.checkpoint_every=1"])
        run_dir = root / "smoke" / run_id(cfg)
        run_dir.mkdir(parents=True)
        (run_dir / "config.yaml").write_text(dump_yaml(cfg))
        executor = submitit.AutoExecutor(folder=str(root / "submitit" / "%j"), cluster="slurm")
        executor.update_parameters(timeout_min=60, cpus_per_task=1, name="bench_ssl-test-preempt",
                                   slurm_setup=[f"export BENCH_SSL_HOLD={release}"])
        job = executor.submit(RunJob(), str(run_dir / "config.yaml"))
        deadline = time.time() + 1200  # generous: other users' jobs may hold the cluster's CPUs
        while not _held(run_dir.parent):  # the run holds after its first checkpoint: preempted mid-run for sure
            assert not job.done(), job.stderr()
            assert time.time() < deadline, "the run did not reach its first checkpoint"
            time.sleep(0.1)
        job._interrupt()  # what Slurm does on preemption: SIGTERM, then submitit's USR2
        while "stopped by signal" not in (run_dir / "log.txt").read_text():
            assert time.time() < deadline, "the run did not stop on the preemption signal"
            time.sleep(0.1)
        release.touch()  # the requeued job resumes from epoch 1 and runs to the end
        while not job.done():
            assert time.time() < deadline + 600, "the requeued job did not finish"
            time.sleep(0.5)
        assert job.result()["status"] == "done"
        return run_dir

    run_dir = slurm_cluster.surviving_restarts(attempt)
    log = (run_dir / "log.txt").read_text()
    assert "stopped by signal" in log and "resumed" in log
    result = json.loads((run_dir / "result.json").read_text())
    assert result["resumed_from_epoch"] == 1


def test_ctrl_c_on_the_driver_cancels_its_runs_which_checkpoint_and_resume(cifar_tar, tmp_path):
    sets = ["--set", f"data.root={cifar_tar}", "--set", f"output.root={tmp_path}", "--set", "eval.protocols=[knn]"]
    sweep_dir = tmp_path / "sweep_smoke"
    # stdin is not a terminal: it cancels without asking. Its runs hold after their first checkpoint (never released),
    # so the Ctrl-C surely comes mid-run, however loaded the machine
    driver = sweep_cli(SMOKE_SWEEP, *sets, env={**os.environ, "BENCH_SSL_HOLD": str(tmp_path / "never")})
    (victim,) = _wait_for(lambda: _held(sweep_dir), driver, 600, "a run holding after its first checkpoint")
    worker = json.loads((victim / "lock").read_text())["pid"]
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 1 and "cancelling 4 run(s) (1 running, 3 queued)" in err, err
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)  # the worker is gone, not orphaned
    assert not (victim / "lock").exists() and "stopped by signal" in (victim / "log.txt").read_text()
    assert load(sweep_dir).set_index("run_id").loc[victim.name, "status"] == "pending"

    rerun = sweep_cli(SMOKE_SWEEP, *sets)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert json.loads((victim / "result.json").read_text())["resumed_from_epoch"] == 1
