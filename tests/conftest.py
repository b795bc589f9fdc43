"""Shared fixtures: the real CIFAR-10 tarball ($BENCH_SSL_DATA, which .ci/run sets, else ../shared), decoded once
per test session; a real Slurm cluster."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CIFAR_TAR = Path(os.environ.get("BENCH_SSL_DATA") or ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz").resolve()
os.environ["BENCH_SSL_DATA"] = str(CIFAR_TAR)  # the data.root default of every run the tests start (subprocesses too)
SHARED_SLURM = ROOT.parent / "shared" / "slurm"


@pytest.fixture(scope="session")
def cifar_tar() -> Path:
    if not CIFAR_TAR.exists():  # a failure, not a skip: a green run must have exercised the real data
        pytest.fail(f"{CIFAR_TAR} is missing: tests read the shared CIFAR-10 tarball from ../shared/datasets beside the checkout")
    return CIFAR_TAR


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory) -> Path:
    """One dataset cache for the whole session (the 60k-image decode happens once), also for subprocesses."""
    path = Path(os.environ.get("BENCH_SSL_TEST_CACHE") or tmp_path_factory.mktemp("bench_ssl_cache"))
    old = os.environ.get("BENCH_SSL_CACHE")
    os.environ["BENCH_SSL_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("BENCH_SSL_CACHE", None)
    else:
        os.environ["BENCH_SSL_CACHE"] = old


class SlurmCluster:
    """The machine's one local Slurm cluster, shared with whoever else uses it (other test sessions too)."""

    RUN = Path("/tmp/slurm-local/run")

    def incarnation(self) -> tuple[str, ...]:
        """The pids of its daemons: they change when someone stops or restarts the cluster."""
        return tuple((self.RUN / f"{d}.pid").read_text().strip() if (self.RUN / f"{d}.pid").exists() else "-"
                     for d in ("slurmctld", "slurmd"))

    def start(self) -> None:
        env = {**os.environ, "SLURM_NODE_CPUS": "8"}
        proc = subprocess.run(["bash", str(SHARED_SLURM / "start.sh")], capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0 and "SLURM READY" in proc.stdout, proc.stdout + proc.stderr

    def surviving_restarts(self, attempt):
        """attempt(i) -> value. Another process may stop or restart the cluster while a test uses it, which cancels
        the test's jobs: then the cluster is brought up again and the attempt repeated once (on a fresh folder),
        and if that happens again the test fails with one line that says so, apart from a bench_ssl bug."""
        for i in range(2):
            before = self.incarnation()
            try:
                return attempt(i)
            except AssertionError:
                after = self.incarnation()
                if after == before:
                    raise  # the cluster stayed up: a real failure
                if i == 1:
                    pytest.fail(f"the local Slurm cluster was restarted by another process during this test twice "
                                f"(daemon pids {before} -> {after}), not a bench_ssl failure: run the test again", pytrace=False)
                self.start()


def _slurm_up() -> bool:
    pid_file = SlurmCluster.RUN / "slurmctld.pid"
    try:
        return Path(f"/proc/{int(pid_file.read_text())}/comm").read_text().strip() == "slurmctld"
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="session")
def slurm_cluster():
    """A real single-node Slurm cluster from ../shared/slurm: started if it is not up, and stopped after the
    session only if this session started it (another user of the machine may be using it)."""
    start = SHARED_SLURM / "start.sh"
    if not start.exists():
        pytest.fail(f"{start} is missing: the Slurm tests need ../shared/slurm beside the checkout")
    was_up = _slurm_up()
    cluster = SlurmCluster()
    cluster.start()
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = "/tmp/slurm-local/etc/slurm.conf"
    try:
        yield cluster
    finally:
        if not was_up:
            subprocess.run(["bash", str(SHARED_SLURM / "stop.sh")], capture_output=True, timeout=120)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
