"""The 2N x 2N similarity layout shared by SimCLR's losses: view i of sample n pairs with the other view of n."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pair_similarities(z1: torch.Tensor, z2: torch.Tensor, normalize: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (sim, positive_index, negative_mask) over the 2N stacked projections.

    sim[a, b] is the dot product (cosine if normalize) of anchors a and b, in float32 whatever the
    autocast dtype, because the losses exponentiate it. The positive of anchor a is a+N mod 2N; its
    negatives are every other anchor except itself.
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must both be (N, D); got {tuple(z1.shape)} and {tuple(z2.shape)}")
    z = torch.cat([z1, z2]).float()
    if normalize:
        z = F.normalize(z, dim=1)
    sim = z @ z.T
    n2 = z.shape[0]
    idx = torch.arange(n2, device=z.device)
    positive = (idx + n2 // 2) % n2
    negative = torch.ones(n2, n2, dtype=torch.bool, device=z.device)
    negative[idx, idx] = False
    negative[idx, positive] = False
    return sim, positive, negative


def semi_hard_mask(sim: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Negatives no more similar to the anchor than its positive (harder ones are dropped)."""
    pos = sim.gather(1, positive[:, None])
    return negative & (sim < pos)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row-wise mean of values where mask is set; a row with no entry counts 0."""
    total = (values * mask).sum(1)
    return total / mask.sum(1).clamp(min=1)
