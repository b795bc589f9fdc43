"""bench_ssl.data: the real CIFAR-10 JPEG tarball, byte-exact fakes of every on-disk format, errors, cache."""

from __future__ import annotations

import logging
import os
import pickle
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench_ssl.data import FORMATS, ArrayDataset, class_balanced_subset, detect_format, load_arrays
from bench_ssl.errors import DatasetError

from conftest import CIFAR_TAR as CIFAR_JPG  # noqa: E402
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# ---------------------------------------------------------------- the real CIFAR-10 JPEG tarball


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    """The session cache from conftest.py when there is one (one decode for the whole suite)."""
    return os.environ.get("BENCH_SSL_CACHE") or str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def cifar_jpg(cifar_tar, cache_dir) -> tuple[ArrayDataset, float]:
    """Decoded once for the whole module (the slow part of this file), with its decode time."""
    start = time.perf_counter()
    ds = load_arrays(str(CIFAR_JPG), cache_dir=cache_dir)
    return ds, time.perf_counter() - start


def test_real_tarball_contents(cifar_jpg):
    ds, seconds = cifar_jpg
    print(f"first load of {CIFAR_JPG.name} in this module: {seconds:.1f} s")
    assert ds.format == "imagefolder" and ds.source == str(CIFAR_JPG)
    assert ds.train_x.shape == (50000, 32, 32, 3) and ds.test_x.shape == (10000, 32, 32, 3)
    for x in (ds.train_x, ds.test_x):
        assert x.dtype == np.uint8 and x.flags["C_CONTIGUOUS"]
    assert ds.train_y.dtype == np.int64 and ds.test_y.dtype == np.int64
    assert ds.classes == CIFAR_CLASSES
    assert np.bincount(ds.train_y).tolist() == [5000] * 10
    assert np.bincount(ds.test_y).tolist() == [1000] * 10
    np.testing.assert_allclose(ds.mean, (0.4913, 0.4821, 0.4465), atol=2e-4)
    np.testing.assert_allclose(ds.std, (0.2452, 0.2428, 0.2606), atol=2e-4)


def test_real_tarball_second_load_comes_from_cache(cifar_jpg, cache_dir, monkeypatch):
    ds, _ = cifar_jpg
    import bench_ssl.data.imagefolder as imagefolder

    monkeypatch.setattr(imagefolder, "_from_tar", lambda *a: pytest.fail("decoded again, cache not used"))
    start = time.perf_counter()
    again = load_arrays(str(CIFAR_JPG), cache_dir=cache_dir)
    seconds = time.perf_counter() - start
    print(f"cached load: {seconds:.2f} s")  # the patched decoder proves the cache was read; no clock is asserted
    assert np.array_equal(again.train_x, ds.train_x) and np.array_equal(again.test_y, ds.test_y)
    assert again.classes == ds.classes and again.mean == ds.mean and again.std == ds.std
    assert again.train_x.flags["C_CONTIGUOUS"] and again.train_x.flags["WRITEABLE"]


# ---------------------------------------------------------------- fakes in the exact on-disk formats


def pattern(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """(n, h, w, 3) uint8 images with no symmetry, so any flip/transpose/channel swap shows."""
    n_, y, x, c = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((7 * y + 3 * x + 85 * c + 31 * n_ + seed) % 256).astype(np.uint8)


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """CIFAR row layout, written from its definition: R plane, G plane, B plane, each row-major."""
    rows = np.zeros((len(images), 3072), np.uint8)
    for i, img in enumerate(images):
        for c in range(3):
            for y in range(32):
                rows[i, c * 1024 + y * 32 : c * 1024 + y * 32 + 32] = img[y, :, c]
    return rows


def dump(path: Path, obj) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))


def write_cifar10(parent: Path, key=str) -> tuple[np.ndarray, np.ndarray]:
    """6 batches of 2 images; returns the NHWC train images and labels that were written."""
    folder = parent / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    images, labels = pattern(12, 32, 32), np.arange(12) % 10
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for b, name in enumerate(names):
        sl = slice(2 * b, 2 * b + 2)
        dump(folder / name, {key("data"): cifar_rows(images[sl]), key("labels"): labels[sl].tolist()})
    dump(folder / "batches.meta", {key("label_names"): [key(c) for c in CIFAR_CLASSES]})
    return images, labels


