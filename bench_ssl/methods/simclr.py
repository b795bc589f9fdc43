"""SimCLR: two views of each image, one encoder, a contrastive loss over the 2N projections."""

from __future__ import annotations

import torch

from ..losses import margin_triplet, nt_logistic, nt_xent
from .base import Method, register


@register("simclr")
class SimCLR(Method):
    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        n = views[0].shape[0]
        z = self.project(torch.cat(views))  # one forward pass: BN statistics over both views, like SimCLR
        z1, z2 = z[:n], z[n:]
        m = self.cfg.method
        if m.loss == "nt_xent":
            return nt_xent(z1, z2, m.temperature, m.normalize)
        if m.loss == "nt_logistic":
            return nt_logistic(z1, z2, m.temperature, m.normalize, m.semi_hard)
        return margin_triplet(z1, z2, m.margin, m.normalize, m.semi_hard)
