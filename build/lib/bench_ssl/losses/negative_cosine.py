"""SimSiam's D(p, z) = -cos(p, stopgrad(z)): the predictor output regresses the other view's projection."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -cos(p, z), with z detached (the stop-gradient SimSiam needs not to collapse)."""
    if p.dim() != 2 or p.shape != z.shape:
        raise ValueError(f"p and z must both be (N, D); got {tuple(p.shape)} and {tuple(z.shape)}")
    p, z = F.normalize(p.float(), dim=1), F.normalize(z.detach().float(), dim=1)
    return -(p * z).sum(1).mean()
