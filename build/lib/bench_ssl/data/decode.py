"""Decode encoded images (JPEG/PNG/...) into one uint8 NHWC array, in parallel, in a fixed order.

Decoding is the only slow step of a first load (~10-17 s per core for CIFAR-10 as JPEGs), so
it is spread over a process pool (one worker per usable CPU); results come back in input order,
so the array is identical whatever the number of workers.

Resizing (`image_size`): the shorter side is resized to `image_size` and the centre is cropped to
a square (bilinear, antialiased; Pillow's `ImageOps.fit`), so aspect ratios are never distorted.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import signal
import sys
import warnings

import numpy as np
from PIL import Image, ImageOps

from bench_ssl.errors import DatasetError

SERIAL_BELOW = 1024  # fewer images than this: a pool costs more than it saves
RESAMPLE = getattr(Image, "Resampling", Image).BILINEAR  # Pillow < 9.1 has no Resampling enum
log = logging.getLogger("bench_ssl.data")


def worker_count() -> int:
    """CPUs this process may use (respects affinity/cgroup pinning where the OS tells us)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def decode_images(items: list[tuple[str, bytes]], source: str, image_size: int | None) -> np.ndarray:
    """Decode (name, encoded bytes) pairs to an (N, H, W, 3) uint8 array in the same order.

    Without `image_size` all images must share one size; otherwise DatasetError asks for it.
    """
    workers = min(worker_count(), max(1, len(items) // SERIAL_BELOW))
    chunk = max(1, -(-len(items) // (workers * 8)))
    jobs = [(items[i : i + chunk], source, image_size) for i in range(0, len(items), chunk)]
    parts = _map_parallel(jobs, workers) if workers > 1 else None
    if parts is None:
        parts = [_decode_chunk(job) for job in jobs]
    return _stack(parts, jobs, source)


def _map_parallel(jobs: list, workers: int) -> list[np.ndarray] | None:
    """Pool map, or None when no pool can start (e.g. no /dev/shm in some sandboxes).

    Linux uses fork, like torch's DataLoader: it works from scripts without an
    `if __name__ == "__main__"` guard (spawn/forkserver re-import the main script in every
    worker), and the workers only run Pillow and numpy, never torch/CUDA state of the parent.
    """
    methods = multiprocessing.get_all_start_methods()
    use_fork = sys.platform.startswith("linux") and "fork" in methods
    ctx = multiprocessing.get_context("fork" if use_fork else None)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            pool = ctx.Pool(workers, initializer=_default_signals)
    except OSError as e:
        log.warning("cannot start %d decoding processes (%s); decoding in this process", workers, e)
        return None
    with pool:
        return pool.map(_decode_chunk, jobs, chunksize=1)


def _default_signals() -> None:
    """Forked workers inherit the parent's Python signal handlers (a run turns SIGTERM into "checkpoint at
    the next step"), which would make them ignore the SIGTERM that Pool.terminate sends: restore defaults."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def resize_array(x: np.ndarray, image_size: int) -> np.ndarray:
    """Resize already-decoded NHWC images (CIFAR/STL with `data.image_size`), same method as files."""
    if x.shape[1:3] == (image_size, image_size):
        return x
    out = np.empty((len(x), image_size, image_size, 3), dtype=np.uint8)
    for i, img in enumerate(x):
        out[i] = np.asarray(_fit(Image.fromarray(img), image_size))
    return out


def _fit(img: Image.Image, size: int) -> Image.Image:
    if img.size == (size, size):
        return img
    return ImageOps.fit(img, (size, size), method=RESAMPLE)


def _decode_one(name: str, data: bytes, source: str, image_size: int | None) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            if image_size is not None:
                img.draft("RGB", (image_size, image_size))  # JPEG DCT downscaling, never below target
            rgb = img.convert("RGB")
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, ... for bad files
        raise DatasetError(f"{source}: cannot decode image '{name}' ({e}); delete or replace that file") from e
    if image_size is not None:
        rgb = _fit(rgb, image_size)
    return np.asarray(rgb, dtype=np.uint8)


def _decode_chunk(job: tuple[list[tuple[str, bytes]], str, int | None]) -> np.ndarray:
    items, source, image_size = job
    images = [_decode_one(name, data, source, image_size) for name, data in items]
    _check_same_size(images, items, source)
    return np.stack(images)


def _check_same_size(images: list[np.ndarray], items: list[tuple[str, bytes]], source: str) -> None:
    first = images[0].shape
    for img, (name, _) in zip(images, items):
        if img.shape != first:
            raise DatasetError(
                f"{source}: images have different sizes ('{items[0][0]}' is {first[1]}x{first[0]}, "
                f"'{name}' is {img.shape[1]}x{img.shape[0]}); set data.image_size to resize them all"
            )


def _stack(parts: list[np.ndarray], jobs: list, source: str) -> np.ndarray:
    firsts = [p[0] for p in parts]
    _check_same_size(firsts, [job[0][0] for job in jobs], source)
    return np.concatenate(parts) if len(parts) > 1 else np.ascontiguousarray(parts[0])
