"""RMSProp with momentum, one of SupCon Table 8's three optimisers (beside LARS and SGD with momentum). Torch's
form: the step is lr * g / (sqrt(v) + eps), eps outside the root (TensorFlow's sits inside it)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..params import param
from ..registry import OPTIMIZERS


@dataclass
class RMSPropParams:
    momentum: float = param(0.9, low=0.0, high=1.0, high_open=True)
    alpha: float = param(0.9, low=0.0, high=1.0, low_open=True, high_open=True, help="decay of the squared-gradient average")
    eps: float = param(1e-3, low=0.0, low_open=True, help="added to the root of the squared-gradient average")


@OPTIMIZERS.register("rmsprop", RMSPropParams, doc="RMSProp with momentum (SupCon Table 8)")
def rmsprop(groups: list[dict], lr: float, weight_decay: float, p: RMSPropParams) -> torch.optim.Optimizer:
    for g in groups:
        g.pop("lars", None)
    return torch.optim.RMSprop(groups, lr=lr, alpha=p.alpha, eps=p.eps, momentum=p.momentum, weight_decay=weight_decay)
