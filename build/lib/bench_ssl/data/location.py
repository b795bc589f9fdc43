"""Where the data is when `data.root` is not set: `$BENCH_SSL_DATA`, else a folder per dataset in the user
cache (`~/.cache/bench_ssl/datasets/cifar10`), which is downloaded there on first use when the network allows.

So the design's main command runs as written on a fresh machine, and a cluster points every run at its copy
with one variable."""

from __future__ import annotations

import os

ENV = "BENCH_SSL_DATA"
DEFAULT_DATASET = "cifar10"  # what data.format: auto means when no root is given
DOWNLOADABLE = ("cifar10", "cifar100", "stl10")


def cache_home() -> str:
    return os.environ.get("BENCH_SSL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "bench_ssl")


def default_root(fmt: str = "auto") -> str:
    """The data.root used when none is given, for `data.format` fmt."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    return cache_folder(fmt)


def cache_folder(fmt: str = "auto") -> str:
    name = DEFAULT_DATASET if fmt in ("auto", "imagefolder") else fmt
    return os.path.join(cache_home(), "datasets", name)


def downloadable_default(root: str) -> str | None:
    """The dataset name when `root` is the user-cache folder of a downloadable dataset, else None."""
    name = os.path.basename(os.path.normpath(root))
    if name in DOWNLOADABLE and os.path.abspath(root) == os.path.abspath(cache_folder(name)):
        return name
    return None


def where_to_put(root: str, name: str) -> str:
    """The fix when the default data is missing and cannot be downloaded."""
    return (f"put a copy of {name} at {root} (torchvision's folder, an ImageFolder tree or a .tar.gz of one), "
            f"or set {ENV}=PATH, or pass --set data.root=PATH")
