"""SimSiam (Chen & He 2021): BYOL without the momentum encoder. One network, a predictor on one branch
and a stop-gradient on the other; loss D(p1, z2)/2 + D(p2, z1)/2 with D = -cosine. The predictor is a
bottleneck MLP (hidden = head out_dim / 4 unless `method.predictor_hidden_dim` is set)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import negative_cosine
from ..models import build_head
from ..params import param
from ..registry import METHODS
from .base import Method


@dataclass
class SimSiamParams:
    predictor_hidden_dim: int | None = param(None, low=1, help="none: the head's out_dim / 4 (a bottleneck)")


@METHODS.register("simsiam", SimSiamParams)
class SimSiam(Method):
    """SimSiam: BYOL without the momentum encoder (a predictor on one branch, a stop-gradient on the other)"""

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        dim = self.head.out_dim
        hidden = self.params.predictor_hidden_dim or max(1, dim // 4)
        self.predictor = build_head("mlp", dim, out_dim=dim, hidden_dim=hidden, layers=2, batch_norm=True)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        z1, z2 = (self.project(v) for v in views[:2])
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)
