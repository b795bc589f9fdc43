"""NT-Logistic (SimCLR Table 4): independent sigmoid cross-entropies, positive vs each negative."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .pairs import masked_mean, pair_similarities, semi_hard_mask


def nt_logistic(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, normalize: bool = True, semi_hard: bool = False
) -> torch.Tensor:
    """Mean over anchors of -log s(pos/t) - mean_neg log s(-neg/t).

    The negatives' term is averaged (not summed) so that the single positive and the 2N-2 negatives carry
    equal weight, the balancing SimCLR applies; with semi_hard only negatives less similar than the
    positive count.
    """
    sim, positive, negative = pair_similarities(z1, z2, normalize)
    if semi_hard:
        negative = semi_hard_mask(sim, positive, negative)
    logits = sim / temperature
    pos_term = -F.logsigmoid(logits.gather(1, positive[:, None])).squeeze(1)
    neg_term = masked_mean(-F.logsigmoid(-logits), negative)
    return (pos_term + neg_term).mean()
