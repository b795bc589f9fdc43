"""What every self-supervised method shares: a backbone, a projection head, and a training step.

A method sees a list of `n_views` augmented views, the labels (which only supervised methods may use)
and the dataset indices of the batch (for per-image state such as a memory bank), and returns its loss;
the engine owns data, augmentation, optimisation and evaluation, so a new method is one small file
registered by name.
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

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__()
        self.cfg = cfg
        self.num_train, self.num_classes = num_train, num_classes
        self.backbone = build_backbone(cfg.model.backbone, cfg.model.cifar_stem)
        h = cfg.model.head
        self.head = build_head(h.type, self.backbone.out_dim, h.out_dim, h.hidden_dim, h.layers, h.batch_norm)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Return the scalar loss for one batch: `views[v]` is (B,3,H,W), `index` the images' dataset rows."""
        raise NotImplementedError

    def after_optimizer_step(self, progress: float) -> None:
        """Hook for methods with extra state (momentum encoders, queues); progress runs from 0 to 1 over training."""


def build_method(cfg, num_train: int, num_classes: int) -> Method:
    return METHODS[cfg.method.name](cfg, num_train, num_classes)
