"""`sobel`: Sobel edge magnitude of the grey image, rescaled per image, as 3 channels.

Replicate padding, so a constant image (or border) gives exactly zero gradient; the kernels are
written as shifted slices rather than a conv weight, avoiding a host->device copy per call.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images, grayscale, per_sample

EPS = 1e-12  # guards the per-image max of an all-flat image


def sobel_magnitude(x):
    """(B,3,H,W) -> (B,1,H,W) gradient magnitude sqrt(gx^2 + gy^2) of the grey image."""
    p = F.pad(grayscale(x), (1, 1, 1, 1), mode="replicate")
    top, mid, bot = p[..., :-2, :], p[..., 1:-1, :], p[..., 2:, :]
    smooth_y = top + 2 * mid + bot  # [1,2,1] down columns, then x-difference
    gx = smooth_y[..., 2:] - smooth_y[..., :-2]
    smooth_x = p[..., :-2] + 2 * p[..., 1:-1] + p[..., 2:]  # [1,2,1] along rows, then y-difference
    gy = smooth_x[..., 2:, :] - smooth_x[..., :-2, :]
    return torch.sqrt(gx * gx + gy * gy)


@dataclass
class SobelParams:
    p: float = param(1.0, low=0.0, high=1.0, help="probability of replacing an image by its edges")


@AUGMENTATIONS.register("sobel", SobelParams)
class Sobel(Augmentation):
    """Replace the image by its edge map, divided by its max (in [0,1]), with probability p."""

    def sample(self, n, size, generator, device):
        return {"apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        mag = sobel_magnitude(x)
        mag = mag / mag.amax(dim=(1, 2, 3), keepdim=True).clamp_min(EPS)
        return mag.expand_as(x).where(per_sample(params["apply"], x), x)
