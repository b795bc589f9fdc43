"""Downstream evaluations through the engine on real CIFAR-10 pretraining: transfer to another dataset (an
ImageFolder tree of another size and class count) and its errors before any pretraining."""

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench_ssl.errors import ConfigError
from bench_ssl.run import run

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
SMALL = ["data.train_per_class=50", "data.test_per_class=20", "optim.batch_size=100", "optim.epochs=1",
         "eval.knn_every=0"]


def image_folder(root: Path, classes=("disc", "ring", "bar"), per_split=(12, 6), size=40) -> Path:
    """Three classes of drawn shapes at 40 x 40 pixels (the pretraining images are 32): easy to tell apart."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] - size / 2
    r = np.hypot(yy, xx)
    masks = {"disc": r < 10, "ring": (r > 8) & (r < 14), "bar": np.abs(xx) < 4}
    for split, n in zip(("train", "test"), per_split):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
                img[masks[c]] = 230
                Image.fromarray(img).save(root / split / c / f"{i}.png")
    return root


def test_transfer_evaluates_the_frozen_backbone_on_another_dataset_and_names_both(cifar_tar, tmp_path):
    target = image_folder(tmp_path / "shapes")
    result = run(SMOKE, [f"data.root={cifar_tar}", f"output.root={tmp_path / 'out'}", *SMALL,
                         "eval.protocols=[knn, transfer]", f"eval.transfer.root={target}"])
    assert result["transfer_from"] == "cifar10-jpg" and result["transfer_to"] == "shapes"
    assert result["transfer_num_test"] == 18
    assert 0.0 <= result["transfer_knn_top1"] <= 1.0 and 0.0 <= result["transfer_linear_top1"] <= 1.0
    assert result["transfer_linear_top1"] > 0.5  # three shapes a random backbone already separates (chance 1/3)
    assert math.isfinite(result["knn_top1"])


def test_a_missing_transfer_dataset_stops_the_run_before_its_pretraining(cifar_tar, tmp_path):
    with pytest.raises(ConfigError) as info:
        run(SMOKE, [f"data.root={cifar_tar}", f"output.root={tmp_path}", *SMALL, "eval.protocols=[knn, transfer]",
                    f"eval.transfer.root={tmp_path / 'cifar100'}"])
    assert str(info.value).startswith(f"eval.transfer.root: {tmp_path / 'cifar100'} does not exist")
    assert not list(tmp_path.rglob("metrics.jsonl")) and not list(tmp_path.rglob("checkpoint.pt"))


def test_the_embedding_is_saved_with_the_run_and_drawn_in_the_report(cifar_tar, tmp_path):
    import json

    from bench_ssl.report import write_report
    from pdf_check import check_pages

    result = run(SMOKE, [f"data.root={cifar_tar}", f"output.root={tmp_path / 'out'}", *SMALL,
                         "optim.epochs=2", "eval.protocols=[knn, embedding]", "eval.embedding.points=100",
                         "eval.embedding.iterations=300"])
    assert result["embedding_points"] == 100 and result["embedding_file"] == "embedding.json"
    assert 0.0 <= result["embedding_neighbour_agreement"] <= 1.0
    (saved,) = (tmp_path / "out").rglob("embedding.json")
    data = json.loads(saved.read_text())
    assert len(data["x"]) == len(data["y"]) == len(data["label"]) == 100 and len(data["classes"]) == 10
    assert sorted(set(data["label"])) == list(range(10)) and all(data["label"].count(c) == 10 for c in range(10))
    sweep_dir = saved.parent.parent
    out = write_report(sweep_dir, tmp_path / "reports", "html,pdf")
    html = out["html"].read_text()
    assert "<h2>Embeddings</h2>" in html and 'alt="Embeddings of the test features"' in html
    assert "Embeddings of the test features" in out["pdf_pages"]
    check_pages(out["pdf"], tmp_path / "pages", out["pdf_pages"], {"Figure", "Learning curves",
                                                                   "Embeddings of the test features"})


FIVE, OTHER_FIVE = "[airplane, automobile, bird, cat, deer]", "[dog, frog, horse, ship, truck]"


def test_transfer_to_the_other_classes_of_the_pretraining_dataset_needs_no_second_dataset(cifar_tar, tmp_path):
    result = run(SMOKE, [f"data.root={cifar_tar}", f"output.root={tmp_path}", *SMALL, f"data.classes={FIVE}",
                         "eval.protocols=[knn, transfer]", f"eval.transfer.classes={OTHER_FIVE}",
                         "eval.transfer.train_per_class=40", "eval.transfer.test_per_class=20"])
    assert result["num_train"] == 250 and result["num_test"] == 100  # 5 classes x 50 / x 20
    assert result["transfer_from"] == "cifar10-jpg (airplane, automobile, bird, cat, deer)"
    assert result["transfer_to"] == "cifar10-jpg (dog, frog, horse, ship, truck)"
    assert result["transfer_num_test"] == 100 and result["transfer_linear_top1"] > 0.2  # 5 unseen classes: chance 0.2


@pytest.mark.parametrize("sets, message", [
    ([f"data.classes={FIVE}", "eval.transfer.classes=[dog, cat]"],
     "eval.transfer.classes: 'cat' is a class the backbone pretrains on"),
    (["eval.transfer.classes=[dog]"], "eval.transfer.classes: 'dog' is a class the backbone pretrains on (data.classes: all"),
    ([f"data.classes={FIVE}"], "eval.transfer.root is empty; give the dataset to transfer to"),
    ([f"data.classes={FIVE}", "eval.transfer.classes=[dog, horsse]"],
     "eval.transfer.classes: 'horsse' is not a class of this dataset (did you mean 'horse'?)"),
])
def test_a_transfer_that_would_not_be_one_stops_before_the_pretraining(cifar_tar, tmp_path, sets, message):
    with pytest.raises(ConfigError) as info:
        run(SMOKE, [f"data.root={cifar_tar}", f"output.root={tmp_path}", *SMALL, "eval.protocols=[knn, transfer]", *sets])
    assert str(info.value).startswith(message), str(info.value)
    assert not list(tmp_path.rglob("metrics.jsonl"))
