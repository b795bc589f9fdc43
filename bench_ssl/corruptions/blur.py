"""Blur corruptions: defocus (a disk kernel), glass (blur, local pixel swaps, blur), motion (along a random
angle per image) and zoom (the mean of centre zooms), CIFAR-10-C's constants (spatial ones x side / 32)."""

from __future__ import annotations

import numpy as np
import torch

from . import register
from ._filters import clipped_zoom, correlate, gaussian_blur, gaussian_kernel1d, motion_blur


def disk_kernel(radius: float, alias_blur: float) -> torch.Tensor:
    """The pixels within `radius` of the centre of a 17x17 grid (larger radii: their own grid), normalised, then
    softened by a 3x3 (5x5 beyond radius 8) Gaussian of `alias_blur` with mirrored edges, as the reference does."""
    ks = 3 if radius <= 8 else 5
    grid = torch.arange(-8, 9, dtype=torch.float64) if radius <= 8 else torch.arange(-radius, radius + 1, dtype=torch.float64)
    disk = ((grid.view(-1, 1) ** 2 + grid.view(1, -1) ** 2) <= radius**2).double()
    disk = disk / disk.sum()
    r = ks // 2
    g = torch.exp(-(torch.arange(-r, r + 1, dtype=torch.float64) ** 2) / (2 * alias_blur**2))
    g = g / g.sum()
    pad = torch.nn.functional.pad(disk[None, None], (r, r, r, r), mode="reflect")
    out = torch.nn.functional.conv2d(pad, (g.view(-1, 1) * g.view(1, -1))[None, None])
    return out[0, 0].float()


@register("defocus_blur")
def defocus_blur(x, severity, generator):
    radius, alias = [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)][severity - 1]
    return correlate(x, disk_kernel(radius * x.shape[-1] / 32, alias))


@register("glass_blur")
def glass_blur(x, severity, generator):
    """Blur, then `iterations` passes over the pixels (bottom-right to top-left) each swapping with a random
    neighbour within max_delta, then blur again; the swaps of one image run in sequence, images in parallel."""
    sigma, delta, iterations = [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)][severity - 1]
    u8 = (gaussian_blur(x, sigma) * 255).clamp(0, 255).floor()  # the reference truncates to uint8 here
    b, _, h, w = u8.shape
    positions = [(i, j) for i in range(h - delta, delta, -1) for j in range(w - delta, delta, -1)]
    offsets = torch.randint(-delta, delta, (iterations, len(positions), 2, b), generator=generator, device=x.device)
    ar = torch.arange(b, device=x.device)
    img = u8.permute(0, 2, 3, 1).contiguous()  # (B,H,W,C): a pixel is one row to swap
    for it in range(iterations):
        for k, (i, j) in enumerate(positions):
            dy, dx = offsets[it, k]
            here = img[:, i, j].clone()
            there = img[ar, i + dy, j + dx].clone()
            img[:, i, j] = there
            img[ar, i + dy, j + dx] = here
    return gaussian_blur(img.permute(0, 3, 1, 2) / 255.0, sigma)


@register("motion_blur")
def motion_blur_(x, severity, generator):
    radius, sigma = [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)][severity - 1]
    scale = x.shape[-1] / 32
    angle = torch.rand(x.shape[0], generator=generator, device=x.device) * 90 - 45
    return motion_blur(x, max(1, round(radius * scale)), sigma * scale, angle)


@register("zoom_blur")
def zoom_blur(x, severity, generator):
    top = [1.06, 1.11, 1.16, 1.21, 1.26][severity - 1]
    factors = np.arange(1, top, 0.01).tolist()  # numpy's own count of the steps, as the reference takes them
    out = torch.zeros_like(x)
    for f in factors:
        out += clipped_zoom(x, f)
    return (x + out) / (len(factors) + 1)


__all__ = ["defocus_blur", "disk_kernel", "gaussian_kernel1d", "glass_blur", "zoom_blur"]
