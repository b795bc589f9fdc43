"""Supervised contrastive learning (Khosla et al. 2020): SimCLR's two views, with every same-class
sample in the batch also a positive. `method.supcon_variant` picks L_out (default) or L_in."""

from __future__ import annotations

import torch

from ..losses import SupConParams, supcon
from ..registry import METHODS
from .base import Method


@METHODS.register("supcon", SupConParams)
class SupCon(Method):
    """Supervised contrastive learning: every same-class sample in the batch is a positive too"""

    needs_labels = True

    fusable = True

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        # one forward pass: BN statistics over all views, as in SupCon's code
        return self.fused_loss({"online": self.project(torch.cat(views))}, views, labels, index)

    def fused_inputs(self, views, labels, index) -> dict[str, torch.Tensor]:
        return {"online": torch.cat(views)}

    def fused_loss(self, encoded, views, labels, index) -> torch.Tensor:
        m = self.params
        n, v = views[0].shape[0], len(views)
        z = encoded["online"].view(v, n, -1).transpose(0, 1)  # (N, V, D)
        return supcon(z, labels, temperature=m.temperature, variant=m.supcon_variant, normalize=m.normalize,
                      max_positives=m.max_positives)
