"""Hostile conditions: planted and foreign checkpoints, run-lock takeovers under chosen interleavings, read-only and
full disks, corrupt stored files, bad expressions, a corrupt archive, two drivers on one sweep. Each case checks the
exit code, the single `error:` line and that no stored byte changed (checksums before and after)."""

import hashlib
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from bench_ssl.config import load_config
from bench_ssl.results import RunDir, RunLock, RunLocked, load
from bench_ssl.results import lock as lock_module
from bench_ssl.sweep import expand, load_sweep
from bench_ssl.sweep.__main__ import main as sweep_main

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
TINY_SET = {"data.train_per_class": 20, "data.test_per_class": 10, "optim.batch_size": 50, "optim.epochs": 1,
            "eval.protocols": ["knn"], "eval.knn_every": 0, "output.checkpoint_every": 1}
TINY = [f"{key}={json.dumps(value)}" for key, value in TINY_SET.items()]


def cli(module: str, *args, env: dict | None = None, timeout: float = 600) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", f"bench_ssl.{module}", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    return proc.returncode, proc.stdout, proc.stderr


def run_args(cifar_tar, root, *sets) -> list[str]:
    return [SMOKE, *[a for s in [f"data.root={cifar_tar}", f"output.root={root}", *TINY, *sets] for a in ("--set", s)]]


def run_dir_of(cifar_tar, root, *sets) -> Path:
    return RunDir.of(load_config(SMOKE, [f"data.root={cifar_tar}", f"output.root={root}", *TINY, *sets])).path


def the_error(err: str) -> str:
    """The one `error:` line of a CLI that failed cleanly (no traceback, nothing else that looks like an error)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


def kept(before: dict[str, str], root: Path) -> None:
    """Every file stored before is still there with the same bytes."""
    after = checksums(root)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, f"stored files changed: {changed}"


@pytest.fixture(scope="module")
def finished(cifar_tar, tmp_path_factory) -> Path:
    """A finished sweep of two tiny runs (method.temperature 0.2 and 0.5): its results root."""
    root = tmp_path_factory.mktemp("finished")
    spec = root / "pair.yaml"
    spec.write_text(json.dumps({"name": "pair", "base": str(SMOKE), "set": TINY_SET,
                                "grid": {"method.temperature": [0.2, 0.5]}}))
    code, _, err = cli("sweep", spec, "--set", f"data.root={cifar_tar}", "--set", f"output.root={root / 'out'}")
    assert code == 0, err
    return root / "out"


def copy_of(finished: Path, dest: Path) -> Path:
    shutil.copytree(finished, dest, symlinks=True)
    return dest


def pair_run(cifar_tar, root, temperature=0.2) -> tuple[list[str], Path]:
    """The --set arguments and the folder of one of the pair's runs under `root`."""
    sets = ["name=pair", f"method.temperature={temperature}"]
    return sets, run_dir_of(cifar_tar, root, *sets)


# ------------------------------------------------------------------------------------------ checkpoints


