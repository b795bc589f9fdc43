"""SGD with momentum."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..params import param
from ..registry import OPTIMIZERS


@dataclass
class SGDParams:
    momentum: float = param(0.9, low=0.0, high=1.0, high_open=True)


@OPTIMIZERS.register("sgd", SGDParams, doc="SGD with momentum")
def sgd(groups: list[dict], lr: float, weight_decay: float, p: SGDParams) -> torch.optim.Optimizer:
    for g in groups:
        g.pop("lars", None)
    return torch.optim.SGD(groups, lr=lr, momentum=p.momentum, weight_decay=weight_decay)
