"""BYOL (Grill et al. 2020): an online network (backbone, projector = head, predictor) regresses the
projection of the other view made by a target network, an EMA of the online backbone and head with no
gradient. No negatives; the predictor and the slowly moving target keep it from collapsing.

tau starts at `method.target_momentum` and follows BYOL's cosine schedule to 1 over training
(`target_schedule: constant` keeps it fixed); the update runs after every optimiser step, with the
engine's progress (step / total steps) in place of k / K.
"""

from __future__ import annotations

import torch

from ..losses import normalized_mse
from ..models import build_head, head_out_dim
from .base import Method, register
from .momentum import cosine_momentum, ema_update, frozen_copy


@register("byol")
class BYOL(Method):
    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        h = cfg.model.head
        dim = head_out_dim(h.type, self.backbone.out_dim, h.out_dim)
        hidden = cfg.method.predictor_hidden_dim or h.hidden_dim or self.backbone.out_dim  # BYOL: as wide as the projector
        self.predictor = build_head("mlp", dim, dim, hidden, 2, True)
        self.target_backbone = frozen_copy(self.backbone)
        self.target_head = frozen_copy(self.head)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        p1, p2 = (self.predictor(self.project(v)) for v in views[:2])
        with torch.no_grad():
            t1, t2 = (self.target_head(self.target_backbone(v)) for v in views[:2])
        return normalized_mse(p1, t2) + normalized_mse(p2, t1)  # symmetrised, summed as in the paper

    def tau(self, progress: float) -> float:
        m = self.cfg.method
        return cosine_momentum(m.target_momentum, progress) if m.target_schedule == "cosine" else m.target_momentum

    def after_optimizer_step(self, progress: float) -> None:
        tau = self.tau(progress)
        ema_update(self.target_backbone, self.backbone, tau)
        ema_update(self.target_head, self.head, tau)
