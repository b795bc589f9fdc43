"""ImageFolder trees (`train/<class>/*.jpg`, `test|val/<class>/...`), as a folder or a tar archive.

Both sources are reduced to a list of relative paths first, so the layout rules (optional single
top-level folder in archives, class lists, empty classes) are written once. Files are ordered by
(class, path), which makes the decoded arrays identical on every machine.
"""

from __future__ import annotations

import os
import tarfile
import zlib

import numpy as np

from bench_ssl.data.arrays import Source, Splits
from bench_ssl.data.decode import decode_images
from bench_ssl.data.detect import LAYOUTS, TEST_SPLITS, is_tar
from bench_ssl.errors import DatasetError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
Tree = dict[str, dict[str, list[str]]]  # split -> class -> sorted relative paths


def scan(root: str, image_size: int | None = None) -> Source:
    """List the tree (no decoding yet): a tar is one file; a folder contributes every image file."""
    if os.path.isfile(root):
        if not is_tar(root):
            raise DatasetError(f"{root} is a file but not a .tar/.tar.gz/.tgz archive; {LAYOUTS}")
        return Source([root], lambda: _from_tar(root, image_size))
    files, dirs = _walk(root)
    tree, test = _tree(root, files, dirs)
    paths = _ordered(tree, test)[0]

    def read() -> Splits:
        blobs = {}
        for p in paths:
            with open(os.path.join(root, p), "rb") as f:
                blobs[p] = f.read()
        return _decode(root, tree, test, blobs, image_size)

    return Source([os.path.join(root, p) for p in paths], read)


def _walk(root: str) -> tuple[list[str], list[str]]:
    files, dirs = [], []
    for split in ("train", *TEST_SPLITS):
        for here, subdirs, names in os.walk(os.path.join(root, split), followlinks=True):  # as torchvision
            rel = os.path.relpath(here, root).replace(os.sep, "/")
            dirs += [f"{rel}/{d}" for d in subdirs]
            files += [f"{rel}/{n}" for n in names]
    return files, dirs


def _from_tar(path: str, image_size: int | None) -> Splits:
    """Read every image member's bytes in one sequential pass (gzip cannot seek cheaply)."""
    blobs, dirs, member = {}, [], "(archive header)"
    try:
        with tarfile.open(path, _tar_mode(path)) as tf:
            for info in tf:
                member = info.name
                name = info.name.removeprefix("./").strip("/")
                if info.isdir():
                    dirs.append(name)
                elif info.isfile() and name.lower().endswith(IMAGE_EXTS):
                    blobs[name] = tf.extractfile(info).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        why = " ".join(str(e).split())  # one line, whatever the library's message looks like
        raise DatasetError(
            f"{path}: corrupt or truncated archive at member '{member}' ({type(e).__name__}: {why}); "
            "re-create or re-copy it"
        ) from e
    tree, test = _tree(path, list(blobs), dirs)
    return _decode(path, tree, test, blobs, image_size)


_COMPRESSION = ((b"\x1f\x8b", "gz"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"))


def _tar_mode(path: str) -> str:
    """The compression the file's first bytes announce (not its name): one reader, so one clear error."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return "r:*"
    return next((f"r:{kind}" for magic, kind in _COMPRESSION if head.startswith(magic)), "r:")


def _tree(source: str, files: list[str], dirs: list[str]) -> tuple[Tree, str]:
    """Group paths by split and class; returns the tree and the name of the test split."""
    depth = _split_depth(source, files + dirs)
    tree: Tree = {}
    for path in dirs:
        parts = path.split("/")[depth:]
        if len(parts) == 2 and not _hidden(parts):
            tree.setdefault(parts[0], {}).setdefault(parts[1], [])
    for path in files:
        parts = path.split("/")[depth:]
        if len(parts) >= 3 and not _hidden(parts) and parts[-1].lower().endswith(IMAGE_EXTS):
            tree.setdefault(parts[0], {}).setdefault(parts[1], []).append(path)
    test = next((s for s in TEST_SPLITS if s in tree), None)
    if "train" not in tree or test is None:
        raise DatasetError(f"{source}: needs both train/<class>/ and test/<class>/ (or val/<class>/); {LAYOUTS}")
    prefix = "".join(p + "/" for p in (files + dirs)[0].split("/")[:depth])
    for split in ("train", test):
        for cls, paths in tree[split].items():
            if not paths:
                raise DatasetError(
                    f"{source}: class folder '{prefix}{split}/{cls}' has no images ({', '.join(IMAGE_EXTS)}); "
                    "add images or remove the folder"
                )
            paths.sort()
    train_classes, test_classes = set(tree["train"]), set(tree[test])
    if train_classes != test_classes:
        raise DatasetError(
            f"{source}: train/ and {test}/ have different class folders (only in train: "
            f"{sorted(train_classes - test_classes)}, only in {test}: {sorted(test_classes - train_classes)}); "
            "both splits need the same classes"
        )
    return tree, test


def _split_depth(source: str, paths: list[str]) -> int:
    """0 if `train/` is at the top, 1 if the whole tree sits under one top-level folder."""
    tops = {p.split("/")[0] for p in paths}
    if "train" in tops:
        return 0
    if len(tops) == 1 and any(p.split("/")[1:2] == ["train"] for p in paths):
        return 1
    raise DatasetError(
        f"{source}: no train/<class>/ images at the top level or under a single top-level folder; {LAYOUTS}"
    )


def _hidden(parts: list[str]) -> bool:
    return any(p.startswith(".") for p in parts)  # .DS_Store, ._x.jpg (macOS), .ipynb_checkpoints


def _ordered(tree: Tree, test: str) -> tuple[list[str], np.ndarray, int]:
    """All train then test paths in (class, path) order, their labels, and the number of train images."""
    classes = sorted(tree["train"])
    paths, labels = [], []
    for split in ("train", test):
        for i, cls in enumerate(classes):
            paths += tree[split][cls]
            labels += [i] * len(tree[split][cls])
    return paths, np.asarray(labels, dtype=np.int64), sum(len(v) for v in tree["train"].values())


def _decode(source: str, tree: Tree, test: str, blobs: dict[str, bytes], image_size: int | None) -> Splits:
    """Decode both splits in one pool (one start-up, one size check across train and test)."""
    paths, labels, n_train = _ordered(tree, test)
    x = decode_images([(p, blobs[p]) for p in paths], source, image_size)
    return Splits(x[:n_train], labels[:n_train], x[n_train:], labels[n_train:], sorted(tree["train"]))
