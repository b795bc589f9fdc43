"""Context prediction (Doersch, Gupta & Efros 2015): a centre patch and one of its 8 neighbours in a 3 x 3
grid; a shared patch encoder (the backbone) on each, and a classifier on the two features names where the
neighbour sits (0 = top-left ... 7 = bottom-right, row-major, the centre skipped).

Simplified at CIFAR resolution: the 3 x 3 grid covers the central 3 * floor(H / 3) pixels (30 of 32); each
patch is cut `gap` pixels smaller than its cell at a random offset and zero-padded back (the paper's gaps of
half a patch and jitter of 7 pixels at 96-pixel patches); the paper's remedies for chromatic aberration
(dropping colour channels, projecting out green-magenta) are left out."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..params import param
from ..registry import METHODS
from .base import Method
from .tiles import cut_tiles, encode

NEIGHBOURS = (0, 1, 2, 3, 5, 6, 7, 8)  # tile indices of the 3 x 3 grid around the centre (4), row-major


@dataclass
class RelativePatchParams:
    gap: int = param(2, low=0, help="pixels a patch is cut smaller than its cell, at a random offset")
    hidden_dim: int = param(512, low=1, help="width of the classifier's hidden layer")


def centre_and_neighbour(x: torch.Tensor, position: torch.Tensor, gap: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(centre patches, neighbour patches), each (B, C, c, c): the neighbour at NEIGHBOURS[position[b]]."""
    h = x.shape[-1]
    cell = h // 3
    o = (h - 3 * cell) // 2
    tiles = cut_tiles(x[..., o:o + 3 * cell, o:o + 3 * cell], 3, gap, "method.gap")
    index = torch.tensor(NEIGHBOURS, device=x.device)[position]
    b = torch.arange(x.shape[0], device=x.device)
    return tiles[:, 4], tiles[b, index]


@METHODS.register("relative_patch", RelativePatchParams)
class RelativePatch(Method):
    """Name which of the 8 neighbours of the centre patch the second patch is (shared patch encoder)"""

    n_views = 1
    uses_head = False

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        d = self.backbone.out_dim
        self.classifier = nn.Sequential(nn.Linear(2 * d, self.params.hidden_dim), nn.ReLU(inplace=True),
                                        nn.Linear(self.params.hidden_dim, len(NEIGHBOURS)))

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        x = views[0]
        b = x.shape[0]
        position = torch.randint(0, len(NEIGHBOURS), (b,), device=x.device)
        centre, neighbour = centre_and_neighbour(x, position, self.params.gap)
        feats = encode(self.backbone, torch.cat([centre, neighbour]), "method.gap").view(2, b, -1)
        return F.cross_entropy(self.classifier(torch.cat([feats[0], feats[1]], 1)).float(), position)
