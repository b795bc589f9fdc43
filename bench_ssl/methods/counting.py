"""Learning to count (Noroozi, Pirsiavash & Favaro 2017): a "count" vector c(.) = ReLU(linear(backbone(.)))
must be additive: the counts of the image seen whole at half resolution, D(x), equal the sum of the counts of
its four quarter tiles T_1..T_4(x) at full resolution. A contrastive term keeps the counts of another image y
at least M = `contrast_margin` away, so the trivial c = 0 does not solve it:

    loss = |c(D(x)) - sum_j c(T_j(x))|^2 + max(0, M - |c(D(y)) - sum_j c(T_j(x))|^2)

Simplified at CIFAR resolution: D is 2 x 2 average pooling and the tiles are the exact quarters (16 pixels of
32, the paper's 114 of 228); y is the next image of the batch; the count vector has `count_dim` entries (the
paper: 1000)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..params import param
from ..registry import METHODS
from .base import Method
from .tiles import cut_tiles, encode


@dataclass
class CountingParams:
    count_dim: int = param(256, low=1, help="entries of the count vector")
    contrast_margin: float = param(10.0, low=0.0, low_open=True, help="squared distance M kept to another image's counts")


def counting_loss(whole: torch.Tensor, tiles_sum: torch.Tensor, other: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over the batch of |whole - tiles_sum|² + max(0, margin - |other - tiles_sum|²)."""
    same = (whole - tiles_sum).pow(2).sum(1)
    apart = (other - tiles_sum).pow(2).sum(1)
    return (same + F.relu(margin - apart)).mean()


def views_for_counting(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(D(x): (B, C, H/2, W/2), tiles: (B, 4, C, H/2, W/2)), both at the same size."""
    return F.avg_pool2d(x, 2), cut_tiles(x, 2, 0, "method (counting needs an even image size)")


@METHODS.register("counting", CountingParams)
class Counting(Method):
    """The counts of the half-resolution image equal the sum of its four tiles' counts (plus a contrastive term)"""

    n_views = 1
    uses_head = False  # the count layer is its own head

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        self.count = nn.Linear(self.backbone.out_dim, self.params.count_dim)

    def counts(self, z: torch.Tensor) -> torch.Tensor:
        return F.relu(self.count(encode(self.backbone, z, "method"))).float()

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        down, tiles = views_for_counting(views[0])
        b = down.shape[0]
        c = self.counts(torch.cat([down, tiles.flatten(0, 1)]))
        whole, tile_counts = c[:b], c[b:].view(b, 4, -1)
        return counting_loss(whole, tile_counts.sum(1), whole.roll(1, 0), self.params.contrast_margin)
