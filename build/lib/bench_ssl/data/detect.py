"""Which on-disk layout a path holds, so `data.format: auto` just works on the common ones."""

from __future__ import annotations

import os

from bench_ssl.errors import DatasetError

FORMATS = ("auto", "cifar10", "cifar100", "stl10", "imagefolder")

# Folder names torchvision's downloaders create, per format, and a file that marks a renamed one.
FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python", "stl10": "stl10_binary"}
MARKERS = {"cifar10": "batches.meta", "cifar100": "meta", "stl10": "train_X.bin"}
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
TEST_SPLITS = ("test", "val")

LAYOUTS = (
    "accepted layouts: cifar-10-batches-py/ (cifar10), cifar-100-python/ (cifar100), "
    "stl10_binary/ (stl10) - the folder itself (even renamed) or its parent -, a folder with train/<class>/ and "
    "test/<class>/ (or val/<class>/) image subfolders, or a .tar/.tar.gz/.tgz of one (imagefolder)"
)


def is_tar(path: str) -> bool:
    return path.lower().endswith(TAR_SUFFIXES)


def require_exists(root: str) -> None:
    if not os.path.exists(root):
        raise DatasetError(f"dataset path {root} does not exist; set data.root to an existing path; {LAYOUTS}")


def locate(root: str, fmt: str) -> str:
    """The torchvision folder of `fmt`: `root` itself (by name or marker file), else `root/<name>`."""
    name = FOLDERS[fmt]
    if _is_folder_of(root, fmt):
        return root
    inner = os.path.join(root, name)
    if os.path.isdir(inner):
        return inner
    raise DatasetError(f"{root}: no {name}/ folder (format {fmt}); point data.root at {name}/ or its parent")


def detect_format(root: str) -> str:
    """Resolve `auto` to a concrete format name from what is at `root` (DatasetError if unsure)."""
    root = os.path.abspath(os.path.expanduser(root))
    require_exists(root)
    if os.path.isfile(root):
        if is_tar(root):
            return "imagefolder"
        raise DatasetError(f"{root} is a file but not a .tar/.tar.gz/.tgz archive; {LAYOUTS}")
    found = [f for f, name in FOLDERS.items() if _is_folder_of(root, f) or os.path.isdir(os.path.join(root, name))]
    if os.path.isdir(os.path.join(root, "train")) and any(
        os.path.isdir(os.path.join(root, s)) for s in TEST_SPLITS
    ):
        found.append("imagefolder")
    if len(found) == 1:
        return found[0]
    if found:
        raise DatasetError(f"{root} holds several datasets ({', '.join(found)}); set data.format to one")
    raise DatasetError(f"{root}: no recognisable dataset layout; {LAYOUTS}")


def _is_folder_of(path: str, fmt: str) -> bool:
    return os.path.basename(os.path.normpath(path)) == FOLDERS[fmt] or os.path.isfile(os.path.join(path, MARKERS[fmt]))