class _Payload:
    """Unpickling this creates a file: the proof that loading ran code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.parametrize("format", ["pickle", "torch"])
def test_a_planted_checkpoint_never_runs_code_and_is_refused_until_force(cifar_tar, tmp_path, format):
    run_dir = run_dir_of(cifar_tar, tmp_path)
    run_dir.mkdir(parents=True)
    marker = tmp_path / "pwned"
    state = {"run_id": run_dir.name, "progress": {"epoch": 0}, "model": _Payload(marker), "optimizer": {}}
    if format == "pickle":
        (run_dir / "checkpoint.pt").write_bytes(pickle.dumps(state))
    else:
        torch.save(state, run_dir / "checkpoint.pt")
    before = checksums(run_dir)

    code, _, err = cli("run", *run_args(cifar_tar, tmp_path))
    assert code == 2 and not marker.exists()
    line = the_error(err)
    assert str(run_dir / "checkpoint.pt") in line and "--force" in line and "not loaded" in line
    kept(before, run_dir)
    assert not (run_dir / "result.json").exists()

    code, out, err = cli("run", *run_args(cifar_tar, tmp_path), "--force")
    assert code == 0, err
    assert not marker.exists() and json.loads(out)["run_id"] == run_dir.name


@pytest.mark.parametrize("content", ["text", "state_dict", "other_run"])
def test_a_checkpoint_that_is_plainly_not_ours_is_moved_aside_and_the_run_starts_over(cifar_tar, tmp_path, content):
    run_dir = run_dir_of(cifar_tar, tmp_path)
    run_dir.mkdir(parents=True)
    path = run_dir / "checkpoint.pt"
    if content == "text":
        path.write_text("weights exported by another tool\n")
    elif content == "state_dict":
        torch.save({"weight": torch.zeros(3)}, path)
    else:
        torch.save({"run_id": "0123456789ab", "progress": {"epoch": 1}, "model": {}, "optimizer": {}}, path)
    planted = path.read_bytes()

    code, out, err = cli("run", *run_args(cifar_tar, tmp_path))
    assert code == 0, err
    (aside,) = run_dir.glob("checkpoint.pt.aside-*")
    assert aside.read_bytes() == planted  # never deleted
    assert "moved it to" in err and "starting the run from scratch" in err
    assert json.loads((run_dir / "result.json").read_text())["resumed_from_epoch"] is None


# ------------------------------------------------------------------------------------------ the run lock


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant_dead(path: Path, token: str) -> None:
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": _dead_pid(), "slurm_job": None, "token": token}))


def _take(run_dir: Path, results: dict, name: str) -> None:
    lock = RunLock(run_dir)
    try:
        lock.acquire()
        results[name] = lock
    except RunLocked as exc:
        results[name] = exc


def _pausing(monkeypatch, thread: str, point: str) -> tuple[threading.Event, threading.Event]:
    """Make `thread` stop at `point` of its takeover until `go` is set; `reached` tells it got there."""
    reached, go = threading.Event(), threading.Event()

    def pause(at: str, path: Path) -> None:
        if at == point and threading.current_thread().name == thread:
            reached.set()
            assert go.wait(120)

    monkeypatch.setattr(lock_module, "_pause", pause)
    return reached, go


def _taker_paused_at(run_dir: Path, monkeypatch, point: str) -> tuple[dict, threading.Event, threading.Thread]:
    """A dead owner's lock, and taker A (a thread) stopped at `point` of taking it over: (results, go, A)."""
    _plant_dead(run_dir / "lock", "dead")
    reached, go = _pausing(monkeypatch, "A", point)
    results: dict = {}
    a = threading.Thread(target=_take, args=(run_dir, results, "A"), name="A")
    a.start()
    assert reached.wait(120)
    return results, go, a


def test_a_taker_that_judged_the_lock_dead_does_not_remove_the_lock_another_taker_took_meanwhile(tmp_path, monkeypatch):
    results, go, a = _taker_paused_at(tmp_path, monkeypatch, "judged_dead")  # A read the dead lock, is about to take it over ...
    _take(tmp_path, results, "B")  # ... when B takes it over and acquires
    assert isinstance(results["B"], RunLock)
    go.set()
    a.join(120)
    assert isinstance(results["A"], RunLocked), results["A"]  # the old rename-whatever-is-there took B's lock
    assert json.loads((tmp_path / "lock").read_text())["token"] == results["B"].owner["token"]
    results["B"].release()
    assert not (tmp_path / "lock").exists() and not list(tmp_path.glob("lock.takeover.*"))


