"""Shared fixtures: the real CIFAR-10 tarball from ../shared, decoded once per test session."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CIFAR_TAR = ROOT.parent / "shared" / "datasets" / "cifar10-jpg.tar.gz"


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
