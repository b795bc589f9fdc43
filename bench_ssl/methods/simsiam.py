"""SimSiam (Chen & He 2021): BYOL without the momentum encoder. One network, a predictor on one branch
and a stop-gradient on the other; loss D(p1, z2)/2 + D(p2, z1)/2 with D = -cosine. The predictor is a
bottleneck MLP (hidden = head out_dim / 4 unless `method.predictor_hidden_dim` is set)."""

from __future__ import annotations

import torch

from ..losses import negative_cosine
from ..models import build_head, head_out_dim
from .base import Method, register


@register("simsiam")
class SimSiam(Method):
    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        h = cfg.model.head
        dim = head_out_dim(h.type, self.backbone.out_dim, h.out_dim)
        hidden = cfg.method.predictor_hidden_dim or max(1, dim // 4)
        self.predictor = build_head("mlp", dim, dim, hidden, 2, True)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        z1, z2 = (self.project(v) for v in views[:2])
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)
