"""Momentum (EMA) encoders shared by MoCo's key encoder and BYOL's target network."""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy with requires_grad=False: updated only by `ema_update`, never by the optimiser."""
    twin = copy.deepcopy(module)
    twin.requires_grad_(False)
    return twin


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, m: float) -> None:
    """theta_target <- m * theta_target + (1 - m) * theta_online, for every parameter.

    Buffers (BN running statistics) are left alone: the target keeps the statistics of the batches it
    sees itself, as in MoCo's and BYOL's reference code.
    """
    t, o = list(target.parameters()), list(online.parameters())
    if len(t) != len(o):
        raise ValueError(f"target has {len(t)} parameters, online {len(o)}")
    torch._foreach_mul_(t, m)
    torch._foreach_add_(t, o, alpha=1.0 - m)


def cosine_momentum(base: float, progress: float) -> float:
    """BYOL's schedule: tau = 1 - (1 - base) * (cos(pi * progress) + 1) / 2, from base at the start to 1 at the end."""
    return 1.0 - (1.0 - base) * (math.cos(math.pi * min(max(progress, 0.0), 1.0)) + 1.0) / 2.0
