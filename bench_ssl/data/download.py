"""Opt-in download (`data.download: true`) through torchvision, the only code that touches the network."""

from __future__ import annotations

import logging
import os

from bench_ssl.data.detect import FOLDERS
from bench_ssl.errors import DatasetError

log = logging.getLogger("bench_ssl.data")


def download(root: str, fmt: str) -> None:
    """Fetch `fmt` into `root` (or into the parent when `root` already names the batch folder)."""
    if fmt not in FOLDERS:
        raise DatasetError(
            f"{root}: data.download works for an explicit data.format of {', '.join(FOLDERS)}, not {fmt!r}; "
            "set data.format, or place the files there yourself and set data.download=false"
        )
    parent = os.path.dirname(root) if os.path.basename(root) == FOLDERS[fmt] else root
    from torchvision import datasets  # imported here: loading local data must not need torchvision

    log.info("downloading %s into %s (skipped if already there and intact)", fmt, parent)
    try:
        if fmt == "stl10":
            datasets.STL10(parent, split="train", download=True)
        else:
            cls = datasets.CIFAR10 if fmt == "cifar10" else datasets.CIFAR100
            cls(parent, train=True, download=True)
    except Exception as e:  # URLError, checksum RuntimeError, OSError...
        raise DatasetError(
            f"{parent}: downloading {fmt} failed ({type(e).__name__}: {e}); check the network, "
            f"or put torchvision's {FOLDERS[fmt]}/ there by hand"
        ) from e
