"""Semi-supervised evaluation (SimCLR Table 7's protocol at CIFAR scale): the whole network fine-tuned on a
class-balanced fraction of the labels (default 1% and 10%; each class's share drawn with the run's seed, so
fixed per seed, the smaller subset inside the larger), test top-1 scored once per fraction. SimCLR fine-tunes
60 epochs on 1% and 30 on 10% of ImageNet; here the same epochs are counted over the subset."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from ..params import param
from ..registry import EVALUATIONS
from .tuning import balanced_subset, finetune_top1


@dataclass
class SemiSupervisedParams:
    fractions: list[float] = param([0.01, 0.1], low=0.0, high=1.0, low_open=True, nonempty=True,
                                   help="fractions of each class's labels fine-tuned on")
    epochs: list[int] = param([60, 30], low=1, nonempty=True, help="epochs per fraction (the last repeats)")
    lr: float = param(0.05, low=0.0, low_open=True, help="peak learning rate (cosine decay to 0)")
    batch_size: int = param(256, low=1, help="images per step (at most the subset)")
    weight_decay: float = param(0.0, low=0.0, help="L2 on every weight (SimCLR: none)")

    def check(self, where: str, cfg) -> None:
        per_class = getattr(getattr(cfg, "data", None), "train_per_class", None)
        for f in self.fractions if per_class else ():
            if round(f * per_class) == 0:
                raise ConfigError(f"{where}.fractions: {f:g} leaves every class with 0 of its {per_class} training "
                                  f"images (data.train_per_class); use at least {math.ceil(1000 / per_class) / 1000:g}, "
                                  f"or more images per class")


def metric_name(fraction: float) -> str:
    """0.01 -> semi_1pct_top1, 0.1 -> semi_10pct_top1, 0.005 -> semi_0.5pct_top1."""
    return f"semi_{fraction * 100:g}pct_top1"


def check_data(p: SemiSupervisedParams, data, cfg=None) -> None:
    """Before the pretraining: every fraction leaves every class at least one image."""
    _, train_y = data.labeled_train()
    for f in p.fractions:
        balanced_subset(train_y, f, 0, data.classes)


@EVALUATIONS.register("semi_supervised", SemiSupervisedParams)
def semi_supervised(ctx, p: SemiSupervisedParams) -> dict:
    """The whole network fine-tuned on 1% and 10% of the labels (class-balanced, fixed per seed): test top-1"""
    _, train_y = ctx.data.labeled_train()
    subsets = [balanced_subset(train_y, f, ctx.seed, ctx.data.classes) for f in p.fractions]
    out = {}
    for i, (fraction, subset) in enumerate(zip(p.fractions, subsets)):
        epochs = p.epochs[min(i, len(p.epochs) - 1)]
        out[metric_name(fraction)] = finetune_top1(ctx, subset, epochs=epochs, lr=p.lr, batch_size=p.batch_size,
                                                   weight_decay=p.weight_decay, seed=ctx.seed)
    return out


semi_supervised.check_data = check_data

__all__ = ["SemiSupervisedParams", "metric_name"]
