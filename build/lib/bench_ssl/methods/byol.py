"""BYOL (Grill et al. 2020): an online network (backbone, projector = head, predictor) regresses the
projection of the other view made by a target network, an EMA of the online backbone and head with no
gradient. No negatives; the predictor and the slowly moving target keep it from collapsing.

tau starts at `method.target_momentum` and follows BYOL's cosine schedule to 1 over training
(`target_schedule: constant` keeps it fixed); the update runs after every optimiser step, with the
engine's progress (step / total steps) in place of k / K.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import normalized_mse
from ..models import build_head
from ..params import param
from ..registry import METHODS
from .base import Method
from .momentum import cosine_momentum, ema_update, frozen_copy

SCHEDULES = ("cosine", "constant")


@dataclass
class BYOLParams:
    predictor_hidden_dim: int | None = param(None, low=1, help="none: the projector's hidden width")
    target_momentum: float = param(0.99, low=0.0, high=1.0, help="base tau of the target network (paper: 0.996)")
    target_schedule: str = param("cosine", choices=SCHEDULES, help="cosine: tau rises to 1 over training; constant")


@METHODS.register("byol", BYOLParams)
class BYOL(Method):
    """BYOL: an online network and predictor regress an EMA target network's projection"""

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        dim = self.head.out_dim
        projector_hidden = getattr(cfg.model.head.params, "hidden_dim", None)
        hidden = self.params.predictor_hidden_dim or projector_hidden or self.backbone.out_dim  # BYOL: as wide as the projector
        self.predictor = build_head("mlp", dim, out_dim=dim, hidden_dim=hidden, layers=2, batch_norm=True)
        self.target_backbone = frozen_copy(self.backbone)
        self.target_head = frozen_copy(self.head)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        p1, p2 = (self.predictor(self.project(v)) for v in views[:2])
        with torch.no_grad():
            t1, t2 = (self.target_head(self.target_backbone(v)) for v in views[:2])
        return normalized_mse(p1, t2) + normalized_mse(p2, t1)  # symmetrised, summed as in the paper

    def tau(self, progress: float) -> float:
        m = self.params
        return cosine_momentum(m.target_momentum, progress) if m.target_schedule == "cosine" else m.target_momentum

    def after_optimizer_step(self, progress: float) -> None:
        tau = self.tau(progress)
        ema_update(self.target_backbone, self.backbone, tau)
        ema_update(self.target_head, self.head, tau)
