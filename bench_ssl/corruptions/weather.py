"""Weather corruptions: snow, frost, fog and brightness, CIFAR-10-C's constants.

Frost: the reference blends crops of six frost photographs, which are not shipped here; a procedural layer
stands in (thin bright ridges of smoothed noise, bluish white), blended with the reference's weights. Snow's
streaks use the motion blur of `_filters` (the imagecorruptions package's stand-in for ImageMagick's)."""

from __future__ import annotations

import torch

from ..augment.color import hsv_to_rgb, rgb_to_hsv
from . import register
from ._filters import clipped_zoom, gaussian_blur, motion_blur, plasma_fractal

LUMA = (0.299, 0.587, 0.114)  # OpenCV's RGB -> grey


@register("snow")
def snow(x, severity, generator):
    loc, scale, zoom, threshold, radius, sigma, keep = [
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)][severity - 1]
    b, _, h, w = x.shape
    s = x.shape[-1] / 32
    layer = loc + scale * torch.randn((b, 1, h, w), generator=generator, device=x.device)
    layer = clipped_zoom(layer, zoom)
    layer = torch.where(layer < threshold, torch.zeros_like(layer), layer)
    layer = (layer.clamp(0, 1) * 255).floor() / 255  # the reference passes it through an 8-bit image
    angle = torch.rand(b, generator=generator, device=x.device) * 90 - 135
    layer = motion_blur(layer, max(1, round(radius * s)), sigma * s, angle)
    grey = (x[:, 0:1] * LUMA[0] + x[:, 1:2] * LUMA[1] + x[:, 2:3] * LUMA[2]) * 1.5 + 0.5
    x = keep * x + (1 - keep) * torch.maximum(x, grey)
    return x + layer + torch.rot90(layer, 2, dims=(-2, -1))


def frost_layer(n: int, size: int, generator: torch.Generator, device) -> torch.Tensor:
    """(n,3,size,size) in [0,1]: ice-like ridges where smoothed noise crosses zero, over a pale blue-white base."""
    noise = gaussian_blur(torch.randn((n, 1, size, size), generator=generator, device=device), 0.8 * size / 32)
    noise = noise / noise.flatten(1).std(1).view(-1, 1, 1, 1).clamp_min(1e-6)
    ridges = torch.exp(-4 * noise**2)  # bright where the field crosses zero: thin branching lines
    tint = torch.tensor([0.78, 0.86, 0.95], device=device).view(1, 3, 1, 1)
    return (0.35 + 0.65 * ridges) * tint


@register("frost")
def frost(x, severity, generator):
    keep, amount = [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)][severity - 1]
    return keep * x + amount * frost_layer(x.shape[0], x.shape[-1], generator, x.device)


@register("fog")
def fog(x, severity, generator):
    amount, decay = [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)][severity - 1]
    h = x.shape[-1]
    size = 1 << (h - 1).bit_length()  # the next power of two
    peak = x.flatten(1).amax(1).view(-1, 1, 1, 1)
    layer = plasma_fractal(x.shape[0], size, decay, generator, x.device)[:, None, :h, :h]
    return (x + amount * layer) * peak / (peak + amount)


@register("brightness")
def brightness(x, severity, generator):
    c = [0.05, 0.1, 0.15, 0.2, 0.3][severity - 1]
    hsv = rgb_to_hsv(x)
    hsv = torch.cat([hsv[:, :2], (hsv[:, 2:] + c).clamp(0, 1)], 1)
    return hsv_to_rgb(hsv)
