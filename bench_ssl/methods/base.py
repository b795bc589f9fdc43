"""What every self-supervised method shares: a backbone, a projection head, and a training step.

A method sees a list of augmented views (and the labels, which only supervised methods may use) and
returns its loss; the engine owns data, augmentation, optimisation and evaluation, so a new method is one
small file registered by name.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..models import build_backbone, build_head

METHODS: dict[str, type[Method]] = {}


def register(name: str):
    """Class decorator: make a method selectable as `method.name: <name>` in configs."""

    def wrap(cls):
        cls.name = name
        METHODS[name] = cls
        return cls

    return wrap


class Method(nn.Module):
    name = "base"
    n_views = 2

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.backbone = build_backbone(cfg.model.backbone, cfg.model.cifar_stem)
        h = cfg.model.head
        self.head = build_head(h.type, self.backbone.out_dim, h.out_dim, h.hidden_dim, h.layers, h.batch_norm)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """Return the scalar loss for one batch of views."""
        raise NotImplementedError

    def after_optimizer_step(self) -> None:
        """Hook for methods with extra state (momentum encoders, queues)."""


def build_method(cfg) -> Method:
    return METHODS[cfg.method.name](cfg)
