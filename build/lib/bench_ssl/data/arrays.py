"""The in-memory dataset every method trains on: plain uint8 NHWC arrays plus their statistics.

Keeping data as one contiguous uint8 array (not a torch Dataset of files) lets the GPU
augmentation pipeline index whole batches at once and move 4x fewer bytes than float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np


class Splits(NamedTuple):
    """What a format reader produces: decoded images and labels, before stats and caching."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list[str]


@dataclass
class ArrayDataset:
    """A decoded image-classification dataset held in memory.

    `train_x`/`test_x` are (N, H, W, 3) uint8 C-contiguous arrays: NHWC is exactly the
    channels_last memory layout once viewed as NCHW, so no copy is needed on the GPU side.
    Labels are int64; -1 marks unlabeled training images (STL-10 `unlabeled`, pretraining only).
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list[str]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str
    format: str

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of every image."""
        return int(self.train_x.shape[1]), int(self.train_x.shape[2])

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def channel_stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean/std of uint8 NHWC images in [0,1] units.

    Integer sums in chunks: exact, and the memory stays bounded even for STL-10's 100k
    unlabeled 96x96 images (which would need ~23 GB as one float64 array).
    """
    pixels_per_image = max(1, x.shape[1] * x.shape[2]) if x.ndim == 4 else 1
    chunk = max(1, (1 << 21) // pixels_per_image)  # ~2M pixels (48 MB of int64) at a time
    total = np.zeros(3, dtype=np.int64)
    total_sq = np.zeros(3, dtype=np.int64)
    for i in range(0, len(x), chunk):
        px = x[i : i + chunk].reshape(-1, 3).astype(np.int64)
        total += px.sum(axis=0)
        total_sq += np.einsum("ij,ij->j", px, px)
    count = max(1, x.shape[0] * x.shape[1] * x.shape[2])
    mean = total / count
    var = np.maximum(total_sq / count - mean**2, 0.0)
    mean01 = tuple(float(v) for v in mean / 255.0)
    std01 = tuple(float(v) for v in np.sqrt(var) / 255.0)
    return mean01, std01


class Source(NamedTuple):
    """A located dataset: the files it will read (their stats key the cache) and how to decode them."""

    files: list[str]
    read: Callable[[], Splits]
