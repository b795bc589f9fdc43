"""data.storage=stream: an ImageFolder of generated JPEGs and PNGs (a folder, an uncompressed tar, tar shards) read
batch by batch gives exactly the images of the in-memory path, unreadable files stop the run with their name or are
counted and replaced, a compressed archive and a set larger than memory are one line each, and a streamed run
trains to the weights of the same run held in memory."""

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench_ssl.config import load_config
from bench_ssl.data.fits import check_fits
from bench_ssl.errors import ConfigError, DatasetError
from bench_ssl.run import run
from bench_ssl.train.tensors import load_tensors

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
CLASSES = ("ant", "bee", "cat")


def _image(rng, h, w):
    """A smooth pattern with noise: JPEG-compressible, and different in every file."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(xx / rng.uniform(2, 6)), np.cos(yy / rng.uniform(2, 6)), np.sin((xx + yy) / 5)], -1)
    return ((base * 0.4 + 0.5 + rng.normal(0, 0.05, (h, w, 3))).clip(0, 1) * 255).astype(np.uint8)


def make_tree(root: Path, per_class=(8, 3), seed=0, sizes=((30, 40), (36, 36), (48, 30))) -> list[str]:
    """train/ and test/ with CLASSES; JPEGs and PNGs of several sizes. Returns the relative paths."""
    rng = np.random.default_rng(seed)
    names = []
    for split, n in zip(("train", "test"), per_class):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                h, w = sizes[i % len(sizes)]
                ext = "png" if i % 3 == 0 else "jpg"
                path = root / split / c / f"{i:03d}.{ext}"
                Image.fromarray(_image(rng, h, w)).save(path, quality=90)
                names.append(str(path.relative_to(root)))
    return names


def _tar(tree: Path, out: Path, names: list[str], mode="w") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, mode) as tf:
        for n in names:
            tf.add(tree / n, arcname=n)
    return out


def _data_cfg(root, tmp_path, *extra):
    return load_config(SMOKE, [f"data.root={root}", "data.image_size=24", f"data.cache_dir={tmp_path / 'cache'}",
                               "data.train_per_class=null", "data.test_per_class=null",
                               *extra]).data


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    return root, make_tree(root)


def _same(stream, memory):
    for split in ("train", "test"):
        a, b = getattr(stream, f"{split}_x"), getattr(memory, f"{split}_x")
        assert tuple(a.shape) == tuple(b.shape)
        assert torch.equal(a[torch.arange(a.shape[0])], b)  # read by index, all at once
        got = torch.cat(list(a.batches([torch.arange(s, min(a.shape[0], s + 5)) for s in range(0, a.shape[0], 5)])))
        assert torch.equal(got, b)  # read ahead in workers, batch by batch
        assert torch.equal(getattr(stream, f"{split}_y"), getattr(memory, f"{split}_y"))
    assert stream.classes == memory.classes == list(CLASSES)
    torch.testing.assert_close(stream.mean, memory.mean)
    torch.testing.assert_close(stream.std, memory.std)


def test_a_streamed_folder_tar_and_tar_shards_give_exactly_the_images_of_memory(tree, tmp_path):
    root, names = tree
    memory = load_tensors(_data_cfg(root, tmp_path), torch.device("cpu"))
    assert memory.train_x.shape == (24, 3, 24, 24)
    for source in (root,
                   _tar(root, tmp_path / "tree.tar", names),
                   _tar(root, tmp_path / "shards" / "a.tar", names[::2]).parent):
        if source.name == "shards":
            _tar(root, source / "b.tar", names[1::2])
        stream = load_tensors(_data_cfg(source, tmp_path, "data.storage=stream", "data.workers=2"), torch.device("cpu"))
        _same(stream, memory)
    subset = _data_cfg(root, tmp_path, "data.train_per_class=5", "data.classes=[cat, ant]")
    streamed = load_tensors(_data_cfg(root, tmp_path, "data.storage=stream", "data.train_per_class=5",
                                      "data.classes=[cat, ant]"), torch.device("cpu"))
    held = load_tensors(subset, torch.device("cpu"))
    assert streamed.train_x.shape[0] == 10 and streamed.classes == ["cat", "ant"]
    assert torch.equal(streamed.train_x[torch.arange(10)], held.train_x)
    assert torch.equal(streamed.train_y, held.train_y)


def test_unreadable_images_stop_the_run_with_their_name_or_are_replaced_and_counted(tree, tmp_path):
    root, _ = tree
    stream = load_tensors(_data_cfg(root, tmp_path, "data.storage=stream", "data.workers=1"), torch.device("cpu"))
    bad = root / "train" / "bee" / "002.jpg"
    bad.write_bytes(b"not a jpeg at all")  # broken after the run started: a batch's worker finds it
    with pytest.raises(DatasetError, match=r"cannot decode image 'train/bee/002.jpg'.*data.on_corrupt=skip"):
        list(stream.train_x.batches([torch.arange(8, 16)]))
    with pytest.raises(DatasetError, match=r"cannot decode image 'train/bee/002.jpg'.*data.on_corrupt=skip"):
        load_tensors(_data_cfg(root, tmp_path, "data.storage=stream"), torch.device("cpu"))  # its statistics read it
    skip = load_tensors(_data_cfg(root, tmp_path, "data.storage=stream", "data.workers=1", "data.on_corrupt=skip"),
                        torch.device("cpu"))
    (batch,) = list(skip.train_x.batches([torch.arange(8, 16)]))
    assert skip.train_x.take_skipped() == ["train/bee/002.jpg"]
    assert torch.equal(batch[2], batch[1]) or torch.equal(batch[2], batch[3])  # its nearest readable neighbour
    good = [k for k in range(8) if k != 2]
    assert torch.equal(batch[good], skip.train_x[torch.tensor(good) + 8])


def test_a_compressed_archive_and_a_non_imagefolder_format_cannot_stream(tree, tmp_path):
    root, names = tree
    gz = _tar(root, tmp_path / "tree.tar.gz", names, mode="w:gz")
    with pytest.raises(DatasetError, match=r"tree.tar.gz is compressed.*extract it \(tar -xf tree.tar.gz\)"):
        load_tensors(_data_cfg(gz, tmp_path, "data.storage=stream"), torch.device("cpu"))
    with pytest.raises(ConfigError, match="data.storage: stream reads ImageFolder trees.*not data.format=cifar10"):
        load_config(SMOKE, ["data.storage=stream", "data.format=cifar10"])


def test_a_set_larger_than_memory_is_refused_before_decoding_with_the_estimate():
    check_fits(50_000, 32, 32, host_free=2**30, gpu_free=None, source="cifar")  # 150 MB: fits
    with pytest.raises(DatasetError, match=r"126,689 images of 224x224 \(17.8 GiB decoded\), more than 16.0 GiB of "
                                           r"free memory.*use data.storage=stream"):
        check_fits(126_689, 224, 224, host_free=16 * 2**30, gpu_free=None, source="imagenet100")
    with pytest.raises(DatasetError, match=r"more than 16.0 GiB of the GPU's free 32.0 GiB"):
        check_fits(126_689, 224, 224, host_free=2**40, gpu_free=32 * 2**30, source="imagenet100")


def test_a_streamed_run_trains_to_the_weights_of_the_same_run_held_in_memory(tmp_path):
    root = tmp_path / "tree"
    make_tree(root, per_class=(20, 6), sizes=((32, 32),))
    sets = [f"data.root={root}", f"data.cache_dir={tmp_path / 'cache'}", "optim.batch_size=20", "optim.epochs=2",
            "data.train_per_class=null", "data.test_per_class=null",
            "eval.protocols=[knn, linear]", "eval.knn_every=1"]
    held = run(SMOKE, [*sets, f"output.root={tmp_path / 'memory'}"])
    streamed = run(SMOKE, [*sets, f"output.root={tmp_path / 'stream'}", "data.storage=stream", "data.workers=2"])
    assert streamed["run_id"] != held["run_id"]  # the storage is part of the run (stats from a sample on big sets)
    for key in ("final_loss", "knn_top1", "linear_top1"):
        assert streamed[key] == pytest.approx(held[key], abs=1e-6), key
    for out in ("memory", "stream"):
        (metrics,) = (tmp_path / out).rglob("metrics.jsonl")
        assert [json.loads(line)["epoch"] for line in metrics.read_text().splitlines()] == [1, 2]
