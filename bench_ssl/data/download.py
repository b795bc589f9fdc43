"""Opt-in download (`data.download: true`) through torchvision, the only code that touches the network."""

from __future__ import annotations

import logging
import os
import socket

from bench_ssl.data.detect import FOLDERS
from bench_ssl.data.location import downloadable_default, where_to_put
from bench_ssl.errors import DatasetError

log = logging.getLogger("bench_ssl.data")


def fetch_if_needed(root: str, fmt: str, asked: bool) -> None:
    """Download when asked (`data.download`), or when `root` is the user-cache folder of a dataset and still
    empty: the default location is filled on first use (`location`)."""
    default = downloadable_default(root)
    if asked or (default and not os.path.exists(root)):
        download(root, fmt if fmt != "auto" or not default else default)


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
    socket.setdefaulttimeout(socket.getdefaulttimeout() or 60)  # a dead network answers within a minute
    try:
        if fmt == "stl10":
            datasets.STL10(parent, split="train", download=True)
        else:
            cls = datasets.CIFAR10 if fmt == "cifar10" else datasets.CIFAR100
            cls(parent, train=True, download=True)
    except Exception as e:  # URLError, checksum RuntimeError, OSError...
        _remove_partial(parent, fmt)
        reason = f"{type(e).__name__}: {getattr(e, 'reason', None) or e}"
        if downloadable_default(root):
            raise DatasetError(f"{fmt} is not in {root} and downloading it failed ({reason}); "
                               f"{where_to_put(root, fmt)}") from None
        raise DatasetError(
            f"{parent}: downloading {fmt} failed ({reason}); check the network, "
            f"or put torchvision's {FOLDERS[fmt]}/ there by hand"
        ) from None


def _remove_partial(parent: str, fmt: str) -> None:
    """A failed download leaves an empty (or partial) folder that would later read as 'the data is there'."""
    for path in (parent, os.path.join(parent, FOLDERS[fmt])):
        try:
            os.rmdir(path)  # only when empty: a partial archive is kept for torchvision to check and resume
        except OSError:
            pass
