"""Optimizers (SGD, LARS, AdamW: one file each, registered by name for `optim.name`) and the warm-up + cosine
learning-rate schedule."""

from __future__ import annotations

import torch

from ..registry import OPTIMIZERS
from .lars import LARS
from .schedule import lr_at


def param_groups(model: torch.nn.Module, weight_decay: float, exclude_bias_bn: bool) -> list[dict]:
    """Biases and normalisation parameters (1-D tensors) get no weight decay and no LARS adaptation."""
    decay, plain = [], []
    for p in model.parameters():
        if p.requires_grad:
            (plain if exclude_bias_bn and p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay, "lars": True}]
    if plain:
        groups.append({"params": plain, "weight_decay": 0.0, "lars": False})
    return groups


def build_optimizer(model: torch.nn.Module, optim_cfg) -> torch.optim.Optimizer:
    """The optimizer `optim_cfg.name` over the model's parameter groups, at the scaled base lr."""
    o = optim_cfg
    groups = param_groups(model, o.weight_decay, o.exclude_bias_bn)
    return OPTIMIZERS[o.name](groups, lr=o.scaled_lr(), weight_decay=o.weight_decay, p=o.params)


__all__ = ["LARS", "OPTIMIZERS", "build_optimizer", "lr_at", "param_groups"]
