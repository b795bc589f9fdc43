"""NT-Logistic (SimCLR Table 4): independent sigmoid cross-entropies, positive vs each negative."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import LOSSES
from .pairs import masked_mean, pair_similarities, semi_hard_mask


@dataclass
class NTLogisticParams:
    temperature: float = param(0.5, low=0.0, low_open=True, help="tau of the sigmoids")
    normalize: bool = param(True, help="cosine similarities (l2-normalised projections), else raw dot products")
    semi_hard: bool = param(False, help="only negatives less similar than the positive count")


P = NTLogisticParams


@LOSSES.register("nt_logistic", NTLogisticParams)
def nt_logistic(z1: torch.Tensor, z2: torch.Tensor, temperature: float = P.temperature, normalize: bool = P.normalize,
                semi_hard: bool = P.semi_hard) -> torch.Tensor:
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
