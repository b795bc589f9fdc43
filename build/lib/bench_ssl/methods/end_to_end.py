"""End-to-end mechanism of MoCo Fig. 2a/3: queries and keys from the same, gradient-carrying encoder.

Negatives are the other keys of the current batch, so K = batch size - 1 and the dictionary is as large
as memory allows; same encoder, head and InfoNCE loss as `moco` and `memory_bank`, for a K sweep on
equal terms. Both views go through one forward pass, so BN statistics are shared by queries and keys
alike and give no shortcut.
"""

from __future__ import annotations

import torch

from ..losses import InfoNCEParams, infonce
from ..registry import METHODS
from .base import Method


@METHODS.register("end_to_end", InfoNCEParams)
class EndToEnd(Method):
    """MoCo Fig. 3's end-to-end mechanism: the negatives are the other keys of the batch (K = batch - 1)"""

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        m = self.params
        n = views[0].shape[0]
        z = self.project(torch.cat(views[:2]))
        return infonce(z[:n], z[n:], None, temperature=m.temperature, normalize=m.normalize)
