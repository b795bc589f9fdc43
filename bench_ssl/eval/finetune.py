"""Full fine-tuning: the pretrained backbone and a linear classifier trained together on all the labelled
training images (crop and flip, SGD with Nesterov momentum, cosine decay), test top-1 scored once."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..params import param
from ..registry import EVALUATIONS
from .tuning import finetune_top1


@dataclass
class FinetuneParams:
    epochs: int = param(30, low=1, help="epochs over the labelled images")
    lr: float = param(0.05, low=0.0, low_open=True, help="peak learning rate (cosine decay to 0)")
    batch_size: int = param(256, low=1, help="images per step")
    weight_decay: float = param(5e-4, low=0.0, help="L2 on every weight")


@EVALUATIONS.register("finetune", FinetuneParams)
def finetune(ctx, p: FinetuneParams) -> dict:
    """The whole network fine-tuned on all labels: test top-1"""
    _, train_y = ctx.data.labeled_train()
    everything = torch.arange(len(train_y), device=train_y.device)
    return {"finetune_top1": finetune_top1(ctx, everything, epochs=p.epochs, lr=p.lr, batch_size=p.batch_size,
                                           weight_decay=p.weight_decay, seed=ctx.seed)}


__all__ = ["FinetuneParams"]
