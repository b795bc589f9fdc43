"""Supervised contrastive learning (Khosla et al. 2020): SimCLR's two views, with every same-class
sample in the batch also a positive. `method.supcon_variant` picks L_out (default) or L_in."""

from __future__ import annotations

import torch

from ..losses import supcon
from .base import Method, register


@register("supcon")
class SupCon(Method):
    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        m = self.cfg.method
        n, v = views[0].shape[0], len(views)
        z = self.project(torch.cat(views))  # one forward pass: BN statistics over all views, as in SupCon's code
        z = z.view(v, n, -1).transpose(0, 1)  # (N, V, D)
        return supcon(z, labels, m.temperature, m.supcon_variant, m.normalize)
