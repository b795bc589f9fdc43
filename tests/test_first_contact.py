"""First contact: the installed package, the main command as written, pre-flight, the live view, loggers, export."""

import json
import os
import pty
import select
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import torch

from bench_ssl.config import load_config, run_id
from bench_ssl.run import run
from bench_ssl.sweep.progress import Eta, RunProgress

ROOT = Path(__file__).resolve().parents[1]
TINY = {"data.train_per_class": 20, "data.test_per_class": 10, "optim.batch_size": 50, "optim.epochs": 2,
        "eval.protocols": ["knn"], "eval.knn_every": 1, "output.checkpoint_every": 1}


def sets(**extra) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in {**TINY, **extra}.items()]


def bench_ssl(*args, cwd=ROOT, env=None, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench_ssl", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def run_folders(root: Path) -> list[Path]:
    return [p.parent for p in root.rglob("config.yaml")] if root.exists() else []


def one_error_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines()  # not log lines, not the pre-flight's estimate
             if line.strip() and not line[:2].isdigit() and not line.startswith("estimate: ")]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


# --------------------------------------------------------------------------------------------- packaging
def test_the_built_wheel_runs_a_builtin_sweep_by_name_from_outside_the_repository(tmp_path):
    import shutil

    # built from a copy of the source: setuptools writes its build/ folder beside the sources it builds
    source = tmp_path / "source"
    top = {".git", ".venv", "results", "reports", "build", "dist", ".pytest_cache"}  # generated, at the top only

    def ignore(folder, names):
        generated = top if Path(folder) == ROOT else set()
        return [n for n in names if n in generated or n == "__pycache__" or n.endswith(".egg-info")]

    shutil.copytree(ROOT, source, symlinks=True, ignore=ignore)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels)], check=True, timeout=600, capture_output=True)
    (wheel,) = wheels.glob("bench_ssl-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
    py = venv / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, timeout=600)
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True,
                          capture_output=True, check=True).stdout.strip()
    # the dependencies (torch, ...) come from this interpreter's site-packages, listed after the venv's own: the
    # wheel's bench_ssl is the one imported, never the checkout (the command runs outside it)
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "PYTHONPATH": ""}
    proc = subprocess.run([venv / "bin" / "bench-ssl", "sweep", "smoke", "--dry-run"], cwd=outside, capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "4 runs: done 0" in proc.stdout
    where = subprocess.run([py, "-c", "import bench_ssl.named_files as n; print(n.resolve('aug_grid', 'sweep'))"],
                           cwd=outside, capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert where.startswith(site) and Path(where).is_file()  # the packaged copy
    version = subprocess.run([venv / "bin" / "bench-ssl", "--version"], capture_output=True, text=True, cwd=outside)
    assert version.stdout.startswith("bench_ssl 0.")
    meta = subprocess.run([py, "-c", "import importlib.metadata as m; d = m.metadata('bench_ssl'); "
                           "print(d['License-Expression'], sorted(m.entry_points(group='console_scripts').names))"],
                          capture_output=True, text=True, cwd=outside, env=env).stdout
    assert "MIT" in meta and "bench-ssl" in meta


@pytest.mark.parametrize("command", ["", "run", "sweep", "fused", "tune", "report", "results", "bench", "export"])
def test_help_imports_no_heavy_library_and_answers_fast(command):
    code = ("import sys, time; t = time.perf_counter()\n"
            "from bench_ssl.cli import main\n"
            f"try: main({[command, '--help'] if command else ['--help']!r})\n"
            "except SystemExit: pass\n"
            "heavy = sorted(m for m in ('torch', 'pandas', 'optuna', 'matplotlib', 'torchvision') if m in sys.modules)\n"
            "print(heavy, time.perf_counter() - t, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    heavy, seconds = proc.stderr.strip().splitlines()[-1].rsplit(" ", 1)
    assert heavy == "[]", f"--help of {command or 'bench-ssl'} imported {heavy}"
    assert "usage:" in proc.stdout
    assert float(seconds) < 5.0  # about 0.1 s here; generous for a loaded CI machine (the issue asks < 1 s)


# ------------------------------------------------------------------------------------------ the main command
def test_the_main_command_as_written_expands_aug_grid_asks_first_on_a_cpu_and_launches_with_yes(cifar_tar, tmp_path):
    """`python -m bench_ssl.sweep sweeps/aug_grid.yaml`, BENCH_SSL_DATA set (conftest), run from a copy of the
    repository's layout so its results/ go to a temporary folder."""
    (tmp_path / "sweeps").symlink_to(ROOT / "sweeps")
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    main = [sys.executable, "-m", "bench_ssl.sweep", "sweeps/aug_grid.yaml"]
    if torch.cuda.is_available():
        pytest.skip("on a GPU the main command starts the whole 4-GPU-hour sweep")
    proc = subprocess.run(main, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    line = one_error_line(proc)
    assert "sized for a GPU" in line and "--profile quick" in line and "--yes" in line, line
    assert "estimate: about" in proc.stderr and "49 run(s)" in proc.stderr
    assert run_folders(tmp_path / "results") == []  # nothing launched, nothing left behind

    driver = subprocess.Popen([*main, "--yes"], cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                              stdout=subprocess.DEVNULL)
    seen = []
    try:
        for line in driver.stderr:
            seen.append(line)
            if line.startswith("[aug_grid] 0/49 done"):  # the live view's first line: the runs are launched
                break
        assert any(x.startswith("sweep aug_grid: 49 runs, 0 already done, 49 to run") for x in seen), "".join(seen)
        assert seen[-1].startswith("[aug_grid] 0/49 done"), "".join(seen)
        driver.send_signal(signal.SIGTERM)  # like a scheduler stopping the driver: it cancels its runs
        driver.communicate(timeout=900)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 1
    assert len(run_folders(tmp_path / "results" / "aug_grid")) == 49


def test_without_the_variable_and_without_network_one_line_says_where_to_put_the_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BENCH_SSL_DATA"}
    env.update(BENCH_SSL_CACHE=str(tmp_path / "cache"), https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")  # a closed port: no network
    proc = subprocess.run([sys.executable, "-m", "bench_ssl", "run", "smoke", "--set", f"output.root={tmp_path / 'r'}"],
                          capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    line = one_error_line(proc)
    folder = tmp_path / "cache" / "datasets" / "cifar10"
    assert f"cifar10 is not in {folder} and downloading it failed" in line, line
    assert "BENCH_SSL_DATA" in line and "--set data.root=PATH" in line
    assert run_folders(tmp_path / "r") == []


def test_preflight_stops_a_bad_root_or_a_missing_gpu_before_any_run_folder(cifar_tar, tmp_path):
    proc = bench_ssl("sweep", "smoke", "--set", f"output.root={tmp_path}", "--set", f"data.root={tmp_path / 'nope'}")
    assert f"dataset path {tmp_path / 'nope'} does not exist" in one_error_line(proc)
    assert run_folders(tmp_path) == []
    proc = bench_ssl("sweep", "smoke", "--set", f"output.root={tmp_path}", "--set", "optim.batch_size=1000")
    assert "optim.batch_size 1000 is larger than its training set of 500 images" in one_error_line(proc)
    assert run_folders(tmp_path) == []
    proc = bench_ssl("tune", "tune_smoke", "--profile", "quick", "--set", f"output.root={tmp_path}",
                     "--set", f"data.root={tmp_path / 'nope'}")
    assert f"dataset path {tmp_path / 'nope'} does not exist" in one_error_line(proc)
    assert list(tmp_path.iterdir()) == []  # no study folder, no storage, no trial
    if not torch.cuda.is_available():
        proc = bench_ssl("run", "smoke", "--set", f"output.root={tmp_path}", "--set", "device=cuda")
        assert "no CUDA GPU is visible" in one_error_line(proc)
        proc = bench_ssl("sweep", "smoke", "--set", f"output.root={tmp_path}", "--set", "device=cuda")
        assert "no CUDA GPU is visible" in one_error_line(proc)
        assert run_folders(tmp_path) == []


def test_a_results_folder_without_room_for_the_checkpoints_is_refused_before_launching(cifar_tar, tmp_path):
    from bench_ssl.launch.preflight import check_output

    check_output(tmp_path / "ok", 1)
    with pytest.raises(Exception, match=r"checkpoints into .* but only .* is free there; free disk space"):
        check_output(tmp_path / "full", 2**62)


# --------------------------------------------------------------------------------------------- errors
def test_mis_aimed_files_and_typos_name_the_right_command_or_the_nearest_name(cifar_tar, tmp_path):
    line = one_error_line(bench_ssl("run", "sweeps/temperature.yaml"))
    assert "is a sweep file" in line and "bench-ssl sweep sweeps/temperature.yaml" in line
    line = one_error_line(bench_ssl("sweep", "configs/smoke.yaml"))
    assert "is a run config" in line and "bench-ssl run configs/smoke.yaml" in line
    line = one_error_line(bench_ssl("sweep", "sweeps/tune_smoke.yaml"))
    assert "is an Optuna study file" in line and "bench-ssl tune sweeps/tune_smoke.yaml" in line
    line = one_error_line(bench_ssl("sweep", "aug_grd", "--dry-run"))
    assert "did you mean 'aug_grid'?" in line
    line = one_error_line(bench_ssl("run", "smoke", "--set", "augment.view1=crop,color", "--print-config"))
    assert "--set augment.view1='[crop, color]'" in line
    assert one_error_line(bench_ssl("nope")).startswith("error: unknown command 'nope'")


# ------------------------------------------------------------------------------------------- live view
def test_the_live_view_in_a_terminal_shows_each_running_runs_epochs(cifar_tar, tmp_path):
    """The runs hold after their epoch-1 checkpoint (BENCH_SSL_HOLD) until the table has shown it."""
    args = [sys.executable, "-m", "bench_ssl", "sweep", "smoke", "--set", f"output.root={tmp_path / 'r'}",
            *[a for s in sets() for a in ("--set", s)]]
    release = tmp_path / "release"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the driver, with the pty as its terminal
        os.environ.update(TERM="xterm", COLUMNS="160", BENCH_SSL_HOLD=str(release))
        os.chdir(ROOT)
        os.execv(sys.executable, args)
    chunks, deadline = [], time.time() + 1800
    while time.time() < deadline:
        if not release.exists() and "1/2" in "".join(chunks):
            release.touch()
        ready, _, _ = select.select([fd], [], [], 5)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data.decode(errors="replace"))
    _, status = os.waitpid(pid, 0)
    text = "".join(chunks)
    assert os.waitstatus_to_exitcode(status) == 0, text[-3000:]
    assert "\x1b[" in text  # drawn in place, not plain lines
    for column in ("run", "epoch", "loss", "kNN", "img/s", "ETA"):  # the header of the runs' table
        assert column in text
    assert release.exists()  # the table showed a run at epoch 1/2 (the runs waited for that)
    assert "temperature=0.2" in text  # rows are labelled by the run's varying values
    assert "[sweep_smoke] 4/4 done" in text


def test_the_eta_counts_down_between_completions_and_learns_from_finished_runs():
    eta = Eta({"a": 100.0, "b": 100.0, "c": 100.0}, parallel=1)
    assert eta.remaining_s(["a", "b", "c"], {}, now=0.0) == 300.0  # before anything ran: the estimates
    eta.started_run("a", 0.0)
    running = {"a": RunProgress()}
    assert eta.remaining_s(["b", "c"], running, now=30.0) == pytest.approx(270.0)  # counts down with time
    eta.finished_run("a", 50.0)  # runs take half their estimate: the rest is scaled
    assert eta.remaining_s(["b", "c"], {}, now=50.0) == pytest.approx(100.0)
    eta.started_run("b", 50.0)
    prog = RunProgress(epoch=1, epochs=4, epoch_s=10.0, updated=60.0)  # its own epochs take over
    left_at_60 = eta.remaining_s(["c"], {"b": prog}, now=60.0)
    assert left_at_60 == pytest.approx(3 * 10.0 + 0.15 * 4 * 10.0 + 50.0)
    assert eta.remaining_s(["c"], {"b": prog}, now=65.0) == pytest.approx(left_at_60 - 5.0)
    slurm = Eta({}, parallel=2)  # no estimate (Slurm: no calibration on the login node): finished runs tell
    assert slurm.remaining_s(["x", "y"], {}, now=0.0) is None
    slurm.started_run("w", 0.0)
    slurm.finished_run("w", 40.0)
    assert slurm.remaining_s(["x", "y", "z"], {}, now=40.0) == pytest.approx(60.0)


def test_a_resumed_sweep_estimates_from_its_finished_runs(cifar_tar, tmp_path):
    first = bench_ssl("sweep", "smoke", "--set", f"output.root={tmp_path}", *[a for s in sets() for a in ("--set", s)],
                      "--set", "method.temperature=0.3")
    assert first.returncode == 0, first.stderr
    assert "from a timed calibration of 3 training steps" in first.stderr
    done = sorted(p for p in (tmp_path / "sweep_smoke").iterdir() if (p / "result.json").exists())
    assert len(done) == 4
    (done[0] / "result.json").unlink()  # one run to do again, three finished ones to learn from
    again = bench_ssl("sweep", "smoke", "--set", f"output.root={tmp_path}", *[a for s in sets() for a in ("--set", s)],
                      "--set", "method.temperature=0.3")
    assert again.returncode == 0, again.stderr
    assert "from the timings of 3 finished run(s) of this sweep" in again.stderr
    assert "ETA ?" not in again.stderr


# -------------------------------------------------------------------------------------- loggers and export
def test_the_loggers_write_what_their_readers_read_back(cifar_tar, tmp_path, monkeypatch):
    import mlflow
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    overrides = [*sets(), f"output.root={tmp_path}", "output.loggers=[tensorboard, wandb, mlflow]"]
    result = run(ROOT / "configs" / "smoke.yaml", overrides)
    folder = tmp_path / "smoke" / result["run_id"]
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    acc = EventAccumulator(str(folder / "tensorboard"))
    acc.Reload()
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [1, 2]
    assert [e.value for e in loss] == pytest.approx([r["loss"] for r in records], rel=1e-6)
    assert [e.value for e in acc.Scalars("train/knn_top1")] == pytest.approx([r["knn_top1"] for r in records], rel=1e-6)
    assert acc.Scalars("eval/knn_top1")[-1].value == pytest.approx(result["knn_top1"], rel=1e-6)
    assert "config/text_summary" in acc.Tags()["tensors"]
    offline = list((folder / "wandb").glob(f"offline-run-*-{result['run_id']}/run-{result['run_id']}.wandb"))
    assert len(offline) == 1 and offline[0].stat().st_size > 0
    client = mlflow.tracking.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (found,) = client.search_runs([client.get_experiment_by_name("smoke").experiment_id],
                                  f"tags.bench_ssl_run_id = '{result['run_id']}'")
    history = client.get_metric_history(found.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(r["epoch"], pytest.approx(r["loss"])) for r in records]
    assert found.data.params["method.temperature"] == "0.5" and found.data.metrics["knn_top1"] == pytest.approx(result["knn_top1"])


def test_an_unknown_or_missing_logger_is_refused_at_load():
    with pytest.raises(Exception, match=r"output.loggers\[0\]: 'tensorbord' is not allowed \(did you mean 'tensorboard'\?\)"):
        load_config(ROOT / "configs" / "smoke.yaml", ["output.loggers=[tensorbord]"])


def test_export_round_trips_into_a_torchvision_resnet18_with_the_cifar_stem(cifar_tar, tmp_path):
    import torchvision

    from bench_ssl import load_backbone
    from bench_ssl.export import export
    from bench_ssl.methods import build_method

    overrides = [*sets(**{"optim.epochs": 1, "eval.knn_every": 0}), f"output.root={tmp_path}",
                 "model.backbone=resnet18", "model.cifar_stem=true"]
    result = run(ROOT / "configs" / "smoke.yaml", overrides)
    folder = tmp_path / "smoke" / result["run_id"]
    weights, meta = export(folder, tmp_path / "out" / "backbone.pt")
    assert json.loads(meta.read_text())["metrics"]["knn_top1"] == result["knn_top1"]

    net = torchvision.models.resnet18(weights=None)  # the CIFAR stem, by hand, as a user would
    net.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = torch.nn.Identity()
    net.fc = torch.nn.Identity()
    net.load_state_dict(torch.load(weights, weights_only=True))  # strict: every key is torchvision's
    cfg = load_config(ROOT / "configs" / "smoke.yaml", overrides)
    assert run_id(cfg) == result["run_id"]
    method = build_method(cfg, 200, 10)
    method.load_state_dict(torch.load(folder / "checkpoint.pt", weights_only=True)["model"])
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = method.backbone.eval()(x)
        assert torch.allclose(net.eval()(x), ours, atol=1e-5)
        assert torch.allclose(load_backbone(weights)(x), ours, atol=1e-5)
    proc = bench_ssl("export", tmp_path / "nope")
    assert "has no result.json" in one_error_line(proc)
