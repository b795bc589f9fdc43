"""Filters the corruptions share, batched: Gaussian blur as scikit-image computes it (nearest-edge, kernel
truncated at 4 sigma), 2-D correlation with a kernel, the centre zoom of the reference's `clipped_zoom`, a
motion blur along a per-image angle, and the diamond-square plasma fractal of fog."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> Tensor:
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2) if sigma > 0 else (x == 0).double()
    return (k / k.sum()).float()


def pad_index(n: int, r: int, mode: str, device) -> Tensor:
    """Indices of a row of n padded by r each side, by scipy.ndimage's boundary modes: 'nearest' repeats the
    edge, 'reflect' mirrors about it (d c b a | a b c d), as often as r needs."""
    i = torch.arange(-r, n + r, device=device)
    if mode == "nearest":
        return i.clamp(0, n - 1)
    if mode == "reflect":
        j = i.remainder(2 * n)
        return torch.where(j < n, j, 2 * n - 1 - j)
    raise ValueError(f"mode {mode!r}: use 'nearest' or 'reflect'")


def gaussian_blur(x: Tensor, sigma: float, truncate: float = 4.0, mode: str = "nearest") -> Tensor:
    """(B,C,H,W) blurred over H and W as scikit-image's `gaussian` (scipy's gaussian_filter: the kernel cut at
    truncate x sigma, edges by `mode`)."""
    if sigma <= 0:
        return x
    k = gaussian_kernel1d(sigma, truncate).to(x.device, x.dtype)
    r, c = k.numel() // 2, x.shape[1]
    x = x.index_select(3, pad_index(x.shape[3], r, mode, x.device))
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = x.index_select(2, pad_index(x.shape[2], r, mode, x.device))
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def correlate(x: Tensor, kernel: Tensor) -> Tensor:
    """Each channel correlated with a square kernel (anchor at its centre), edges reflected without repeating
    the edge pixel (OpenCV's default border)."""
    r, c = kernel.shape[-1] // 2, x.shape[1]
    pad = F.pad(x, (r, r, r, r), mode="reflect")
    return F.conv2d(pad, kernel.to(x.device, x.dtype).view(1, 1, *kernel.shape).expand(c, 1, -1, -1), groups=c)


def clipped_zoom(x: Tensor, factor: float) -> Tensor:
    """Zoom into the centre by `factor`: the central ceil(side / factor) square, resized (linear, corners
    aligned, as scipy.ndimage.zoom with order 1) to round(that x factor), its central `side` square kept."""
    h = x.shape[-1]
    ch = int(math.ceil(h / factor))
    top = (h - ch) // 2
    crop = x[..., top:top + ch, top:top + ch]
    size = int(round(ch * factor))
    if size != ch:
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=True)
    trim = (crop.shape[-1] - h) // 2
    return crop[..., trim:trim + h, trim:trim + h]


def motion_blur(x: Tensor, radius: int, sigma: float, angle_deg: Tensor) -> Tensor:
    """A one-sided Gaussian-weighted smear of each image along its own angle (degrees): tap i of 2 radius + 1
    is the image shifted i pixels back along the angle (edges replicated), weight exp(-i^2 / 2 sigma^2); taps
    that would leave the image are dropped (the imagecorruptions package's stand-in for ImageMagick's)."""
    b, _, h, w = x.shape
    width = 2 * radius + 1
    weights = torch.exp(-torch.arange(width, dtype=torch.float64) ** 2 / (2 * sigma**2))
    weights = (weights / weights.sum()).float().tolist()
    a = torch.deg2rad(angle_deg.to(torch.float64))
    sin, cos = torch.sin(a), torch.cos(a)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    flat = x.reshape(b, x.shape[1], h * w)
    out = torch.zeros_like(x)
    for i, wt in enumerate(weights):
        dy = (-torch.ceil(i * sin - 0.5)).long().to(x.device)
        dx = (-torch.ceil(i * cos - 0.5)).long().to(x.device)
        keep = ((dy.abs() < h) & (dx.abs() < w)).to(x.dtype).view(b, 1, 1, 1)
        src_r = (rows - dy.view(b, 1, 1)).clamp(0, h - 1)
        src_c = (cols - dx.view(b, 1, 1)).clamp(0, w - 1)
        index = (src_r * w + src_c).view(b, 1, h * w).expand(-1, x.shape[1], -1)
        out += wt * keep * flat.gather(2, index).view_as(x)
    return out


def plasma_fractal(n: int, size: int, decay: float, generator: torch.Generator, device) -> Tensor:
    """(n, size, size) heightmaps in [0,1] by the diamond-square algorithm (fog), `size` a power of two; each
    midpoint is the mean of its corners plus a uniform wibble that shrinks by `decay` each level."""
    m = torch.zeros(n, size, size, dtype=torch.float64, device=device)
    step, wibble = size, 100.0

    def wibbled(a):
        return a / 4 + wibble * (torch.rand(a.shape, generator=generator, device=device, dtype=torch.float64) * 2 - 1) * wibble

    while step >= 2:
        half = step // 2
        corners = m[:, 0:size:step, 0:size:step]
        squares = corners + torch.roll(corners, -1, 1)
        squares = squares + torch.roll(squares, -1, 2)
        m[:, half:size:step, half:size:step] = wibbled(squares)
        centres = m[:, half:size:step, half:size:step]
        corners = m[:, 0:size:step, 0:size:step]
        side = centres + torch.roll(centres, 1, 1) + corners + torch.roll(corners, -1, 2)
        m[:, 0:size:step, half:size:step] = wibbled(side)
        side = centres + torch.roll(centres, 1, 2) + corners + torch.roll(corners, -1, 1)
        m[:, half:size:step, 0:size:step] = wibbled(side)
        step //= 2
        wibble /= decay
    m = m - m.amin((1, 2), keepdim=True)
    return (m / m.amax((1, 2), keepdim=True)).float()