def write_stl10(parent: Path, n_train: int = 3, n_test: int = 2, n_unlabeled: int = 2) -> dict:
    """STL-10 binaries from their definition: raw[n, c, x, y] (column-major images), labels 1..10."""
    folder = parent / "stl10_binary"
    folder.mkdir(parents=True)
    out = {}
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1), ("unlabeled", n_unlabeled, 2)):
        images = pattern(n, 96, 96, seed)  # (n, y, x, c)
        images.transpose(0, 3, 2, 1).tofile(folder / f"{split}_X.bin")  # -> (n, c, x, y)
        out[split] = images
        if split != "unlabeled":
            labels = (np.arange(n) + 3) % 10
            (labels + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")
            out[f"{split}_y"] = labels
    (folder / "class_names.txt").write_text("\n".join(CIFAR_CLASSES) + "\n")
    return out


def write_imagefolder(root: Path, test_split: str = "test", sizes=None, classes=("cat", "dog")) -> dict:
    """PNG tree train/<class>/, <test_split>/<class>/; returns {relative path: HWC array}."""
    sizes = sizes or {}
    written = {}
    for split, n in (("train", 3), (test_split, 2)):
        for ci, cls in enumerate(classes):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                rel = f"{split}/{cls}/{i:02d}.png"
                h, w = sizes.get(rel, (6, 8))
                img = pattern(1, h, w, seed=10 * ci + i + (50 if split != "train" else 0))[0]
                Image.fromarray(img).save(root / rel)
                written[rel] = img
    return written


def make_tar(src: Path, dest: Path, top: str | None = "mydata") -> Path:
    with tarfile.open(dest, "w:gz" if dest.name.endswith("gz") else "w") as tf:
        tf.add(src, arcname=top or ".")
    return dest


# ---------------------------------------------------------------- CIFAR-10 / CIFAR-100


@pytest.mark.parametrize("key", [str, str.encode], ids=["str-keys", "bytes-keys"])
def test_cifar10_pixels_labels_classes(tmp_path, key):
    images, labels = write_cifar10(tmp_path, key)
    for root in (tmp_path, tmp_path / "cifar-10-batches-py"):  # the parent or the folder itself
        ds = load_arrays(str(root), cache_dir=str(tmp_path / "cache"))
        assert ds.format == "cifar10" and ds.classes == CIFAR_CLASSES
        assert ds.train_x.shape == (10, 32, 32, 3) and ds.train_x.flags["C_CONTIGUOUS"]
        assert np.array_equal(ds.train_x, images[:10]) and np.array_equal(ds.test_x, images[10:])
        assert ds.train_y.tolist() == labels[:10].tolist() and ds.test_y.dtype == np.int64
    renamed = (tmp_path / "cifar-10-batches-py").rename(tmp_path / "my-cifar")  # found by batches.meta
    assert detect_format(str(renamed)) == "cifar10"
    assert np.array_equal(load_arrays(str(renamed), cache_dir=str(tmp_path / "cache")).test_x, images[10:])


def test_cifar10_orientation_from_the_format_definition(tmp_path):
    write_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    row = np.zeros((1, 3072), np.uint8)
    row[0, 0 * 1024 + 0 * 32 + 5] = 200  # red, first row (y=0), x=5
    row[0, 1 * 1024 + 3 * 32 + 0] = 100  # green, y=3, x=0
    dump(folder / "test_batch", {"data": row, "labels": [4]})
    x = load_arrays(str(tmp_path), "cifar10", cache_dir=str(tmp_path / "cache")).test_x[0]
    assert x[0, 5, 0] == 200 and x[3, 0, 1] == 100 and int(x.sum()) == 300


def test_cifar_matches_torchvision_reader(tmp_path, monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    from torchvision.datasets import cifar

    write_cifar10(tmp_path)
    monkeypatch.setattr(cifar, "check_integrity", lambda *a, **k: True)  # fakes have no real md5
    tv = torchvision.datasets.CIFAR10(str(tmp_path), train=True)
    ds = load_arrays(str(tmp_path), cache_dir=str(tmp_path / "cache"))
    assert np.array_equal(ds.train_x, tv.data) and ds.classes == tv.classes


def test_cifar100(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    images = pattern(5, 32, 32)
    dump(folder / "train", {b"data": cifar_rows(images[:3]), b"fine_labels": [2, 0, 99], b"coarse_labels": [0] * 3})
    dump(folder / "test", {b"data": cifar_rows(images[3:]), b"fine_labels": [1, 1], b"coarse_labels": [0, 0]})
    names = [f"class{i:02d}".encode() for i in range(100)]
    dump(folder / "meta", {b"fine_label_names": names, b"coarse_label_names": [b"a", b"b"]})
    assert detect_format(str(tmp_path)) == "cifar100"
    ds = load_arrays(str(folder), cache_dir=str(tmp_path / "cache"))
    assert ds.format == "cifar100" and len(ds.classes) == 100 and ds.classes[99] == "class99"
    assert np.array_equal(ds.train_x, images[:3]) and ds.train_y.tolist() == [2, 0, 99]


def test_resize_applies_to_array_formats(tmp_path):
    write_cifar10(tmp_path)
    ds = load_arrays(str(tmp_path), image_size=16, cache_dir=str(tmp_path / "cache"))
    assert ds.train_x.shape == (10, 16, 16, 3) and ds.test_x.shape == (2, 16, 16, 3)


# ---------------------------------------------------------------- STL-10


def test_stl10_orientation_labels_and_unlabeled(tmp_path):
    written = write_stl10(tmp_path)
    cache = str(tmp_path / "cache")
    ds = load_arrays(str(tmp_path), cache_dir=cache)
    assert ds.format == "stl10" and ds.classes == CIFAR_CLASSES
    assert np.array_equal(ds.train_x, written["train"]) and np.array_equal(ds.test_x, written["test"])
    assert ds.train_y.tolist() == written["train_y"].tolist() and ds.test_y.tolist() == [3, 4]

    with_unlabeled = load_arrays(str(tmp_path / "stl10_binary"), cache_dir=cache, stl10_unlabeled=True)
    assert with_unlabeled.train_x.shape == (5, 96, 96, 3)
    assert np.array_equal(with_unlabeled.train_x[3:], written["unlabeled"])
    assert with_unlabeled.train_y.tolist() == [3, 4, 5, -1, -1]


def test_stl10_single_pixels_and_torchvision(tmp_path, monkeypatch):
    write_stl10(tmp_path, n_train=1)
    raw = np.zeros((1, 3, 96, 96), np.uint8)  # (n, c, x, y) as stored
    raw[0, 0, 5, 0] = 200  # red at x=5, y=0
    raw[0, 1, 0, 3] = 100  # green at x=0, y=3
    raw.tofile(tmp_path / "stl10_binary" / "train_X.bin")
    x = load_arrays(str(tmp_path), "stl10", cache_dir=str(tmp_path / "cache")).train_x[0]
    assert x[0, 5, 0] == 200 and x[3, 0, 1] == 100 and int(x.sum()) == 300

    torchvision = pytest.importorskip("torchvision")
    monkeypatch.setattr(torchvision.datasets.STL10, "_check_integrity", lambda self: True)
    img, label = torchvision.datasets.STL10(str(tmp_path), split="train")[0]
    assert np.array_equal(np.asarray(img), x) and label == 3


# ---------------------------------------------------------------- ImageFolder


def test_imagefolder_directory(tmp_path):
    written = write_imagefolder(tmp_path / "data", test_split="val")
    (tmp_path / "data" / "train" / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "data" / "train" / "cat" / ".DS_Store").write_bytes(b"\0")
    ds = load_arrays(str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"))
    assert ds.format == "imagefolder" and ds.classes == ["cat", "dog"]
    assert ds.train_x.shape == (6, 6, 8, 3) and ds.test_x.shape == (4, 6, 8, 3)
    assert ds.train_y.tolist() == [0, 0, 0, 1, 1, 1] and ds.test_y.tolist() == [0, 0, 1, 1]
    assert np.array_equal(ds.train_x[4], written["train/dog/01.png"])
    assert np.array_equal(ds.test_x[0], written["val/cat/00.png"])


def test_imagefolder_tar_matches_directory(tmp_path):
    write_imagefolder(tmp_path / "data")
    cache = str(tmp_path / "cache")
    folder = load_arrays(str(tmp_path / "data"), cache_dir=cache)
    tars = make_tar(tmp_path / "data", tmp_path / "d.tar"), make_tar(tmp_path / "data", tmp_path / "d.tgz", top=None)
    for tar in tars:
        assert detect_format(str(tar)) == "imagefolder"
        ds = load_arrays(str(tar), cache_dir=cache)
        assert ds.classes == folder.classes and ds.source == str(tar)
        assert np.array_equal(ds.train_x, folder.train_x) and np.array_equal(ds.test_y, folder.test_y)


def test_imagefolder_sizes_resize_and_modes(tmp_path):
    root = tmp_path / "data"
    write_imagefolder(root, sizes={"train/cat/01.png": (10, 12)})
    with pytest.raises(DatasetError, match="data.image_size") as err:
        load_arrays(str(root), cache_dir=str(tmp_path / "cache"))
    assert str(root) in str(err.value)

    # 16 wide x 8 high, blue left edge: the centre 8x8 crop (x 4..11, filter reaching x 3) must
    # drop the blue; squashing the whole width into 4 columns would not.
    wide = np.zeros((8, 16, 3), np.uint8)
    wide[:, :, 0] = 255
    wide[:, :2] = (0, 0, 255)
    Image.fromarray(wide).save(root / "train/cat/00.png")
    Image.fromarray(np.full((5, 5), 77, np.uint8), mode="L").save(root / "train/dog/00.png")  # grayscale
    ds = load_arrays(str(root), image_size=4, cache_dir=str(tmp_path / "cache"))
    assert ds.train_x.shape == (6, 4, 4, 3) and ds.test_x.shape == (4, 4, 4, 3)
    assert (ds.train_x[0] == (255, 0, 0)).all()
    assert (ds.train_x[3] == 77).all()


def test_imagefolder_parallel_decode_keeps_order(tmp_path, monkeypatch):
    import bench_ssl.data.decode as decode

    monkeypatch.setattr(decode, "SERIAL_BELOW", 2)  # force the process pool on a tiny tree
    monkeypatch.setattr(decode, "worker_count", lambda: 2)
    written = write_imagefolder(tmp_path / "data", classes=("a", "b", "c"))
    ds = load_arrays(str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"))
    train = [img for rel, img in sorted(written.items()) if rel.startswith("train/")]
    assert np.array_equal(ds.train_x, np.stack(train))
    # Errors raised inside workers reach the caller intact; sizes are compared across chunks too.
    Image.fromarray(pattern(1, 9, 9)[0]).save(tmp_path / "data/test/c/01.png")
    expect_error(tmp_path / "data", "different sizes.*data.image_size", cache_dir=str(tmp_path / "cache"))
    (tmp_path / "data/test/c/01.png").write_bytes(b"broken")
    assert "test/c/01.png" in expect_error(tmp_path / "data", "cannot decode", cache_dir=str(tmp_path / "cache"))


# ---------------------------------------------------------------- class_balanced_subset


def test_class_balanced_subset():
    y = np.repeat(np.arange(4), [10, 7, 12, 5])
    y = np.concatenate([y, [-1, -1]])  # unlabeled images are never picked
    idx = class_balanced_subset(y, 5, seed=3)
    assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)
    assert np.bincount(y[idx]).tolist() == [5, 5, 5, 5]
    assert np.array_equal(idx, class_balanced_subset(y, 5, seed=3))
    assert not np.array_equal(idx, class_balanced_subset(y, 5, seed=4))
    with pytest.raises(DatasetError, match="class 3 has only 5"):
        class_balanced_subset(y, 6)
    with pytest.raises(DatasetError):
        class_balanced_subset(y, 0)


# ---------------------------------------------------------------- errors: one line, naming the path


def expect_error(root, match: str, named=None, **kwargs) -> str:
    """load_arrays(root) fails with a one-line DatasetError naming `named` (default: root)."""
    with pytest.raises(DatasetError, match=match) as err:
        load_arrays(str(root), **kwargs)
    message = str(err.value)
    assert str(named or root) in message and "\n" not in message
    return message


def test_select_classes_renumbers_in_the_given_order_and_keeps_unlabelled_images():
    from bench_ssl.data import select_classes
    from bench_ssl.errors import ConfigError

    names = ["cat", "dog", "frog"]
    y = np.array([0, 1, 2, 2, 1, -1, 0])
    idx, new = select_classes(y, names, ["frog", "cat"])
    assert idx.tolist() == [0, 2, 3, 5, 6] and new.tolist() == [1, 0, 0, -1, 1]
    with pytest.raises(ConfigError, match="'dgo' is not a class of this dataset \\(did you mean 'dog'\\?\\)"):
        select_classes(y, names, ["dgo"])
    with pytest.raises(ConfigError, match="'cat' is listed twice"):
        select_classes(y, names, ["cat", "cat"])


def test_data_classes_on_the_real_tarball_keeps_those_images_only(cifar_jpg, cifar_tar):
    import torch

    from bench_ssl.config.load import load_config
    from bench_ssl.train.tensors import load_tensors

    every = cifar_jpg[0]
    cfg = load_config(None, [f"data.root={cifar_tar}", "data.classes=[ship, cat]", "data.test_per_class=10"])
    data = load_tensors(cfg.data, torch.device("cpu"))
    assert data.classes == ["ship", "cat"] and data.num_classes == 2
    ship, cat = every.classes.index("ship"), every.classes.index("cat")
    assert torch.bincount(data.train_y).tolist() == [int((every.train_y == ship).sum()), int((every.train_y == cat).sum())]
    assert torch.bincount(data.test_y).tolist() == [10, 10]
    first_ship = every.train_x[np.flatnonzero(every.train_y == ship)[0]]
    first = int(torch.nonzero(data.train_y == 0)[0])
    assert np.array_equal(data.train_x[first].permute(1, 2, 0).numpy(), first_ship)


def test_error_missing_path_and_unknown_layout(tmp_path):
    msg = expect_error(tmp_path / "nope", "does not exist")
    assert "cifar-10-batches-py" in msg  # tells the accepted layouts
    (tmp_path / "empty").mkdir()
    assert "accepted layouts" in expect_error(tmp_path / "empty", "no recognisable dataset layout")
    (tmp_path / "file.zip").write_bytes(b"PK")
    expect_error(tmp_path / "file.zip", "not a .tar")
    with pytest.raises(DatasetError, match="data.format"):
        load_arrays(str(tmp_path), format="mnist")
    (tmp_path / "both" / "cifar-10-batches-py").mkdir(parents=True)
    (tmp_path / "both" / "cifar-100-python").mkdir()
    expect_error(tmp_path / "both", "several datasets")
    expect_error(tmp_path / "nope", "explicit data.format", download=True)  # never reaches the network


def test_error_missing_and_corrupt_cifar_batches(tmp_path):
    write_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    good = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").unlink()
    assert "data_batch_3" in expect_error(tmp_path, "missing cifar10 file")
    (folder / "data_batch_3").write_bytes(good[: len(good) // 2])  # truncated pickle
    expect_error(tmp_path, "corrupt or truncated", named=folder / "data_batch_3")


def test_error_corrupt_stl10(tmp_path):
    write_stl10(tmp_path)
    folder = tmp_path / "stl10_binary"
    with open(folder / "train_X.bin", "ab") as f:
        f.write(b"xyz")  # wrong byte count
    expect_error(tmp_path, "not a whole number", named=folder / "train_X.bin")
    write_stl10(tmp_path / "b")
    (tmp_path / "b" / "stl10_binary" / "test_y.bin").write_bytes(b"\x01")  # 1 label for 2 images
    expect_error(tmp_path / "b", "expected 2 labels", named=tmp_path / "b" / "stl10_binary" / "test_y.bin")
    (tmp_path / "b" / "stl10_binary" / "test_y.bin").unlink()
    expect_error(tmp_path / "b", "missing STL-10 file 'test_y.bin'")


def test_error_imagefolder_layouts(tmp_path):
    root = tmp_path / "data"
    write_imagefolder(root, classes=("cat", "dog"))
    (root / "train" / "empty").mkdir()
    assert "train/empty" in expect_error(root, "has no images")
    (root / "train" / "empty").rmdir()
    (root / "test" / "dog").rename(root / "test" / "wolf")
    expect_error(root, "different class folders")

    undecodable = tmp_path / "bad"
    write_imagefolder(undecodable)
    (undecodable / "train" / "cat" / "zz.jpg").write_bytes(b"definitely not a jpeg")
    assert "train/cat/zz.jpg" in expect_error(undecodable, "cannot decode image")
    tar = make_tar(undecodable, tmp_path / "bad.tar.gz")
    assert "mydata/train/cat/zz.jpg" in expect_error(tar, "cannot decode image")

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(tar.read_bytes()[:-200])
    expect_error(truncated, "corrupt or truncated archive")
    no_test = tmp_path / "no_test.tar"
    with tarfile.open(no_test, "w") as tf:
        tf.add(root / "train", arcname="train")
    expect_error(no_test, "test/<class>")


# ---------------------------------------------------------------- cache


def test_cache_invalidation_and_repair(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="bench_ssl.data")
    root, cache = tmp_path / "data", tmp_path / "cache"
    write_imagefolder(root)
    tar = make_tar(root, tmp_path / "d.tar")

    def decoded(path) -> bool:
        caplog.clear()
        load_arrays(str(path), cache_dir=str(cache))
        return any("decoding" in r.getMessage() and "first time" in r.getMessage() for r in caplog.records)

    assert decoded(root) and not decoded(root)
    assert decoded(tar) and not decoded(tar)
    assert len(list(cache.glob("*.npz"))) == 2 and not list(cache.glob(".*"))  # no temp files left

    # Folder: one image rewritten (new content, size and mtime) -> decoded again, new pixels.
    new = np.full((6, 8, 3), 9, np.uint8)
    Image.fromarray(new).save(root / "test/dog/01.png")
    assert decoded(root)
    assert np.array_equal(load_arrays(str(root), cache_dir=str(cache)).test_x[-1], new)
    # Tar: touched only (same bytes, newer mtime) -> decoded again.
    os.utime(tar, ns=(time.time_ns(), os.stat(tar).st_mtime_ns + 10**9))
    assert decoded(tar) and not decoded(tar)
    # A corrupt cache file is ignored with a warning, then rebuilt.
    (entry,) = cache.glob("imagefolder-d.tar-*.npz")
    for damage in (b"garbage", entry.read_bytes()[:-500]):
        entry.write_bytes(damage)
        assert decoded(tar)
        assert any(r.levelno == logging.WARNING and str(entry) in r.getMessage() for r in caplog.records)
        assert not decoded(tar)
    # Different options are separate cache entries.
    assert load_arrays(str(tar), image_size=4, cache_dir=str(cache)).train_x.shape[1:] == (4, 4, 3)
    assert len(list(cache.glob("*.npz"))) == 3


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    write_imagefolder(tmp_path / "data")
    monkeypatch.setenv("BENCH_SSL_CACHE", str(tmp_path / "envcache"))
    load_arrays(str(tmp_path / "data"))
    assert len(list((tmp_path / "envcache").glob("imagefolder-data-*.npz"))) == 1


def test_formats_constant():
    assert FORMATS == ("auto", "cifar10", "cifar100", "stl10", "imagefolder")


def test_parallel_decode_inside_a_run_that_catches_sigterm(tmp_path, monkeypatch):
    """A run turns SIGTERM into a graceful stop; the decode pool, which ends its workers with SIGTERM,
    must still shut down (its workers used to inherit the handler, ignore SIGTERM and hang the run)."""
    import signal

    import bench_ssl.data.decode as decode
    from bench_ssl.train import interrupt

    monkeypatch.setattr(decode, "SERIAL_BELOW", 2)
    monkeypatch.setattr(decode, "worker_count", lambda: 2)
    write_imagefolder(tmp_path / "data", classes=("a", "b"))
    done = []

    def on_alarm(signum, frame):
        raise TimeoutError("the decode pool hung")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(60)
    try:
        with interrupt.stop_on(signal.SIGTERM, signal.SIGINT):
            done.append(load_arrays(str(tmp_path / "data"), cache_dir=str(tmp_path / "cache")))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert done and done[0].train_x.shape[0] > 0
    assert interrupt.stop_requested() is None
