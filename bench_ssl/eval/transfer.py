"""Transfer: the pretrained backbone, frozen, evaluated on another dataset than it was pretrained on (e.g.
CIFAR-10 -> CIFAR-100, or -> STL-10 resized to the pretraining size) with the weighted kNN and the linear
protocol, both with that dataset's own train/test split (the linear protocol's weight decay chosen on a
hold-out of its train split, as always). The target's images are resized to the pretraining image size and
standardised with the target's own channel statistics. The result names both datasets."""

from __future__ import annotations

from dataclasses import dataclass
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
    train_per_class: int | None = param(None, low=1, help="a class-balanced subset of its train split")
    test_per_class: int | None = param(None, low=1, help="a class-balanced subset of its test split")

    def check(self, where: str, cfg) -> None:
        if not str(self.root).strip():
            raise ConfigError(f"{where}.root is empty; give the dataset to transfer to, e.g. --set "
                              f"{where}.root=/data/cifar100")


def _target_path(p: TransferParams) -> Path:
    return Path(p.root).expanduser()


def check_data(p: TransferParams, data) -> None:
    """Before the pretraining: the target dataset is there."""
    path = _target_path(p)
    if not path.exists():
        raise ConfigError(f"eval.transfer.root: {path} does not exist; put the dataset to transfer to there (a "
                          f"torchvision folder, an ImageFolder tree or a .tar.gz of one) or point eval.transfer.root at it")


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

    check_data(p, ctx.data)
    source = ctx.cfg.data
    target_cfg = DataConfig(root=str(_target_path(p)), format=p.format, image_size=int(ctx.data.train_x.shape[-1]),
                            train_per_class=p.train_per_class, test_per_class=p.test_per_class,
                            subset_seed=source.subset_seed, cache_dir=source.cache_dir)
    target = load_tensors(target_cfg, ctx.data.train_x.device)
    other = EvalContext(ctx.cfg, ctx.method, target, bf16=ctx.bf16, channels_last=ctx.channels_last)
    train_f, train_y, test_f = other.features()
    knn_p = ctx.cfg.eval.params.get("knn") or KNNParams()
    linear_p = ctx.cfg.eval.params.get("linear") or LinearParams()
    lin = linear_eval(train_f, train_y, test_f, target.test_y, target.num_classes, params=linear_p, seed=ctx.seed)
    return {"transfer_from": dataset_name(source.root), "transfer_to": dataset_name(p.root),
            "transfer_knn_top1": knn_accuracy(train_f, train_y, test_f, target.test_y, target.num_classes, k=knn_p.k,
                                              t=knn_p.t),
            "transfer_linear_top1": lin.top1, "transfer_num_test": int(target.test_y.shape[0])}


transfer.check_data = check_data

__all__ = ["TransferParams", "dataset_name"]