def test_a_taker_in_the_middle_of_a_takeover_leaves_exactly_one_owner(tmp_path, monkeypatch):
    results, go, a = _taker_paused_at(tmp_path, monkeypatch, "claimed")  # A holds the takeover; B finds it taken, waits
    b = threading.Thread(target=_take, args=(tmp_path, results, "B"), name="B")
    b.start()
    time.sleep(0.2)  # not a race: B only keeps retrying while A is paused, whatever the machine's load
    assert "B" not in results
    go.set()
    a.join(120)
    b.join(120)
    holders = [n for n, r in results.items() if isinstance(r, RunLock)]
    assert len(holders) == 1, results
    (loser,) = {"A", "B"} - set(holders)
    assert isinstance(results[loser], RunLocked)
    assert json.loads((tmp_path / "lock").read_text())["token"] == results[holders[0]].owner["token"]


def test_a_takeover_left_half_done_by_a_killed_taker_is_itself_taken_over(tmp_path):
    _plant_dead(tmp_path / "lock", "dead")
    _plant_dead(tmp_path / "lock.takeover.dead", "deadtaker")
    with RunLock(tmp_path) as held:
        assert json.loads((tmp_path / "lock").read_text())["token"] == held.owner["token"]
    assert not list(tmp_path.glob("lock*"))


