"""BYOL's regression loss: squared distance between unit vectors, ||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def normalized_mse(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of 2 - 2 cos(p, z), with z (the target network's projection) detached."""
    if p.dim() != 2 or p.shape != z.shape:
        raise ValueError(f"p and z must both be (N, D); got {tuple(p.shape)} and {tuple(z.shape)}")
    p, z = F.normalize(p.float(), dim=1), F.normalize(z.detach().float(), dim=1)
    return (2 - 2 * (p * z).sum(1)).mean()
