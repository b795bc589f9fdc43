"""RotNet (Gidaris et al. 2018, "Unsupervised representation learning by predicting image rotations"): every
image of the batch in all four rotations (0, 90, 180, 270 degrees), a linear classifier on the backbone's
features predicts which. The pretext baseline SSL surveys compare contrastive learning against.

Simplified at CIFAR resolution: the backbone is the harness's (the paper used NIN blocks and found its second
block's features best); here the final pooled features are evaluated, like every method's. One augmented view
(augment.view1, e.g. crop and flip) is rotated, so a batch of B images trains on 4B, as in the paper."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import METHODS
from .base import Method

ROTATIONS = 4


def rotate_all(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(4B, C, H, W) images and their labels: the batch rotated by k * 90 degrees counter-clockwise has label k,
    blocks in the order k = 0, 1, 2, 3."""
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotation needs square images, got {tuple(x.shape[-2:])}; crop to a square size")
    images = torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(ROTATIONS)])
    labels = torch.arange(ROTATIONS, device=x.device).repeat_interleave(x.shape[0])
    return images, labels


@METHODS.register("rotation")
class Rotation(Method):
    """Predict which of four rotations (0/90/180/270) was applied, every image in all four"""

    n_views = 1
    uses_head = False  # the rotation classifier sits on the features

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        self.classifier = nn.Linear(self.backbone.out_dim, ROTATIONS)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        images, targets = rotate_all(views[0])
        return F.cross_entropy(self.classifier(self.backbone(images)).float(), targets)
