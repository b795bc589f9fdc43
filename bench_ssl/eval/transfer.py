"""Transfer: the pretrained backbone, frozen, evaluated on another dataset than it was pretrained on (e.g.
CIFAR-10 -> CIFAR-100, or -> STL-10 resized to the pretraining size) with the weighted kNN and the linear
protocol, both with that dataset's own train/test split (the linear protocol's weight decay chosen on a
hold-out of its train split, as always). The target's images are resized to the pretraining image size and
standardised with the target's own channel statistics. The result names both datasets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config.schema import DataConfig
from ..errors import ConfigError
from ..params import param
from ..registry import EVALUATIONS
from .context import EvalContext
from .knn import KNNParams, knn_accuracy
from .linear import LinearParams, linear_eval


@dataclass
class TransferParams:
    root: str = param("", help="the target dataset: a torchvision folder, an ImageFolder tree or a .tar.gz of one")
    format: str = param("auto", help="its layout (as data.format)")
    classes: list[str] | None = field(default=None, metadata={  # left out of the config when unset
        **param(None, nonempty=True).metadata, "omit_none": True,
        "help": "only these of its classes (as data.classes), e.g. the 5 CIFAR-10 classes the pretraining left out"})
    train_per_class: int | None = param(None, low=1, help="a class-balanced subset of its train split")
    test_per_class: int | None = param(None, low=1, help="a class-balanced subset of its test split")

    def check(self, where: str, cfg) -> None:
        if str(self.root).strip():
            return
        if not self.classes:
            raise ConfigError(f"{where}.root is empty; give the dataset to transfer to, e.g. --set "
                              f"{where}.root=/data/cifar100, or transfer to the pretraining dataset's other classes "
                              f"with {where}.classes=[...] beside data.classes=[...]")
        pretrained = list(getattr(getattr(cfg, "data", None), "classes", None) or [])
        seen = [c for c in self.classes if c in pretrained] if pretrained else list(self.classes)
        if seen:
            raise ConfigError(f"{where}.classes: {seen[0]!r} is a class the backbone pretrains on (data.classes: "
                              f"{', '.join(pretrained) or 'all of them'}), so this would not be a transfer; list classes "
                              f"outside data.classes, or give another dataset in {where}.root")


def _target_path(p: TransferParams, cfg) -> Path:
    """eval.transfer.root, or the pretraining dataset when it is empty (its other classes: see check)."""
    return Path(p.root or cfg.data.root).expanduser()


def check_data(p: TransferParams, data, cfg) -> None:
    """Before the pretraining: the target dataset is there, with the classes asked for."""
    path = _target_path(p, cfg)
    if not path.exists():
        raise ConfigError(f"eval.transfer.root: {path} does not exist; put the dataset to transfer to there (a "
                          f"torchvision folder, an ImageFolder tree or a .tar.gz of one) or point eval.transfer.root at it")
    if p.classes:
        from ..data import load_arrays, select_classes

        arrays = load_arrays(str(path), format=p.format, cache_dir=cfg.data.cache_dir)  # decoded once, then cached
        select_classes(arrays.train_y, list(arrays.classes), list(p.classes), key="eval.transfer.classes")


def dataset_name(root) -> str:
    name = Path(str(root)).name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@EVALUATIONS.register("transfer", TransferParams)
def transfer(ctx, p: TransferParams) -> dict:
    """kNN and linear top-1 of the frozen backbone on another dataset (named with the pretraining one)"""
    from ..train.tensors import load_tensors

    check_data(p, ctx.data, ctx.cfg)
    source = ctx.cfg.data
    target_cfg = DataConfig(root=str(_target_path(p, ctx.cfg)), format=p.format, image_size=int(ctx.data.train_x.shape[-1]), classes=p.classes,
                            train_per_class=p.train_per_class, test_per_class=p.test_per_class,
                            subset_seed=source.subset_seed, cache_dir=source.cache_dir)
    target = load_tensors(target_cfg, ctx.data.train_x.device)
    other = EvalContext(ctx.cfg, ctx.method, target, bf16=ctx.bf16, channels_last=ctx.channels_last)
    train_f, train_y, test_f = other.features()
    knn_p = ctx.cfg.eval.params.get("knn") or KNNParams()
    linear_p = ctx.cfg.eval.params.get("linear") or LinearParams()
    lin = linear_eval(train_f, train_y, test_f, target.test_y, target.num_classes, params=linear_p, seed=ctx.seed)
    return {"transfer_from": _named(dataset_name(source.root), source.classes),
            "transfer_to": _named(dataset_name(target_cfg.root), p.classes),
            "transfer_knn_top1": knn_accuracy(train_f, train_y, test_f, target.test_y, target.num_classes, k=knn_p.k,
                                              t=knn_p.t),
            "transfer_linear_top1": lin.top1, "transfer_num_test": int(target.test_y.shape[0])}


def _named(name: str, classes) -> str:
    """cifar10-jpg, or cifar10-jpg (dog, frog, horse) for a selection of its classes."""
    return f"{name} ({', '.join(classes)})" if classes else name


transfer.check_data = check_data

__all__ = ["TransferParams", "dataset_name"]
