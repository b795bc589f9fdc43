"""Shared fixtures: the real CIFAR-10 tarball from ../shared, decoded once per test session; a real Slurm cluster."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CIFAR_TAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"
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


@pytest.fixture(scope="session")
def slurm_cluster():
    """A real single-node Slurm cluster from ../shared/slurm (started once, stopped after the session)."""
    start = SHARED_SLURM / "start.sh"
    if not start.exists():
        pytest.fail(f"{start} is missing: the Slurm tests need ../shared/slurm beside the checkout")
    env = {**os.environ, "SLURM_NODE_CPUS": "8"}
    proc = subprocess.run(["bash", str(start)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0 and "SLURM READY" in proc.stdout, proc.stdout + proc.stderr
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = "/tmp/slurm-local/etc/slurm.conf"
    try:
        yield
    finally:
        subprocess.run(["bash", str(SHARED_SLURM / "stop.sh")], capture_output=True, timeout=120)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
