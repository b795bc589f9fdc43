"""The one registry: every kind of component is listed with its parameters, defaults and doc, found by name with a
suggestion on a typo, and a new method is one file (here: a test file) that the configs, the engine and the results
table pick up without touching the package."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from bench_ssl.config import load_config, run_id, to_dict
from bench_ssl.errors import ConfigError
from bench_ssl.methods import Method
from bench_ssl.params import param
from bench_ssl.registry import (
    AUGMENTATIONS,
    BACKBONES,
    EVALUATIONS,
    HEADS,
    LOSSES,
    METHODS,
    OPTIMIZERS,
    REGISTRIES,
    STUDIES,
)
from bench_ssl.results import load
from bench_ssl.run import run

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"


def test_every_kind_of_component_is_registered_by_name():
    assert set(METHODS) == {"simclr", "moco", "memory_bank", "end_to_end", "supcon", "supervised", "byol", "simsiam",
                            "rotation", "jigsaw", "relative_patch", "exemplar", "colorization", "inpainting", "counting"}
    assert set(LOSSES) == {"nt_xent", "nt_logistic", "margin_triplet"}
    assert set(AUGMENTATIONS) == {"crop", "flip", "color", "blur", "cutout", "sobel", "noise", "rotate", "solarize",
                                  "randaugment", "autoaugment"}
    assert set(BACKBONES) == {"resnet18", "resnet34", "resnet50", "convnet"}
    assert set(HEADS) == {"none", "linear", "mlp"}
    assert set(OPTIMIZERS) == {"sgd", "lars", "adamw", "rmsprop"}
    assert set(EVALUATIONS) == {"knn", "linear", "kmeans", "finetune", "semi_supervised", "transfer", "embedding",
                                "classifier", "linear_optimizers", "transform_probe", "linear_augment", "corruption"}
    assert set(STUDIES) == {"aug_grid", "batch_epochs", "color_strength", "loss_fn", "lr_scaling", "moco_momentum", "moco_queue",
                            "mocov2_ablation", "mocov2_temperature", "mocov2_vs_simclr", "pretext_vs_contrastive", "proj_head", "supcon", "supcon_loss", "supcon_positives",
                            "temperature", "simclr_cifar10", "supcon_two_stage", "supcon_optimizers", "h_vs_gh",
                            "supcon_augmentations", "supcon_corruptions"}
    assert set(REGISTRIES) == {"method", "loss", "augmentation", "backbone", "head", "optimizer", "evaluation", "study"}


def test_an_entry_knows_its_parameters_defaults_and_doc():
    moco = METHODS.entry("moco")
    assert moco.param_names() == ["temperature", "normalize", "momentum", "queue_size", "shuffle_bn", "bn_splits"]
    assert moco.params().momentum == 0.999 and moco.doc.startswith("MoCo v1/v2")
    text = METHODS.describe()
    assert "moco(temperature=0.5, normalize=True, momentum=0.999, queue_size=4096" in text
    assert "supervised()" in text
    assert "color(strength=0.5, p=0.8, gray_p=0.2, random_order=True)" in AUGMENTATIONS.describe()


def test_a_typo_gets_the_nearest_name():
    with pytest.raises(ConfigError, match=r"unknown method 'mocco' \(did you mean 'moco'\?\); allowed: .*simclr"):
        METHODS.entry("mocco")
    with pytest.raises(ConfigError, match=r"model.backbone: 'resnet81' is not allowed \(did you mean 'resnet18'\?\)"):
        BACKBONES.entry("resnet81", "model.backbone")


def test_the_run_cli_lists_components():
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.run", "--list", "methods", "heads"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "methods:" in proc.stdout and "  byol(predictor_hidden_dim=None, target_momentum=0.99" in proc.stdout
    assert "heads:" in proc.stdout and "  mlp(hidden_dim=None, out_dim=128, layers=2, batch_norm=True)" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "bench_ssl.run", "--list", "methds"], capture_output=True, text=True,
                         cwd=ROOT)
    assert bad.returncode == 2 and "did you mean 'methods'" in bad.stderr


# ------------------------------------------------------------------------- a method from a test file
@dataclass
class AlignUniformParams:
    lam: float = param(1.0, low=0.0, help="weight of the uniformity term")
    t: float = param(2.0, low=0.0, low_open=True, help="the Gaussian potential's t")


class AlignUniform(Method):
    """Alignment and uniformity on the hypersphere (Wang & Isola 2020)"""

    def training_step(self, views, labels, index):
        z1, z2 = (F.normalize(self.project(v).float(), dim=1) for v in views)
        align = (z1 - z2).norm(dim=1).pow(2).mean()
        uniform = sum(torch.pdist(z).pow(2).mul(-self.params.t).exp().mean().log() for z in (z1, z2)) / 2
        return align + self.params.lam * uniform


@pytest.fixture
def align_uniform():
    """The method registered as a component file would register it, and forgotten afterwards."""
    METHODS.register("align_uniform", AlignUniformParams)(AlignUniform)
    yield AlignUniform
    METHODS.remove("align_uniform")


def test_a_method_from_a_test_file_is_configured_trained_and_tabled(align_uniform, cifar_tar, tmp_path):
    cfg = load_config(SMOKE, ["method.name=align_uniform", "method.lam=0.5"])
    assert to_dict(cfg)["method"] == {"name": "align_uniform", "lam": 0.5, "t": 2.0}  # simclr's knobs are gone
    assert cfg.method.params == AlignUniformParams(lam=0.5)
    with pytest.raises(ConfigError, match=r"method.lam: -1.0 is out of range"):
        load_config(SMOKE, ["method.name=align_uniform", "method.lam=-1"])
    with pytest.raises(ConfigError, match=r"method.temperature: align_uniform takes no 'temperature'; align_uniform "
                                          r"takes: lam, t"):
        load_config(SMOKE, ["method.name=align_uniform", "method.temperature=0.5"])
    assert "align_uniform(lam=1.0, t=2.0)  Alignment and uniformity" in METHODS.describe()

    # its loss, against the formulas of the paper on one batch
    torch.manual_seed(0)
    method = align_uniform(cfg, 64, 10)
    v1, v2 = torch.randn(8, 3, 16, 16), torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        z1, z2 = (F.normalize(method.project(v), dim=1) for v in (v1, v2))
        align = ((z1 - z2) ** 2).sum(1).mean()
        pairs = [(i, j) for i in range(8) for j in range(i + 1, 8)]
        uniform = [torch.log(torch.stack([torch.exp(-2.0 * ((z[i] - z[j]) ** 2).sum()) for i, j in pairs]).mean())
                   for z in (z1, z2)]
        expected = align + 0.5 * (uniform[0] + uniform[1]) / 2
        assert method.training_step([v1, v2], None, None).item() == pytest.approx(expected.item(), rel=1e-5)

    # the engine trains it like any method, and the results table shows its own knobs
    sets = [f"data.root={cifar_tar}", f"output.root={tmp_path}", "method.name=align_uniform", "method.lam=0.5",
            "data.train_per_class=20", "data.test_per_class=10", "optim.batch_size=50", "eval.protocols=[knn]"]
    result = run(SMOKE, sets)
    assert result["method"] == "align_uniform" and result["run_id"] == run_id(load_config(SMOKE, sets))
    assert 0.0 <= result["knn_top1"] <= 1.0 and len(list((tmp_path / "smoke").glob("*/metrics.jsonl"))) == 1
    (row,) = load(tmp_path / "smoke").to_dict("records")
    assert row["status"] == "done" and row["method.lam"] == 0.5 and "method.temperature" not in row