def test_many_concurrent_takers_of_a_dead_lock_give_one_owner(tmp_path):
    _plant_dead(tmp_path / "lock", "dead")
    start, results = threading.Barrier(8), {}

    def take(name):
        start.wait()
        _take(tmp_path, results, name)

    threads = [threading.Thread(target=take, args=(f"T{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    holders = [r for r in results.values() if isinstance(r, RunLock)]
    assert len(results) == 8 and len(holders) == 1, results


def test_a_zombie_owner_counts_as_dead(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 120
    while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":  # exited, not reaped
        assert time.time() < deadline
        time.sleep(0.05)
    (tmp_path / "lock").write_text(json.dumps({"host": socket.gethostname(), "pid": child.pid, "token": "z"}))
    try:
        assert not lock_module.owner_alive(tmp_path)
    finally:
        child.wait()


# ------------------------------------------------------------------------------------------ read-only and full disks


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs mounted for the test (root only; skipped elsewhere), unmounted after it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "mnt"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _remount_read_only(mount: Path) -> None:
    proc = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _fill(mount: Path) -> None:
    with open(mount / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
    with pytest.raises(OSError):
        (mount / "probe").write_bytes(b"\0" * 4096)


def test_an_archived_read_only_results_folder_answers_run_results_and_report(finished, cifar_tar, tmpfs, tmp_path):
    root = copy_of(finished, tmpfs / "out")
    _remount_read_only(tmpfs)
    before = checksums(root)
    sets, run_dir = pair_run(cifar_tar, root)
    code, out, err = cli("run", *run_args(cifar_tar, root, *sets))
    assert code == 0, err
    assert json.loads(out)["run_id"] == run_dir.name  # the stored result, nothing written

    code, _, err = cli("run", *run_args(cifar_tar, root, "name=pair", "method.temperature=0.3"))
    assert code == 2
    line = the_error(err)
    assert "Read-only file system" in line and "output.root" in line

    code, out, err = cli("results", root / "pair")
    assert code == 0, err
    assert out.count("| done ") == 2
    code, _, err = cli("report", root / "pair", "--out", tmp_path / "reports", "--format", "html")
    assert code == 0, err
    assert (tmp_path / "reports" / "pair.html").exists()
    code, _, err = cli("sweep", finished.parent / "pair.yaml", "--set", f"data.root={cifar_tar}", "--set",
                       f"output.root={root}")
    assert code == 0 and "2 already done, 0 to run" in err, err
    kept(before, root)


def test_a_full_disk_is_one_line_leaves_no_lock_and_keeps_finished_runs(finished, cifar_tar, tmpfs):
    root = copy_of(finished, tmpfs / "out")
    before = checksums(root)
    _fill(tmpfs)
    run_dir = run_dir_of(cifar_tar, root, "name=pair", "method.temperature=0.3").parent
    code, _, err = cli("run", *run_args(cifar_tar, root, "name=pair", "method.temperature=0.3"))
    assert code == 2
    line = the_error(err)
    assert "No space left on device" in line and "free disk space" in line
    fresh = [p for p in run_dir.iterdir() if p.is_dir() and p.name not in {d.parent.name for d in run_dir.glob("*/result.json")}]
    assert all(not any(p.iterdir()) for p in fresh), [list(p.iterdir()) for p in fresh]  # no (empty) lock left behind
    sets, done = pair_run(cifar_tar, root)
    code, out, err = cli("run", *run_args(cifar_tar, root, *sets))
    assert code == 0 and json.loads(out)["run_id"] == done.name, err
    kept(before, root)


# ------------------------------------------------------------------------------------------ corrupt stored files


def test_a_corrupt_result_is_one_line_for_run_and_marked_by_results_report_and_sweep(finished, cifar_tar, tmp_path):
    root = copy_of(finished, tmp_path / "out")
    sets, bad = pair_run(cifar_tar, root)
    (bad / "result.json").write_text('{"run_id": "' + bad.name[:5])  # torn by a copy that ran out of space
    before = checksums(root)

    code, _, err = cli("run", *run_args(cifar_tar, root, *sets))
    assert code == 2
    line = the_error(err)
    assert str(bad / "result.json") in line and "corrupt" in line and "--force" in line

    code, out, err = cli("results", root / "pair")
    assert code == 0, err
    assert "| corrupt " in out and out.count("| done ") == 1
    assert f"warning: {bad / 'result.json'} is corrupt" in err
    frame = load(root / "pair").set_index("run_id")
    assert frame.loc[bad.name, "status"] == "corrupt" and "result.json" in frame.loc[bad.name, "error"]

    code, _, err = cli("report", root / "pair", "--out", tmp_path / "reports", "--format", "html")
    assert code == 0, err
    assert "1 corrupt" in (tmp_path / "reports" / "pair.html").read_text()
    assert f"warning: {bad / 'result.json'} is corrupt" in err

    kept(before, root)

    spec = tmp_path / "pair.yaml"
    spec.write_text(json.dumps({"name": "pair", "base": str(SMOKE), "set": TINY_SET,
                                "grid": {"method.temperature": [0.2, 0.5]}}))
    code, _, err = cli("sweep", spec, "--set", f"data.root={cifar_tar}", "--set", f"output.root={root}")
    assert code == 1 and f"corrupt  {bad.name}" in err and "1 already done, 0 to run" in err, err
    kept({name: digest for name, digest in before.items() if name != "pair/sweep.json"}, root)  # the driver's manifest


def test_a_corrupt_gzip_is_one_line(cifar_tar, tmp_path):
    data = bytearray(cifar_tar.read_bytes()[:200_000])
    data[10:40] = b"\xff" * 30  # a gzip header, then garbage: tarfile's 'r:*' used to list five readers' errors
    bad = tmp_path / "cifar.tar.gz"
    bad.write_bytes(bytes(data))
    code, _, err = cli("run", SMOKE, "--set", f"data.root={bad}", "--set", f"output.root={tmp_path / 'out'}")
    assert code == 2
    line = the_error(err)
    assert str(bad) in line and "zlib" in line and "re-copy" in line
    assert not [x for x in err.splitlines() if x.startswith("- method")]


# ------------------------------------------------------------------------------------------ expressions


def _sweep_file(tmp_path, **keys) -> Path:
    path = tmp_path / "expr.yaml"
    path.write_text(json.dumps({"name": "expr", "base": str(SMOKE), "grid": {"method.temperature": [0.2, 0.5]}, **keys}))
    return path


@pytest.mark.parametrize("expr, why", [
    ("0.1 / (seed - seed)", "divides by zero"),
    ("sqrt(method.temperature - 1)", "outside its domain"),
    ("log(0)", "outside its domain"),
    ("exp(1000.0) * optim.lr", "overflows"),
    ("10 ** 10 ** 10", "exponent 10000000000 is too large"),
    ("(2 ** 1000) ** 1000", "bits"),
    ("len('x' * 10 ** 9)", "repetition"),
    ("augment.view1[7]", "out of range"),
])
def test_an_expression_that_cannot_be_evaluated_is_one_line_and_never_hangs(tmp_path, capsys, expr, why):
    path = _sweep_file(tmp_path, derived={"optim.lr": expr})
    started = time.monotonic()
    assert sweep_main([str(path), "--dry-run"]) == 2
    assert time.monotonic() - started < 60  # `10 ** 10 ** 10` used to hang here
    line = the_error(capsys.readouterr().err)
    assert "optim.lr" in line and why in line and expr in line, line


def test_an_exclude_with_a_bad_expression_is_one_line(tmp_path, capsys):
    path = _sweep_file(tmp_path, exclude=["1 % (seed * 0) == 0"])
    assert sweep_main([str(path), "--dry-run"]) == 2
    assert "divides by zero" in the_error(capsys.readouterr().err)


def test_subscripts_select_by_the_first_op_of_a_view(tmp_path):
    path = _sweep_file(tmp_path, runs=[{"augment.view1": ["crop", "color"]}, {"augment.view1": ["color", "crop"]}],
                       exclude=["augment.view1[0] == 'color' and method.temperature == 0.2"],
                       derived={"optim.lr": "0.1 if augment.view1[-1] == 'crop' else 0.2"})
    runs = expand(load_sweep(path))
    assert sorted((r.config.augment.view1[0], r.config.method.temperature, r.config.optim.lr) for r in runs) == [
        ("color", 0.5, 0.1), ("crop", 0.2, 0.2), ("crop", 0.5, 0.2)]


# ------------------------------------------------------------------------------------------ two drivers, one sweep


def _wait(predicate, what: str, procs=(), timeout: float = 600):
    deadline = time.time() + timeout
    while not (found := predicate()):
        for p in procs:
            assert p.poll() is None, f"a driver ended before {what}: {p.communicate()[1]}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def _held(sweep_dir: Path) -> list[Path]:
    return [log.parent for log in sweep_dir.glob("*/log.txt") if "holding after the checkpoint" in log.read_text()]


def test_two_drivers_on_one_sweep_run_each_run_once_and_both_exit_0(cifar_tar, tmp_path):
    spec = tmp_path / "trio.yaml"
    spec.write_text(json.dumps({"name": "trio", "base": str(SMOKE), "set": {**TINY_SET,
                                "optim.epochs": 2}, "grid": {"method.temperature": [0.2, 0.3, 0.5]},
                                "launcher": {"name": "local", "max_parallel": 1}}))
    args = [sys.executable, "-m", "bench_ssl.sweep", str(spec), "--set", f"data.root={cifar_tar}",
            "--set", f"output.root={tmp_path / 'out'}"]
    sweep_dir = tmp_path / "out" / "trio"
    first_go, second_go = tmp_path / "go1", tmp_path / "go2"

    def driver(go: Path) -> subprocess.Popen:
        return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "BENCH_SSL_HOLD": str(go)})

    one = driver(first_go)
    (a,) = _wait(lambda: _held(sweep_dir), "the first driver's run to hold", [one])
    two = driver(second_go)  # sees `a` running elsewhere and runs the next one, which holds too
    (b,) = _wait(lambda: [d for d in _held(sweep_dir) if d != a], "the second driver's run to hold", [one, two])
    first_go.touch()  # `a` finishes; the first driver's worker then finds `b` held by the other driver, and runs `c`
    _wait(lambda: len(list(sweep_dir.glob("*/result.json"))) == 2, "two results", [one, two])
    second_go.touch()
    _, err1 = one.communicate(timeout=600)
    _, err2 = two.communicate(timeout=600)
    assert one.returncode == 0, err1
    assert two.returncode == 0, err2
    assert "1 running elsewhere" in err2
    for run in sweep_dir.glob("*/log.txt"):  # each run was trained once: one start line in its log
        assert run.read_text().count(f"run {run.parent.name} -> ") == 1, run.read_text()
    assert set(load(sweep_dir)["status"]) == {"done"}
