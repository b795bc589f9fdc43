"""`crop`: Inception-style RandomResizedCrop, vectorised over the batch.

Boxes are CONTINUOUS (fractions of the side, not rounded to pixels), so the area fraction is
exactly the drawn one and always within `scale` (given `ratio` contains 1, as by default; see
the fallback in sample()). torchvision rounds w/h to integers and draws integer offsets; the
distributions otherwise match. Resampling is bilinear via `affine_grid` + `grid_sample`
(align_corners=False, border padding), i.e. torchvision's `resized_crop(..., antialias=False)`
except at the crop's outermost output pixels (we read the true neighbours outside the box,
torchvision clamps at the crop edge). Antialiasing is moot: the output is never smaller than the crop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, check_images, uniform

ATTEMPTS = 10  # torchvision's number of tries before falling back


@dataclass
class CropParams:
    scale: tuple[float, float] = param((0.08, 1.0), low=0.0, high=1.0, low_open=True, help="area fraction ~ U(scale)")
    ratio: tuple[float, float] = param((3 / 4, 4 / 3), low=0.0, low_open=True, help="log aspect ratio ~ U(log ratio)")


@AUGMENTATIONS.register("crop", CropParams)
class RandomResizedCrop(Augmentation):
    """Crop a random box (area fraction ~ U(scale), log aspect ~ U(log ratio)) and resize back."""

    def sample(self, n, size, generator, device):
        """params['box'] = (n,4) [x0, y0, w, h] as fractions of the side; w*h is the area fraction."""
        area = uniform((n, ATTEMPTS), *self.scale, generator, device)
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = torch.exp(uniform((n, ATTEMPTS), log_lo, log_hi, generator, device))
        w, h = torch.sqrt(area * aspect), torch.sqrt(area / aspect)
        valid = (w <= 1.0) & (h <= 1.0)
        first = valid.to(torch.uint8).argmax(dim=1, keepdim=True)  # index of the first valid try
        w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)
        # Fallback: a square of area ~ U(scale), which always fits (scale <= 1, square images).
        # If `ratio` excludes 1, the aspect is clamped into it and the area shrunk until it fits.
        r = min(max(1.0, self.ratio[0]), self.ratio[1])
        area = uniform(n, *self.scale, generator, device).clamp(max=min(r, 1.0 / r))
        ok = valid.any(dim=1)
        w = torch.where(ok, w, torch.sqrt(area * r).clamp(max=1.0))
        h = torch.where(ok, h, torch.sqrt(area / r).clamp(max=1.0))
        x0 = torch.rand(n, generator=generator, device=device) * (1.0 - w)
        y0 = torch.rand(n, generator=generator, device=device) * (1.0 - h)
        return {"box": torch.stack((x0, y0, w, h), dim=1)}

    def apply(self, x, params):
        check_images(x)
        x0, y0, w, h = params["box"].to(device=x.device, dtype=x.dtype).unbind(dim=1)
        zero = torch.zeros_like(w)
        # Output normalised coord u in [-1,1] maps to input 2*(x0 + w*(u+1)/2) - 1 = w*u + (2*x0 + w - 1).
        theta = torch.stack(
            (torch.stack((w, zero, 2 * x0 + w - 1), dim=1), torch.stack((zero, h, 2 * y0 + h - 1), dim=1)),
            dim=1,
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
