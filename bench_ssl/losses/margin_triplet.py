"""Margin triplet (SimCLR Table 4): hinge on (negative - positive) similarity plus a margin."""

from __future__ import annotations

import torch

from .pairs import masked_mean, pair_similarities, semi_hard_mask


def margin_triplet(
    z1: torch.Tensor, z2: torch.Tensor, margin: float = 0.5, normalize: bool = True, semi_hard: bool = False
) -> torch.Tensor:
    """Mean over anchors of mean_neg max(0, s_neg - s_pos + margin); semi_hard drops negatives above s_pos."""
    sim, positive, negative = pair_similarities(z1, z2, normalize)
    if semi_hard:
        negative = semi_hard_mask(sim, positive, negative)
    pos = sim.gather(1, positive[:, None])
    return masked_mean((sim - pos + margin).clamp(min=0), negative).mean()
