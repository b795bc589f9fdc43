"""Margin triplet (SimCLR Table 4): hinge on (negative - positive) similarity plus a margin."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..params import param
from ..registry import LOSSES
from .pairs import masked_mean, pair_similarities, semi_hard_mask


@dataclass
class MarginTripletParams:
    margin: float = param(0.5, low=0.0, help="the hinge's margin on similarities")
    normalize: bool = param(True, help="cosine similarities (l2-normalised projections), else raw dot products")
    semi_hard: bool = param(False, help="drop negatives more similar than the positive")


P = MarginTripletParams


@LOSSES.register("margin_triplet", MarginTripletParams)
def margin_triplet(z1: torch.Tensor, z2: torch.Tensor, margin: float = P.margin, normalize: bool = P.normalize,
                   semi_hard: bool = P.semi_hard) -> torch.Tensor:
    """Mean over anchors of mean_neg max(0, s_neg - s_pos + margin); semi_hard drops negatives above s_pos."""
    sim, positive, negative = pair_similarities(z1, z2, normalize)
    if semi_hard:
        negative = semi_hard_mask(sim, positive, negative)
    pos = sim.gather(1, positive[:, None])
    return masked_mean((sim - pos + margin).clamp(min=0), negative).mean()
