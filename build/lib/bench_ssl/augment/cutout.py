"""`cutout`: fill one square per image (DeVries & Taylor 2017), clipped by the border."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..params import param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images


@dataclass
class CutoutParams:
    p: float = param(1.0, low=0.0, high=1.0, help="probability of cutting a square out of an image")
    size: float = param(0.5, low=0.0, high=1.0, low_open=True, help="side of the square, as a fraction of the image's")
    fill: float = param(0.0, low=0.0, high=1.0, help="value the square is filled with")


@AUGMENTATIONS.register("cutout", CutoutParams)
class Cutout(Augmentation):
    """Square of side round(size*H) px centred on a uniform pixel, filled with `fill`, w.p. p.

    The square covers rows [cy - L//2, cy - L//2 + L) and the same for columns, clipped to the image.
    """

    def side(self, size: int) -> int:
        return round(self.size * size)

    def sample(self, n, size, generator, device):
        """params['center'] = (n,2) integer (row, col) pixel; 'apply' (n,) mask."""
        center = torch.randint(0, size, (n, 2), generator=generator, device=device)
        return {"center": center, "apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        size = x.shape[-1]
        side = self.side(size)
        start = params["center"].to(x.device) - side // 2  # (B,2)
        pos = torch.arange(size, device=x.device)
        inside = (pos >= start[..., None]) & (pos < start[..., None] + side)  # (B,2,size)
        mask = inside[:, 0, :, None] & inside[:, 1, None, :] & params["apply"].to(x.device).view(-1, 1, 1)
        return torch.where(mask.unsqueeze(1), self.fill, x)
