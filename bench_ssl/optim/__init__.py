"""Optimisers (SGD, LARS, AdamW) and the warm-up + cosine learning-rate schedule."""

from __future__ import annotations

import torch

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
    o = optim_cfg
    groups = param_groups(model, o.weight_decay, o.exclude_bias_bn)
    lr = o.scaled_lr()
    if o.name == "lars":
        return LARS(groups, lr=lr, momentum=o.momentum, weight_decay=o.weight_decay, eta=o.lars_eta)
    for g in groups:
        g.pop("lars")
    if o.name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=o.momentum, weight_decay=o.weight_decay)
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(o.betas), weight_decay=o.weight_decay)


__all__ = ["LARS", "build_optimizer", "lr_at", "param_groups"]
