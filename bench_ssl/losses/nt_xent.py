"""NT-Xent (SimCLR): softmax cross-entropy of each anchor's positive against all 2N-2 negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .pairs import pair_similarities


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, normalize: bool = True) -> torch.Tensor:
    """Mean over all 2N anchors of -log softmax(sim/temperature)[positive], the anchor itself excluded."""
    sim, positive, _ = pair_similarities(z1, z2, normalize)
    itself = torch.eye(sim.shape[0], dtype=torch.bool, device=sim.device)
    return F.cross_entropy((sim / temperature).masked_fill(itself, float("-inf")), positive)
