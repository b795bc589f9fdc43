"""Real Optuna studies on CPU: a tiny study with pruning, resumed; two local workers on one journal storage;
a worker SIGKILLed mid-trial; a failing trial; two Slurm workers on a real cluster; invalid study files."""

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from bench_ssl.config import load_config, run_id
from bench_ssl.results import load
from bench_ssl.tune import load_study_spec, tune_figures
from bench_ssl.tune.__main__ import main as tune_main
from bench_ssl.tune.storage import open_storage

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "sweeps" / "tune_smoke.yaml"
TINY = {"data.train_per_class": 20, "data.test_per_class": 10, "optim.batch_size": 50, "optim.epochs": 2,
        "eval.knn_every": 1, "eval.protocols": ["knn"], "output.checkpoint_every": 1}


def tune_cli(*args):
    return subprocess.Popen([sys.executable, "-m", "bench_ssl.tune", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def study_file(tmp_path, name, space, **extra) -> Path:
    spec = {"name": name, "base": str(ROOT / "configs" / "smoke.yaml"), "set": {**TINY, **extra.pop("set", {})},
            "space": space, **extra}
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def journal(path: Path, name: str):
    return optuna.load_study(study_name=name, storage=open_storage(f"journal:{path}"))


# ------------------------------------------------------------------ a real tiny study, then resumed


@pytest.fixture(scope="module")
def smoke_study(cifar_tar, tmp_path_factory):
    """sweeps/tune_smoke.yaml, quick profile: random sampler, median pruner, 6 trials."""
    root = tmp_path_factory.mktemp("tune")
    sets = ["--set", f"data.root={cifar_tar}", "--set", f"output.root={root}"]
    code, out, err = finish(tune_cli(STUDY, "--profile", "quick", "--n-trials", 6, *sets))
    return {"code": code, "out": out, "err": err, "dir": root / "tune_smoke_quick", "sets": sets}


def test_a_tiny_study_prunes_on_knn_and_every_trial_lands_in_the_results_store(smoke_study):
    assert smoke_study["code"] == 0, smoke_study["err"]
    study_dir = smoke_study["dir"]
    study = optuna.load_study(study_name="tune_smoke_quick", storage=f"sqlite:///{study_dir / 'study.db'}")
    states = [t.state for t in study.trials]
    assert len(states) == 6 and set(states) <= {TrialState.COMPLETE, TrialState.PRUNED}, states
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned, "the median pruner pruned no trial"
    for t in pruned:  # never after the last epoch: a run trained to the end completes with its value
        stopped = re.match(r"pruned at epoch ([12])/3 by the median pruner: knn_top1", t.user_attrs["pruned_reason"])
        assert stopped, t.user_attrs["pruned_reason"]
        assert list(t.intermediate_values) == list(range(1, int(stopped.group(1)) + 1))
    for t in study.trials:
        if t.state == TrialState.COMPLETE:
            assert list(t.intermediate_values) == [1, 2, 3] and t.value == t.intermediate_values[3]
    best = study.best_trial
    assert f"best trial {best.number}: knn_top1 {best.value:.4f}" in smoke_study["out"]

    from bench_ssl.results.__main__ import summary_columns

    assert summary_columns(load(study_dir), study_dir)[:3] == ["run_id", "trial", "status"]  # the table shows it
    frame = load(study_dir).set_index("run_id")
    assert set(frame.index) == {t.user_attrs["run_id"] for t in study.trials}
    for t in study.trials:
        row = frame.loc[t.user_attrs["run_id"]]
        assert str(t.number) in row["trial"].split(",")
        assert row["method.temperature"] == pytest.approx(t.params["method.temperature"])
        if t.state == TrialState.PRUNED:
            assert row["status"] == "pruned" and row["error"] == t.user_attrs["pruned_reason"]
            assert not (Path(t.user_attrs["run_dir"]) / "traceback.txt").exists()
        else:
            assert row["status"] == "done" and row["knn_top1"] == pytest.approx(t.value)

    best_cfg = load_config(study_dir / "best_config.yaml")  # ready to run: it is the best trial's run
    assert run_id(best_cfg) == best.user_attrs["run_id"]
    from bench_ssl.run import run

    assert run(study_dir / "best_config.yaml")["knn_top1"] == pytest.approx(best.value)  # finished: no training

    figures = dict(tune_figures(study_dir))
    for title in ("Optimisation history", "Parameter importances", "Parallel coordinates", "Slice plot"):
        assert figures[title].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", title


def test_the_report_of_a_study_embeds_optunas_plots_and_the_best_config(smoke_study, tmp_path):
    from bench_ssl.report import write_report

    assert smoke_study["code"] == 0, smoke_study["err"]
    out = write_report(smoke_study["dir"], tmp_path, "html,pdf")
    html = out["html"].read_text()
    section = html.split("<h2>Optuna study</h2>")[1]
    for title in ("Optimisation history", "Parameter importances", "Parallel coordinates", "Slice plot"):
        assert f'alt="{title}"' in section, title
    assert "best_config.yaml" in section and ">pruned<" in html
    assert "Partial sweep" not in html and "stopped early by the study&#x27;s pruner" in html  # pruned = finished
    assert "<th>trial</th>" in html and "a hint, not a finding" in html  # 4 trials: importances are a hint
    study = optuna.load_study(study_name="tune_smoke_quick", storage=f"sqlite:///{smoke_study['dir'] / 'study.db'}")
    for t in (t for t in study.trials if t.state == TrialState.PRUNED):  # the epochs it ran, not the planned 3
        epoch = re.match(r"pruned at epoch (\d)/3", t.user_attrs["pruned_reason"]).group(1)
        assert f">{epoch}/3</td>" in html
    optuna_pages = ["Optimisation history", "kNN top-1 per epoch (what the pruner sees)", "Parameter importances",
                    "Parallel coordinates", "Slice plot"]
    assert out["pdf_pages"][-6:] == [*optuna_pages, "Environment"]
    from pdf_check import check_pages

    check_pages(out["pdf"], tmp_path / "pages", out["pdf_pages"], {"Figure", "Learning curves", *optuna_pages})


def test_a_resumed_study_adds_trials_without_repeating_finished_ones(smoke_study):
    assert smoke_study["code"] == 0, smoke_study["err"]
    study_dir = smoke_study["dir"]
    storage = f"sqlite:///{study_dir / 'study.db'}"
    before = {t.number: (t.state, t.value, t.params) for t in optuna.load_study(study_name="tune_smoke_quick", storage=storage).trials}
    stamps = {p: p.stat().st_mtime_ns for p in study_dir.glob("*/*") if p.name in ("result.json", "pruned.json", "checkpoint.pt")}
    code, out, err = finish(tune_cli(STUDY, "--set", "profile=quick", "--n-trials", 7, *smoke_study["sets"]))
    assert code == 0, err
    assert "6 of 7 trials so far" in err and "1 to run" in err
    trials = optuna.load_study(study_name="tune_smoke_quick", storage=storage).trials
    assert [t.number for t in trials] == list(range(7))
    assert {t.number: (t.state, t.value, t.params) for t in trials[:6]} == before
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials[6:])
    assert all(t.params not in [b[2] for b in before.values()] for t in trials[6:])
    assert all(p.stat().st_mtime_ns == m for p, m in stamps.items())  # nothing finished was run again


# ------------------------------------------------------------------ workers sharing one storage


def test_two_local_workers_share_one_journal_storage(cifar_tar, tmp_path):
    code, out, err = finish(tune_cli(STUDY, "--profile", "quick", "--n-trials", 4, "--workers", 2, "--storage", "journal",
                                     "--set", f"data.root={cifar_tar}", "--set", f"output.root={tmp_path}"))
    assert code == 0, err
    assert "started 2 local workers" in err
    study = journal(tmp_path / "tune_smoke_quick" / "study.journal", "tune_smoke_quick")
    assert len(study.trials) == 4 and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)
    workers = {t.user_attrs["worker"]["pid"] for t in study.trials}
    assert len(workers) == 2, workers
    assert "best trial" in out
    assert set(load(tmp_path / "tune_smoke_quick")["status"]) <= {"done", "pruned"}


