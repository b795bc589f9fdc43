"""CIFAR-10/100 from torchvision's python-pickle batches (`cifar-10-batches-py/`, `cifar-100-python/`)."""

from __future__ import annotations

import os
import pickle

import numpy as np

from bench_ssl.data.arrays import Source, Splits
from bench_ssl.data.detect import FOLDERS, locate
from bench_ssl.errors import DatasetError

# Per format: train files, test files, meta file, label key in the batches, class-name key in meta.
LAYOUT = {
    "cifar10": (
        [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "batches.meta", b"labels", b"label_names"
    ),
    "cifar100": (["train"], ["test"], "meta", b"fine_labels", b"fine_label_names"),
}


def scan(root: str, fmt: str) -> Source:
    """Locate the batch folder and check every file is there before anything is decoded."""
    folder = locate(root, fmt)
    train, test, meta, label_key, names_key = LAYOUT[fmt]
    names = [*train, *test, meta]
    for name in names:
        if not os.path.isfile(os.path.join(folder, name)):
            raise DatasetError(
                f"{folder}: missing {fmt} file '{name}' (torchvision's {FOLDERS[fmt]}/ holds "
                f"{', '.join(names)}); re-download it, e.g. with data.download=true"
            )
    paths = {n: os.path.join(folder, n) for n in names}

    def read() -> Splits:
        train_x, train_y = _read_batches([paths[n] for n in train], label_key)
        test_x, test_y = _read_batches([paths[n] for n in test], label_key)
        classes = [_text(c) for c in _field(_unpickle(paths[meta]), names_key, paths[meta])]
        return Splits(train_x, train_y, test_x, test_y, classes)

    return Source(list(paths.values()), read)


class _BatchUnpickler(pickle.Unpickler):
    """The batches are Python-2 pickles of dicts, lists, bytes and numpy arrays: nothing else may be loaded, so
    a planted file cannot run code (torchvision trusts the file; datasets live on shared disks too)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR batch never does (refused: "
                                         "loading it could run code)")
        return super().find_class(module, name)


def _unpickle(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _BatchUnpickler(f, encoding="bytes").load()
    except Exception as e:  # UnpicklingError, EOFError, ValueError, ... all mean "not a valid batch"
        why = " ".join(str(e).split())
        raise DatasetError(
            f"{path}: corrupt or truncated CIFAR batch ({type(e).__name__}: {why}); delete and re-download it"
        ) from e
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: not a CIFAR batch (a pickled {type(obj).__name__}, not a dict); re-download it")
    return obj


def _field(obj: dict, key: bytes, path: str):
    for k in (key, key.decode()):
        if k in obj:
            return obj[k]
    raise DatasetError(f"{path}: no '{key.decode()}' entry, so not an intact CIFAR batch; re-download it")


def _text(name) -> str:
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)


def _read_batches(paths: list[str], label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Rows are 3072 bytes, channel-major (R plane, G plane, B plane, each 32x32 row-major)."""
    xs, ys = [], []
    for path in paths:
        batch = _unpickle(path)
        data = np.asarray(_field(batch, b"data", path))
        labels = np.asarray(_field(batch, label_key, path)).astype(np.int64)
        if data.dtype != np.uint8 or data.shape[1:] != (3 * 32 * 32,) or labels.shape != (len(data),):
            raise DatasetError(
                f"{path}: expected uint8 data of shape (N, 3072) and N labels, got {data.dtype} "
                f"{data.shape} and {labels.size} labels; the file is corrupt, re-download it"
            )
        xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(labels)
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)
