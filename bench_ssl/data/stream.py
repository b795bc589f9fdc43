"""Datasets larger than memory (`data.storage: stream`): an ImageFolder tree read file by file, as batches need it.

The tree is a folder, an uncompressed .tar of one, or a folder of .tar shards that together hold one (members
`train/<class>/x.jpg`, any split across the shards). Only the list of files is kept: each batch is read and
decoded (Pillow, resized exactly as `memory` storage decodes, so the pixels are the same) in DataLoader worker
processes into a uint8 batch, which then goes through the same on-device augmentations as data held in memory.
A file that does not decode stops the run with its name (`data.on_corrupt: error`) or is replaced by another
image of its batch and counted (`skip`).
"""

from __future__ import annotations

import logging
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import DatasetError
from .decode import _decode_one, _default_signals, worker_count
from .detect import is_tar
from .imagefolder import _ordered, _tree, _walk

log = logging.getLogger("bench_ssl.data")
STATS_SAMPLE = 2000  # train images, evenly spaced, whose pixels give the channel statistics


@dataclass
class Files:
    """Where each image of the tree is: a path under `root`, or (shard, offset, size) inside a tar."""

    source: str
    names: list[str]  # relative paths, in (split, class, path) order: what errors name
    paths: list[str] | None = None
    spans: list[tuple[str, int, int]] | None = None

    def read(self, i: int) -> bytes:
        if self.paths is not None:
            with open(self.paths[i], "rb") as f:
                return f.read()
        shard, offset, size = self.spans[i]
        with open(shard, "rb") as f:
            f.seek(offset)
            return f.read(size)


def scan_stream(root: str) -> tuple[Files, np.ndarray, int, list[str]]:
    """(files of train then test, their labels, the number of train images, the classes) of a tree."""
    root = os.path.abspath(os.path.expanduser(root))
    if os.path.isfile(root):
        shards = [root]
    else:
        shards = sorted(os.path.join(root, n) for n in os.listdir(root) if is_tar(n))
        if not shards or os.path.isdir(os.path.join(root, "train")):
            files, dirs = _walk(root)
            tree, test = _tree(root, files, dirs)
            names, labels, n_train = _ordered(tree, test)
            return Files(root, names, paths=[os.path.join(root, n) for n in names]), labels, n_train, sorted(tree["train"])
    spans, dirs = {}, []
    for shard in shards:
        spans.update(_members(shard, dirs))
    tree, test = _tree(root, list(spans), dirs)
    names, labels, n_train = _ordered(tree, test)
    return Files(root, names, spans=[spans[n] for n in names]), labels, n_train, sorted(tree["train"])


def _members(shard: str, dirs: list[str]) -> dict[str, tuple[str, int, int]]:
    """name -> (shard, offset, size) of every image member: one pass over the headers, no data read."""
    with open(shard, "rb") as f:
        head = f.read(6)
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ")):
        raise DatasetError(
            f"{shard} is compressed, and data.storage=stream reads images one at a time, which a compressed archive "
            f"cannot do; extract it (tar -xf {os.path.basename(shard)}) or re-create it uncompressed (tar -cf), or "
            "use data.storage=memory")
    out = {}
    try:
        with tarfile.open(shard, "r:") as tf:
            for info in tf:
                name = info.name.removeprefix("./").strip("/")
                if info.isdir():
                    dirs.append(name)
                elif info.isfile():
                    out[name] = (shard, info.offset_data, info.size)
    except (tarfile.TarError, OSError) as exc:
        raise DatasetError(f"{shard}: not a readable tar archive ({type(exc).__name__}: {exc}); re-create or re-copy "
                           "it") from None
    return out