def _held_runs(study_dir: Path) -> list[Path]:
    """Run folders whose run holds after a checkpoint (BENCH_SSL_HOLD): a known mid-trial state, no race."""
    return [log.parent for log in study_dir.glob("*/log.txt") if "holding after the checkpoint" in log.read_text()]


def _wait_held(study_dir: Path, driver, n: int = 1, timeout: float = 600) -> list[Path]:
    deadline = time.time() + timeout
    while len(held := _held_runs(study_dir)) < n:
        assert driver.poll() is None, driver.communicate()[1]
        assert time.time() < deadline, f"no {n} held run(s) within {timeout} s"
        time.sleep(0.1)
    return held


def test_a_killed_driver_leaves_a_running_trial_that_the_next_run_fails_and_retries(cifar_tar, tmp_path):
    path = study_file(tmp_path, "killed", {"method.temperature": {"type": "logfloat", "low": 0.05, "high": 1.0}},
                      set={"optim.epochs": 3}, sampler={"name": "random", "seed": 1}, pruner="none",
                      budget={"n_trials": 1})
    sets = ["--set", f"data.root={cifar_tar}", "--set", f"output.root={tmp_path / 'out'}"]
    study_dir = tmp_path / "out" / "killed"
    driver = subprocess.Popen([sys.executable, "-m", "bench_ssl.tune", str(path), *sets], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "BENCH_SSL_HOLD": str(tmp_path / "never")})  # one worker: the driver
    (run_dir,) = _wait_held(study_dir, driver)  # its trial checkpointed after epoch 1 and waits there
    assert json.loads((run_dir / "lock").read_text())["pid"] == driver.pid
    driver.send_signal(signal.SIGKILL)
    driver.communicate()
    storage = f"sqlite:///{study_dir / 'study.db'}"
    (killed,) = optuna.load_study(study_name="killed", storage=storage).trials
    assert killed.state == TrialState.RUNNING  # what the dead worker left behind

    code, out, err = finish(tune_cli(path, *sets))
    assert code == 0, err
    assert f"failed and retried: {killed.number}" in err
    trials = optuna.load_study(study_name="killed", storage=storage).trials
    first = trials[killed.number]
    assert first.state == TrialState.FAIL and first.user_attrs["stale"]
    assert f"pid {driver.pid}" in first.user_attrs["fail_reason"] and "died" in first.user_attrs["fail_reason"]
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == killed.number]
    assert retry.state == TrialState.COMPLETE and retry.params == killed.params
    assert retry.user_attrs["run_id"] == run_dir.name
    assert json.loads((run_dir / "result.json").read_text())["resumed_from_epoch"] == 1  # from the checkpoint
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]  # the budget counts the retry only
    assert not any(t.state == TrialState.RUNNING for t in trials)


