"""`load_arrays`: locate a dataset, then return it from the cache or decode it once and cache it."""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from bench_ssl.data import cache, cifar, imagefolder, stl10
from bench_ssl.data.arrays import ArrayDataset, Source, Splits, channel_stats
from bench_ssl.data.decode import resize_array
from bench_ssl.data.detect import FORMATS, detect_format, require_exists
from bench_ssl.data.fits import check_fits, first_image_hw, free_memory
from bench_ssl.data.download import fetch_if_needed
from bench_ssl.errors import DatasetError

log = logging.getLogger("bench_ssl.data")


def load_arrays(
    root: str,
    format: str = "auto",
    image_size: int | None = None,
    cache_dir: str | None = None,
    download: bool = False,
    stl10_unlabeled: bool = False,
    device=None,
) -> ArrayDataset:
    """Load a dataset as uint8 NHWC arrays (see `ArrayDataset`), decoding only on a cache miss.

    `image_size` resizes every image to image_size x image_size (shorter side, then centre crop);
    `stl10_unlabeled` appends STL-10's 100k unlabeled images to train_x with label -1. A folder tree that would
    not fit the memory of the host (or of `device`, a GPU) is refused before decoding (see `fits`).
    """
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    if format not in FORMATS:
        raise DatasetError(f"unknown data.format {format!r} for {root}; choose one of {', '.join(FORMATS)}")
    if image_size is not None and (type(image_size) is not int or image_size < 1):
        raise DatasetError(f"data.image_size must be a positive integer or null, got {image_size!r} (for {root})")
    fetch_if_needed(root, format, download)
    require_exists(root)
    fmt = detect_format(root) if format == "auto" else format
    unlabeled = bool(stl10_unlabeled) and fmt == "stl10"
    source = _scan(root, fmt, image_size, unlabeled)
    if fmt == "imagefolder" and os.path.isdir(root) and source.files:  # a tree of files: its size is known up front
        h, w = (image_size, image_size) if image_size else first_image_hw(source.files[0])
        check_fits(len(source.files), h, w, *free_memory(device), source=root)

    identity = dict(source=root, format=fmt, image_size=image_size, stl10_unlabeled=unlabeled, version=cache.VERSION)
    path = cache.cache_path(os.path.expanduser(cache_dir or cache.default_dir()), identity)
    source_fp = cache.fingerprint(source.files)
    cached = cache.load(path, identity, source_fp)
    if cached is not None:
        log.debug("loaded %s from cache %s", root, path)
        return cached

    log.info("decoding %s (first time, cached at %s)", root, path)
    start = time.perf_counter()
    splits = _check(root, source.read())
    if image_size is not None and fmt != "imagefolder":  # imagefolder resizes while decoding
        splits = splits._replace(
            train_x=resize_array(splits.train_x, image_size), test_x=resize_array(splits.test_x, image_size)
        )
    mean, std = channel_stats(splits.train_x)
    ds = ArrayDataset(*splits, mean=mean, std=std, source=root, format=fmt)
    cache.save(path, ds, identity, source_fp)
    seconds = time.perf_counter() - start
    log.info("decoded %s in %.1f s: %d train + %d test images", root, seconds, len(ds.train_x), len(ds.test_x))
    return ds


def _scan(root: str, fmt: str, image_size: int | None, unlabeled: bool) -> Source:
    if fmt in ("cifar10", "cifar100"):
        return cifar.scan(root, fmt)
    if fmt == "stl10":
        return stl10.scan(root, unlabeled)
    return imagefolder.scan(root, image_size)


def _check(root: str, s: Splits) -> Splits:
    """Catch corrupt label files before they become silent out-of-range targets in training."""
    n = len(s.classes)
    for x, y, lowest in ((s.train_x, s.train_y, -1), (s.test_x, s.test_y, 0)):
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3 or len(x) != len(y) or len(x) == 0:
            raise DatasetError(
                f"{root}: decoded {x.dtype} images of shape {x.shape} with {len(y)} labels; the files are corrupt"
            )
        if y.min() < lowest or y.max() >= n:
            raise DatasetError(
                f"{root}: labels range {y.min()}..{y.max()} but there are {n} class names; "
                "the files are corrupt, re-download them"
            )
    c = np.ascontiguousarray
    return Splits(c(s.train_x), c(s.train_y, np.int64), c(s.test_x), c(s.test_y, np.int64), list(s.classes))
