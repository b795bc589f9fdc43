"""`color`: SimCLR colour distortion (ColorJitter with prob p, then RandomGrayscale), per image.

Each adjustment follows torchvision.transforms.v2.functional on float tensors (adjust_brightness,
adjust_contrast, adjust_saturation, adjust_hue, rgb_to_grayscale), clamped to [0,1] after each op;
brightness is bit-exact, the others agree to ~1e-7 (hue ~1e-6, see hsv_to_rgb).
Random order is per image and sync-free: brightness/contrast/saturation are all one blend
`f*x + (1-f)*ref` (ref = 0, mean grey, grey), so at each position every image blends with the
op its own permutation puts there; hue (the costly HSV round trip) runs once, between the
positions before and after each image's hue slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..params import param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images, grayscale, per_sample, uniform

BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)  # torchvision ColorJitter's op indices


def rgb_to_hsv(img: Tensor) -> Tensor:
    """(B,3,H,W) RGB -> HSV in [0,1]; torchvision's `_rgb_to_hsv` (Pillow's algorithm, same tie rules)."""
    r, g, b = img.unbind(dim=-3)
    maxc = torch.maximum(torch.maximum(r, g), b)  # = torch.aminmax(dim=-3), ~7x faster on CPU
    minc = torch.minimum(torch.minimum(r, g), b)
    eqc = maxc == minc
    channels_range = maxc - minc
    ones = torch.ones_like(maxc)
    s = channels_range / torch.where(eqc, ones, maxc)
    divisor = torch.where(eqc, ones, channels_range).unsqueeze_(-3)
    rc, gc, bc = ((maxc.unsqueeze(-3) - img) / divisor).unbind(dim=-3)
    max_r = maxc == r
    max_g = (maxc == g) & ~max_r
    max_b = ~(max_r | max_g)
    h = (bc - gc).mul_(max_r)
    h += (rc + 2.0).sub_(bc).mul_(max_g)
    h += (gc + 4.0).sub_(rc).mul_(max_b)
    h = h.mul_(1.0 / 6.0).add_(1.0).fmod_(1.0)
    return torch.stack((h, s, maxc), dim=-3)


def hsv_to_rgb(img: Tensor) -> Tensor:
    """HSV -> RGB by the closed form c = v - v*s*clamp(min(k, 4-k), 0, 1), k = (n + 6h) mod 6, n = 5,3,1.

    Same piecewise-linear map as torchvision's table lookup (which picks v, p, q, t by sector);
    it differs only in float rounding (<= ~1e-6) and needs a handful of kernels instead of dozens.
    """
    h, s, v = img.unsqueeze(-3).unbind(dim=-4)  # each (..., 1, H, W)
    n = torch.arange(5.0, 0.0, -2.0, dtype=img.dtype, device=img.device).view(3, 1, 1)  # 5, 3, 1
    k = (h * 6.0 + n).remainder_(6.0)  # (..., 3, H, W)
    w = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    return v - w.mul_(v * s)


def adjust_hue(x: Tensor, hue: Tensor) -> Tensor:
    """Shift hue by a per-sample (B,) amount in [-0.5, 0.5] (torchvision's adjust_hue, batched)."""
    hsv = rgb_to_hsv(x)
    hsv[:, 0].add_(hue.view(-1, 1, 1)).remainder_(1.0)
    return hsv_to_rgb(hsv).clamp_(0.0, 1.0)


@dataclass
class ColorParams:
    strength: float = param(0.5, low=0.0, help="s: jitter (0.8s, 0.8s, 0.8s, 0.2s); SimCLR's CIFAR-10 value")
    p: float = param(0.8, low=0.0, high=1.0, help="probability of the jitter")
    gray_p: float = param(0.2, low=0.0, high=1.0, help="probability of grey afterwards")
    random_order: bool = param(True, help="each image applies the four jitters in its own random order")


@AUGMENTATIONS.register("color", ColorParams)
class ColorDistortion(Augmentation):
    """SimCLR colour distortion of strength s: jitter(0.8s, 0.8s, 0.8s, 0.2s) w.p. p, then grey w.p. gray_p."""

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Factor ranges, as torchvision's ColorJitter derives them from (0.8s, 0.8s, 0.8s, 0.2s)."""
        j, hue = 0.8 * self.strength, min(0.2 * self.strength, 0.5)
        lohi = (max(0.0, 1.0 - j), 1.0 + j)
        return {"brightness": lohi, "contrast": lohi, "saturation": lohi, "hue": (-hue, hue)}

    def sample(self, n, size, generator, device):
        """Factors per op, 'order' (n,4) = op index at each position, masks 'jitter' and 'gray'."""
        params = {k: uniform(n, lo, hi, generator, device) for k, (lo, hi) in self.ranges().items()}
        if self.random_order:
            params["order"] = torch.rand(n, 4, generator=generator, device=device).argsort(dim=1)
        else:
            params["order"] = torch.arange(4, device=device).expand(n, 4).contiguous()
        params["jitter"] = bernoulli(n, self.p, generator, device)
        params["gray"] = bernoulli(n, self.gray_p, generator, device)
        return params

    def apply(self, x, params):
        check_images(x)
        jitter, hue = per_sample(params["jitter"], x), params["hue"].to(x.device, x.dtype)
        before, after = self._blend_coefficients(params, x)
        # Each image applies hue exactly once, so run the blends before it, one hue pass, then the
        # blends after it: 6 cheap blend passes + 1 HSV round trip instead of 4 of each.
        for coef in before:
            x = self._blend(x, *coef)
        # hue 0 is skipped explicitly: the HSV round trip is not bit-exact, and strength 0 must be.
        x = torch.where(jitter & (per_sample(hue, x) != 0), adjust_hue(x, hue), x)
        for coef in after:
            x = self._blend(x, *coef)
        return torch.where(per_sample(params["gray"], x), grayscale(x).expand_as(x), x)

    @staticmethod
    def _blend_coefficients(params, x: Tensor):
        """All six blend passes' per-image coefficients at once (few, batched ops: the ops are launch-bound).

        brightness/contrast/saturation are torchvision's blend f*x + (1-f)*ref with ref = 0, the mean grey
        or the grey image, i.e. f*x + g*grey + m*mean(grey) with g = (1-f)[op is saturation] and
        m = (1-f)[op is contrast]. Inactive slots (no jitter, the hue slot, or the wrong side of hue)
        get f=1, g=m=0: the exact identity. Returns (before, after): 3 passes each of (f, g, m), (B,1,1,1).
        """
        order, jitter = params["order"].to(x.device), params["jitter"].to(x.device).view(-1, 1)
        factors = torch.stack([params[k] for k in ("brightness", "contrast", "saturation")], dim=1).to(x.device, x.dtype)
        factors = torch.cat((factors, torch.ones_like(factors[:, :1])), dim=1)  # hue slot: factor 1 = identity
        f = factors.gather(1, order)  # (B,4): the factor of the op at each position
        hue_pos = (order == HUE).to(torch.uint8).argmax(dim=1, keepdim=True)
        pos = torch.arange(4, device=x.device)
        active = torch.cat((jitter & (pos[:3] < hue_pos), jitter & (pos[1:] > hue_pos)), dim=1)  # (B,6)
        op = torch.cat((order[:, :3], order[:, 1:]), dim=1)
        f = torch.where(active, torch.cat((f[:, :3], f[:, 1:]), dim=1), 1.0)
        rest = 1.0 - f
        coef = torch.stack((f, rest * (op == SATURATION), rest * (op == CONTRAST)), dim=0)  # (3,B,6)
        passes = coef.permute(2, 0, 1).reshape(6, 3, -1, 1, 1, 1).unbind(0)
        return [p.unbind(0) for p in passes[:3]], [p.unbind(0) for p in passes[3:]]

    @staticmethod
    def _blend(x: Tensor, f: Tensor, g: Tensor, m: Tensor) -> Tensor:
        """One blend pass, op chosen per image through its coefficients (see _blend_coefficients)."""
        gray = grayscale(x)
        out = torch.addcmul(x * f, gray, g)
        return out.addcmul_(gray.mean((1, 2, 3), True), m).clamp_(0.0, 1.0)
