"""NT-Xent (SimCLR): softmax cross-entropy of each anchor's positive against all 2N-2 negatives."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import LOSSES
from .pairs import itself_mask, pair_similarities


@dataclass
class NTXentParams:
    temperature: float = param(0.5, low=0.0, low_open=True, help="tau of the softmax (SimCLR's CIFAR-10 value)")
    normalize: bool = param(True, help="cosine similarities (l2-normalised projections), else raw dot products")


@LOSSES.register("nt_xent", NTXentParams)
def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = NTXentParams.temperature,
            normalize: bool = NTXentParams.normalize) -> torch.Tensor:
    """Mean over all 2N anchors of -log softmax(sim/temperature)[positive], the anchor itself excluded."""
    sim, positive, _ = pair_similarities(z1, z2, normalize)
    return F.cross_entropy((sim / temperature).masked_fill(itself_mask(sim, positive), float("-inf")), positive)
