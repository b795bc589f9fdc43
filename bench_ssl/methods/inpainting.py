"""Context encoder (Pathak et al. 2016): the central square of the image is blanked, the backbone encodes
what is left, and a small decoder reconstructs the missing square; L2 loss on that square.

Simplified at CIFAR resolution: the blanked square is `mask_fraction` of the side (16 of 32 pixels; the paper:
the central 64 of 128), filled with 0, which is the dataset mean after normalisation; the decoder starts from
the backbone's pooled features (a linear layer to a 4 x 4 map, two transposed convolutions to 16 x 16, resized
to the square's side), where the paper
used a channel-wise fully connected layer on the encoder's last feature map; the adversarial term of the paper
is not used (L2 only), and the paper's overlap weighting of the square's border is left out."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import METHODS
from .base import Method
from .decoder import MapDecoder


@dataclass
class InpaintingParams:
    mask_fraction: float = param(0.5, low=0.0, high=1.0, low_open=True, high_open=True,
                                 help="side of the blanked central square, as a fraction of the image side")
    decoder_width: int = param(128, low=1, help="channels of the decoder's first map")


def mask_centre(x: torch.Tensor, fraction: float) -> tuple[torch.Tensor, tuple[int, int]]:
    """(the images with the central square set to 0, (start, side)): rows and columns start:start+side."""
    h = x.shape[-1]
    side = max(1, round(h * fraction))
    start = (h - side) // 2
    masked = x.clone()
    masked[..., start:start + side, start:start + side] = 0
    return masked, (start, side)


@METHODS.register("inpainting", InpaintingParams)
class Inpainting(Method):
    """Reconstruct the blanked central square from its context (L2)"""

    n_views = 1
    uses_head = False

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        self.decoder = MapDecoder(self.backbone.out_dim, self.params.decoder_width, 3)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        x = views[0]
        masked, (start, side) = mask_centre(x, self.params.mask_fraction)
        pred = self.decoder(self.backbone(masked), side).float()
        target = x[..., start:start + side, start:start + side].float()
        return F.mse_loss(pred, target)
