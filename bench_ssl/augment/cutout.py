"""`cutout`: fill one square per image (DeVries & Taylor 2017), clipped by the border."""

from __future__ import annotations

import torch

from ._base import Augmentation, bernoulli, check_images, check_prob


class Cutout(Augmentation):
    """Square of side round(size*H) px centred on a uniform pixel, filled with `fill`, w.p. p.

    The square covers rows [cy - L//2, cy - L//2 + L) and the same for columns, clipped to the image.
    """

    name = "cutout"

    def __init__(self, size: float = 0.5, fill: float = 0.0, p: float = 1.0):
        self.size = check_prob(self.name, "size", size)
        self.fill = check_prob(self.name, "fill", fill)
        self.p = check_prob(self.name, "p", p)

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
