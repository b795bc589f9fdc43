"""STL-10 from torchvision's `stl10_binary/` (raw uint8 files, images stored column-major)."""

from __future__ import annotations

import os

import numpy as np

from bench_ssl.data.arrays import Source, Splits
from bench_ssl.data.detect import locate
from bench_ssl.errors import DatasetError

SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE
CHUNK = 2048  # images converted at a time, so 100k unlabeled images never need two full copies


def scan(root: str, unlabeled: bool = False) -> Source:
    """Locate `stl10_binary/` and check the files this run reads (unlabeled_X.bin only if asked)."""
    folder = locate(root, "stl10")
    names = ["train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin", "class_names.txt"]
    names += ["unlabeled_X.bin"] if unlabeled else []
    for name in names:
        if not os.path.isfile(os.path.join(folder, name)):
            raise DatasetError(
                f"{folder}: missing STL-10 file '{name}' (torchvision's stl10_binary/ holds "
                f"{', '.join(names)}); re-download it, e.g. with data.download=true"
            )
    p = {n: os.path.join(folder, n) for n in names}

    def read() -> Splits:
        train_raw = _images(p["train_X.bin"])
        extra = _images(p["unlabeled_X.bin"]) if unlabeled else np.empty((0, 3, SIDE, SIDE), np.uint8)
        train_x = _to_nhwc([train_raw, extra])
        train_y = _labels(p["train_y.bin"], len(train_raw))
        train_y = np.concatenate([train_y, np.full(len(extra), -1, np.int64)])
        test_raw = _images(p["test_X.bin"])
        test_x = _to_nhwc([test_raw])
        test_y = _labels(p["test_y.bin"], len(test_raw))
        with open(p["class_names.txt"], encoding="utf-8") as f:
            classes = [line.strip() for line in f if line.strip()]
        return Splits(train_x, train_y, test_x, test_y, classes)

    return Source(list(p.values()), read)


def _images(path: str) -> np.ndarray:
    """Memory-map (N, 3, 96, 96) raw images; the last two axes are (x, y), not (y, x)."""
    size = os.path.getsize(path)
    if size == 0 or size % IMAGE_BYTES:
        raise DatasetError(
            f"{path}: {size} bytes is not a whole number of 3x96x96 images ({IMAGE_BYTES} bytes each); "
            "the file is truncated or corrupt, re-download it"
        )
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(size // IMAGE_BYTES, 3, SIDE, SIDE))


def _to_nhwc(parts: list[np.ndarray]) -> np.ndarray:
    """(N, C, x, y) column-major -> (N, y, x, C): torchvision's transpose(0,1,3,2), then to NHWC."""
    out = np.empty((sum(len(a) for a in parts), SIDE, SIDE, 3), dtype=np.uint8)
    start = 0
    for raw in parts:
        for i in range(0, len(raw), CHUNK):
            chunk = raw[i : i + CHUNK]
            out[start : start + len(chunk)] = chunk.transpose(0, 3, 2, 1)
            start += len(chunk)
    return out


def _labels(path: str, count: int) -> np.ndarray:
    """Labels are stored 1..10, one byte each; we use 0..9."""
    y = np.fromfile(path, dtype=np.uint8).astype(np.int64)
    if len(y) != count or (count and y.min() < 1):
        raise DatasetError(
            f"{path}: expected {count} labels in 1..10 (one byte each, matching the images file), "
            f"found {len(y)}; the file is truncated or corrupt, re-download it"
        )
    return y - 1