@dataclass
class StreamedImages:
    """One split's images, indexed like the (N, 3, S, S) uint8 tensor that `memory` storage holds: `x[idx]` reads
    and decodes those files now (threads), `batches(...)` reads a list of batches ahead in worker processes."""

    files: Files
    rows: np.ndarray  # this split's rows in `files` (after any class or per-class selection)
    image_size: int | None  # data.image_size: what decoding resizes to (None: as stored)
    hw: tuple[int, int]  # (H, W) of every decoded image
    device: torch.device
    on_corrupt: str = "error"
    workers: int = 0
    skipped: list[str] = field(default_factory=list)  # names replaced since the last `take_skipped`
    dtype = torch.uint8

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.rows), 3, *self.hw))

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, idx) -> StreamedImages:
        return StreamedImages(self.files, self.rows[np.asarray(idx)], self.image_size, self.hw, self.device,
                              self.on_corrupt, self.workers)

    def __getitem__(self, idx) -> torch.Tensor:
        rows = self.rows[_as_index(idx, len(self.rows))]
        with ThreadPoolExecutor(max(1, min(worker_count(), 16))) as pool:  # Pillow decodes without the GIL
            batch, bad = decode_batch(self.files, rows, self.image_size, self.hw, self.on_corrupt, pool)
        return self._on_device(batch, bad)

    def batches(self, index_batches: list, pin: bool = False):
        """The uint8 batches of `index_batches` (row indices of this split), in order, decoded ahead in workers."""
        dataset = _Batches(self.files, [self.rows[_as_index(i, len(self.rows))] for i in index_batches],
                           self.image_size, self.hw, self.on_corrupt)
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False, num_workers=self.workers,
                                             pin_memory=pin, prefetch_factor=4 if self.workers else None,
                                             worker_init_fn=_worker_init if self.workers else None)
        for batch, bad in loader:
            yield self._on_device(batch, bad)

    def _on_device(self, batch, bad: list[str]) -> torch.Tensor:
        self.skipped += bad
        x = torch.as_tensor(batch)
        return x.to(self.device, non_blocking=True).permute(0, 3, 1, 2)  # NHWC memory: channels_last, as in memory

    def take_skipped(self) -> list[str]:
        out, self.skipped = self.skipped, []
        return out


def _as_index(idx, n: int) -> np.ndarray:
    if isinstance(idx, slice):
        return np.arange(n)[idx]
    if isinstance(idx, torch.Tensor):
        idx = idx.cpu()
        return idx.nonzero().flatten().numpy() if idx.dtype == torch.bool else idx.numpy()
    return np.asarray(idx)


class _Batches(torch.utils.data.Dataset):
    def __init__(self, files: Files, batches: list[np.ndarray], image_size: int | None, hw: tuple[int, int],
                 on_corrupt: str):
        self.files, self.batches, self.image_size, self.hw, self.on_corrupt = files, batches, image_size, hw, on_corrupt

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int):
        return decode_batch(self.files, self.batches[k], self.image_size, self.hw, self.on_corrupt)


def decode_batch(files: Files, rows: np.ndarray, image_size: int | None, hw: tuple[int, int], on_corrupt: str,
                 pool=None) -> tuple[np.ndarray, list[str]]:
    """(B, H, W, 3) uint8 and the names replaced: each unreadable image by the batch's nearest readable one."""
    def one(i):
        name = files.names[i]
        try:
            img = _decode_one(name, files.read(i), files.source, image_size)
        except (DatasetError, OSError) as exc:
            return exc
        if img.shape[:2] != hw:
            return DatasetError(f"{files.source}: images have different sizes ('{files.names[0]}' is {hw[1]}x{hw[0]}, "
                                f"'{name}' is {img.shape[1]}x{img.shape[0]}); set data.image_size to resize them all")
        return img

    images = list(pool.map(one, rows)) if pool is not None else [one(i) for i in rows]
    bad = [k for k, img in enumerate(images) if isinstance(img, Exception)]
    if bad and (on_corrupt == "error" or len(bad) == len(images)):
        exc = images[bad[0]]
        detail = str(exc) if isinstance(exc, DatasetError) else f"{files.source}: cannot read '{files.names[rows[bad[0]]]}' ({exc})"
        raise DatasetError(detail + ("; or set data.on_corrupt=skip to replace unreadable images and count them"
                                     if on_corrupt == "error" else "; every image of a batch was unreadable"))
    good = [k for k in range(len(images)) if k not in bad]
    for k in bad:
        images[k] = images[min(good, key=lambda g: abs(g - k))]
    return np.stack(images), [files.names[rows[k]] for k in bad]


def _worker_init(worker_id: int) -> None:
    _default_signals()  # stop signals are the training process's: it checkpoints, then ends the workers


def image_hw(files: Files, image_size: int | None) -> tuple[int, int]:
    """(H, W) of every decoded image: data.image_size, else the first image's, which all must share."""
    if image_size is not None:
        return image_size, image_size
    img = _decode_one(files.names[0], files.read(0), files.source, None)
    return int(img.shape[0]), int(img.shape[1])


def sample_stats(files: Files, train_rows: np.ndarray, image_size: int | None, hw: tuple[int, int], on_corrupt: str):
    """Channel mean and std (in [0, 1]) of up to STATS_SAMPLE evenly spaced train images (exact for fewer)."""
    from .arrays import channel_stats

    take = train_rows[np.linspace(0, len(train_rows) - 1, min(STATS_SAMPLE, len(train_rows))).round().astype(int)]
    with ThreadPoolExecutor(max(1, min(worker_count(), 16))) as pool:
        images, _ = decode_batch(files, np.unique(take), image_size, hw, on_corrupt, pool)
    return channel_stats(images)
