"""`blur`: Gaussian blur with a per-sample sigma, SimCLR's kernel of ~10% of the image side.

Same kernel as torchvision's gaussian_blur (its 1-D kernel, reflect padding), applied separably
as two depthwise convolutions with one kernel per image (groups = B*3); torchvision uses the
2-D outer product in one conv, so results agree to float rounding (~1e-7), not bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images, per_sample, uniform


def kernel_size(size: int, frac: float) -> int:
    """int(frac * side), made odd, at least 3 (SimCLR: 10% of the side)."""
    k = int(frac * size)
    k += 1 - k % 2
    return max(k, 3)


def gaussian_kernels(k: int, sigma, dtype, device):
    """(B,k) normalised 1-D kernels, computed exactly like torchvision's _get_gaussian_kernel1d."""
    lim = (k - 1) / (2.0 * math.sqrt(2.0))
    t = torch.linspace(-lim, lim, steps=k, dtype=dtype, device=device)
    return torch.softmax(t.div(sigma.to(dtype).view(-1, 1)).pow(2).neg(), dim=1)


@dataclass
class BlurParams:
    p: float = param(0.5, low=0.0, high=1.0, help="probability of blurring an image")
    sigma: tuple[float, float] = param((0.1, 2.0), low=0.0, low_open=True, help="each image's sigma ~ U(low, high)")
    kernel_frac: float = param(0.1, low=0.0, high=1.0, low_open=True, help="kernel side as a fraction of the image's")


@AUGMENTATIONS.register("blur", BlurParams)
class GaussianBlur(Augmentation):
    """Blur each image w.p. p with sigma ~ U(sigma); params 'sigma' (n,) and 'apply' (n,)."""

    def sample(self, n, size, generator, device):
        return {"sigma": uniform(n, *self.sigma, generator, device), "apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        b, c, size, _ = x.shape
        k = kernel_size(size, self.kernel_frac)
        if k // 2 >= size:
            raise ValueError(f"blur: kernel {k} too large for {size}px images (reflect padding needs k//2 < side)")
        w = gaussian_kernels(k, params["sigma"].to(x.device), x.dtype, x.device).repeat_interleave(c, dim=0)
        y = F.pad(x.reshape(1, b * c, size, size), [k // 2] * 4, mode="reflect")
        y = F.conv2d(y, w.view(b * c, 1, 1, k), groups=b * c)  # along width
        y = F.conv2d(y, w.view(b * c, 1, k, 1), groups=b * c)  # along height
        return y.view(b, c, size, size).where(per_sample(params["apply"], x), x)