def test_a_worker_killed_mid_trial_is_reaped_failed_retried_and_replaced_in_the_same_invocation(cifar_tar, tmp_path):
    path = study_file(tmp_path, "killed2", {"method.temperature": {"type": "logfloat", "low": 0.05, "high": 1.0}},
                      set={"optim.epochs": 2}, sampler={"name": "random", "seed": 3}, pruner="none",
                      budget={"n_trials": 3})
    study_dir = tmp_path / "out" / "killed2"
    release = tmp_path / "release"
    driver = subprocess.Popen([sys.executable, "-m", "bench_ssl.tune", str(path), "--workers", "2",
                               "--set", f"data.root={cifar_tar}", "--set", f"output.root={tmp_path / 'out'}"],
                              cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "BENCH_SSL_HOLD": str(release)})
    victim_run = _wait_held(study_dir, driver)[0]
    victim = json.loads((victim_run / "lock").read_text())["pid"]  # a worker process, not the driver
    assert victim != driver.pid
    os.kill(victim, signal.SIGKILL)
    release.touch()  # the other worker goes on; the driver notices the dead one by itself
    out, err = driver.communicate(timeout=900)
    assert driver.returncode == 0, err
    assert f"(pid {victim}) killed by signal 9" in err and "started worker" in err and "again" in err, err
    storage = f"sqlite:///{study_dir / 'study.db'}"
    trials = optuna.load_study(study_name="killed2", storage=storage).trials
    (dead,) = [t for t in trials if t.state == TrialState.FAIL]
    assert dead.user_attrs["stale"] and f"pid {victim}" in dead.user_attrs["fail_reason"]
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == dead.number]
    assert retry.state == TrialState.COMPLETE and retry.params == dead.params
    assert json.loads((victim_run / "result.json").read_text())["resumed_from_epoch"] == 1
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3  # the whole budget, in this one invocation
    assert not any(t.state == TrialState.RUNNING for t in trials)
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)  # reaped: not a zombie


