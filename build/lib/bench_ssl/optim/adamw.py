"""AdamW (decoupled weight decay)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..params import param
from ..registry import OPTIMIZERS


@dataclass
class AdamWParams:
    betas: tuple[float, float] = param((0.9, 0.999), low=0.0, high=1.0, high_open=True)


@OPTIMIZERS.register("adamw", AdamWParams, doc="AdamW (decoupled weight decay)")
def adamw(groups: list[dict], lr: float, weight_decay: float, p: AdamWParams) -> torch.optim.Optimizer:
    for g in groups:
        g.pop("lars", None)
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(p.betas), weight_decay=weight_decay)