def test_a_retry_waiting_in_sqlite_is_claimed_under_the_write_lock_so_no_two_workers_run_it(tmp_path, monkeypatch):
    """Optuna claims a waiting trial by reading it and then setting it RUNNING, asking for a row lock SQLite does
    not have: two workers asking at once both claimed the same retry (seen in the test above, where the second
    crashed telling a trial the first had completed). While a claim reads the trial, no other connection may
    write, so the other worker reads it RUNNING and takes a new trial."""
    import sqlite3

    from optuna.storages._rdb import models

    db = tmp_path / "study.db"
    url = f"sqlite:///{db}"
    study = optuna.create_study(study_name="claims", storage=open_storage(url))
    study.enqueue_trial({"x": 0.5}, user_attrs={"retry_of": 0})
    find, probes = models.TrialModel.find_or_raise_by_id, []

    def find_then_try_to_write(trial_id, session, for_update=False):
        trial = find(trial_id, session, for_update)
        other = sqlite3.connect(db, timeout=0, isolation_level=None)  # another worker, not willing to wait
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            probes.append((trial.state.name, "another worker could write"))
        except sqlite3.OperationalError as exc:
            probes.append((trial.state.name, str(exc)))
        finally:
            other.close()
        return trial

    monkeypatch.setattr(models.TrialModel, "find_or_raise_by_id", staticmethod(find_then_try_to_write))
    claimed = study.ask()
    assert claimed.number == 0 and claimed.user_attrs["retry_of"] == 0
    assert ("WAITING", "database is locked") in probes and all(why == "database is locked" for _, why in probes), probes
    monkeypatch.undo()
    other = optuna.load_study(study_name="claims", storage=open_storage(url)).ask()
    assert other.number == 1 and "retry_of" not in other.user_attrs  # the retry is the first worker's alone


def test_a_failing_trial_keeps_its_reason(cifar_tar, tmp_path, capsys):
    missing = tmp_path / "no-such-dataset"
    path = study_file(tmp_path, "failing", {"data.root": [str(cifar_tar), str(missing)]}, set={"optim.epochs": 1},
                      sampler="grid", pruner="none", budget={"n_trials": 2})
    assert tune_main([str(path), "--set", f"output.root={tmp_path / 'out'}"]) == 0
    study = optuna.load_study(study_name="failing", storage=f"sqlite:///{tmp_path / 'out' / 'failing' / 'study.db'}")
    assert study.metric_names == ["knn_top1"]  # the objective by name (optuna-dashboard, plots), not "Objective 0"
    by_root = {t.params["data.root"]: t for t in study.trials}
    assert by_root[str(cifar_tar)].state == TrialState.COMPLETE
    failed = by_root[str(missing)]
    assert failed.state == TrialState.FAIL
    assert "DatasetError" in failed.user_attrs["fail_reason"] and str(missing) in failed.user_attrs["fail_reason"]
    # a failure of the environment (the dataset is missing) leaves no run folder: the reason is the trial's
    assert failed.user_attrs["run_id"] not in set(load(tmp_path / "out" / "failing")["run_id"])
    assert "DatasetError" in capsys.readouterr().err


# ------------------------------------------------------------------ Slurm


def test_two_slurm_workers_share_a_journal_study(slurm_cluster, cifar_tar, tmp_path):
    def attempt(i):
        root = tmp_path / f"try{i}"
        code, out, err = finish(tune_cli(STUDY, "--profile", "quick", "--n-trials", 2, "--workers", 2, "--launcher",
                                         "slurm", "--cpus-per-task", 1, "--time-min", 60, "--set", f"data.root={cifar_tar}",
                                         "--set", f"output.root={root}"), timeout=1800)
        assert code == 0, err
        return root, out, err

    tmp_path, out, err = slurm_cluster.surviving_restarts(attempt)
    assert "submitted 2 Slurm worker(s)" in err and "storage journal:" in err  # the journal by default on Slurm
    study = journal(tmp_path / "tune_smoke_quick" / "study.journal", "tune_smoke_quick")
    assert len(study.trials) == 2 and all(t.state == TrialState.COMPLETE for t in study.trials)
    jobs = {t.user_attrs["worker"]["slurm_job"] for t in study.trials}
    assert len(jobs) == 2 and None not in jobs, jobs
    frame = load(tmp_path / "tune_smoke_quick")
    assert set(frame["run_id"]) == {t.user_attrs["run_id"] for t in study.trials}
    assert f"best trial {study.best_trial.number}" in out


# ------------------------------------------------------------------ invalid study files


@pytest.mark.parametrize("change, message", [
    ({"space": {"method.temprature": {"low": 0.1, "high": 1.0}}}, "unknown key 'method.temprature' (did you mean 'temperature'?)"),
    ({"space": {"method.temperature": {"low": 1.0, "high": 0.1}}}, "space.method.temperature: low 1.0 is not below high 0.1"),
    ({"space": {"optim.lr": {"type": "logfloat", "low": 0.0, "high": 1.0}}}, "space.optim.lr: log: true needs low > 0"),
    ({"space": {"method.queue_size": []}}, "space.method.queue_size: a categorical parameter needs a non-empty list"),
    ({"space": {"model.head.out_dim": {"type": "int", "low": 16.5, "high": 64}}}, "space.model.head.out_dim.low: 16.5 is not an integer"),
    ({"space": {"model.head.out_dim": {"type": "float", "low": 16, "high": 64}}}, "model.head.out_dim is an integer; use type: int"),
    ({"space": {"method.temperature": {"type": "flaot", "low": 0.1, "high": 1.0}}}, "'flaot' is not allowed (did you mean 'float'?)"),
    ({"space": {"method.temperature": {"low": 0.0, "high": 1.0}}}, "the run config at (method.temperature=0.0) is invalid: method.temperature"),
    ({"space": {"method.queue_size": [100, 128]}, "set": {"method.name": "moco", "optim.batch_size": 64}},
     "method.queue_size: 100 is not a multiple of optim.batch_size 64"),
    ({"objective": "linear_top2"}, "objective: 'linear_top2' is not allowed (did you mean 'linear_top1'?)"),
    ({"objective": "linear_top1"}, "objective linear_top1 needs the linear evaluation"),
    ({"sampler": "tpee"}, "sampler.name: 'tpee' is not known (did you mean 'tpe'?)"),
    ({"sampler": {"name": "tpe", "n_startup": 3}}, "sampler.n_startup: not an argument of optuna.samplers.TPESampler (did you mean 'n_startup_trials'?)"),
    ({"sampler": "grid"}, "the grid sampler needs a finite set of values"),
    ({"pruner": "medain"}, "pruner.name: 'medain' is not known (did you mean 'median'?)"),
    ({"set": {"eval.knn_every": 0}}, "pruner median needs kNN top-1 during training"),
    ({"budget": {"n_trials": 0}}, "budget.n_trials: 0 is out of range"),
])
def test_invalid_studies_are_rejected_before_any_trial(tmp_path, capsys, change, message):
    space = change.pop("space", {"method.temperature": {"low": 0.1, "high": 1.0}})
    path = study_file(tmp_path, "bad", space, **change)
    assert tune_main([str(path), "--set", f"output.root={tmp_path / 'out'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()  # nothing started


def test_profiles_and_list_valued_categorical_keys(tmp_path):
    path = study_file(tmp_path, "views", {"augment.view2": [["crop"], ["crop", "color"]]},
                      profiles={"quick": {"budget": {"n_trials": 3}, "set": {"optim.epochs": 3}}})
    spec = load_study_spec(path, "quick")
    assert spec.name == "views_quick" and spec.budget.n_trials == 3 and spec.base["optim"]["epochs"] == 3
    trial = optuna.create_study().ask()
    value = spec.param("augment.view2").suggest(trial)
    assert value in (["crop"], ["crop", "color"])  # Optuna sees JSON strings, the config gets lists
    with pytest.raises(Exception, match="no profile 'quik' \\(did you mean 'quick'\\?\\)"):
        load_study_spec(path, "quik")


def test_optunas_plots_are_drawn_readably_white_ground_no_overlapping_text():
    """30 trials with log-scaled parameters (the case that printed 2x10^-1 over 3x10^-1), some pruned:
    every plot of the report on a white ground, no white line left from ggplot, no two texts touching."""
    from matplotlib.colors import to_hex

    from bench_ssl.report.layout import overlapping_texts
    from bench_ssl.tune.report import FIGURES, draw_figure

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.set_metric_names(["knn_top1"])
    for i in range(30):
        t = study.ask()
        lr, temp = t.suggest_float("optim.lr", 0.02, 0.2, log=True), t.suggest_float("method.temperature", 0.1, 0.4, log=True)
        strength = t.suggest_float("augment.color.strength", 0.1, 1.0)
        value = 0.2 + 0.1 * strength - 0.05 * abs(math.log10(temp) + 1) + 0.01 * math.log10(lr)
        for epoch in (1, 2, 3):
            t.report(value - 0.03 * (3 - epoch), epoch)
            if i % 4 == 3 and epoch == 1:
                break
        study.tell(t, state=TrialState.PRUNED) if i % 4 == 3 else study.tell(t, value)
    for title, _, fn_name in FIGURES:
        fig = draw_figure(study, fn_name, "knn_top1")
        assert overlapping_texts(fig) == [], title
        for ax in fig.axes:
            assert to_hex(ax.get_facecolor()) == "#ffffff", title
            assert not [ln for ln in ax.get_lines() if to_hex(ln.get_color()) == "#ffffff"], title
