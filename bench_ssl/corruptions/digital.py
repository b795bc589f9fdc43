"""Digital corruptions: contrast, elastic transform, pixelate and JPEG compression, CIFAR-10-C's constants.
Pixelate resamples with Pillow's box filter (its weights computed here); JPEG goes through Pillow's encoder
and decoder on the CPU, image by image, as the reference does (torchvision's are deprecated)."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import register
from ._filters import gaussian_blur


@register("contrast")
def contrast(x, severity, generator):
    c = [0.75, 0.5, 0.4, 0.3, 0.15][severity - 1]
    means = x.mean((2, 3), keepdim=True)  # per image and channel, as the reference's mean over H and W
    return (x - means) * c + means


def _affine_points(size: int) -> torch.Tensor:
    centre, square = float(size // 2), float(size // 3)
    return torch.tensor([[centre + square, centre + square], [centre + square, centre - square],
                         [centre - square, centre - square]], dtype=torch.float64)


def affine_matrices(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """(B,2,3) affine maps (x, y) taking the three points `src` (3,2) to each image's `dst` (B,3,2)."""
    a = torch.cat([src, torch.ones(3, 1, dtype=src.dtype)], 1)
    return torch.linalg.solve(a, dst).transpose(1, 2)


def affine_warp(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Each image warped by its map m (B,2,3) (output at p = input at m^-1 p), bilinear, edges mirrored without
    repeating the edge pixel (OpenCV's warpAffine with its default border)."""
    b, _, h, w = x.shape
    full = torch.cat([m.double(), torch.tensor([[[0.0, 0.0, 1.0]]], dtype=torch.float64).expand(b, -1, -1)], 1)
    inv = torch.linalg.inv(full)[:, :2].float().to(x.device)
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=torch.float32),
                            torch.arange(w, device=x.device, dtype=torch.float32), indexing="ij")
    pix = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(1, h * w, 3)
    src = (pix @ inv.transpose(1, 2)).view(b, h, w, 2)
    grid = torch.stack([src[..., 0] / (w - 1), src[..., 1] / (h - 1)], -1) * 2 - 1
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True)


def displace(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """out[y, x] = in[y + dy, x + dx] (B,H,W fields), bilinear, edges mirrored about the border (scipy's
    map_coordinates with mode 'reflect')."""
    b, _, h, w = x.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=torch.float32),
                            torch.arange(w, device=x.device, dtype=torch.float32), indexing="ij")
    grid = torch.stack([(xs + dx + 0.5) / w, (ys + dy + 0.5) / h], -1) * 2 - 1
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


@register("elastic_transform")
def elastic_transform(x, severity, generator):
    """A random affine warp (three points moved by up to `jitter` pixels), then a smooth random displacement
    field (uniform noise blurred by `sigma`, mirrored edges, times `alpha`)."""
    b, _, h, w = x.shape
    alpha, sigma, jitter = [(0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
                            (0.1, 0.03, 0.03)][severity - 1]
    alpha, sigma, jitter = alpha * h, sigma * h, jitter * h
    src = _affine_points(h)
    dst = src + (torch.rand((b, 3, 2), generator=generator, device=x.device).double().cpu() * 2 - 1) * jitter
    x = affine_warp(x, affine_matrices(src, dst))
    if alpha == 0:
        return x
    noise = torch.rand((b, 2, h, w), generator=generator, device=x.device) * 2 - 1
    disp = gaussian_blur(noise, sigma, truncate=3.0, mode="reflect") * alpha
    return displace(x, disp[:, 0], disp[:, 1])


def box_weights(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) resampling matrix of Pillow's BOX filter (its support, centres and normalisation)."""
    scale = n_in / n_out
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    out = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n_in)
        for j in range(lo, hi):
            t = (j - centre + 0.5) / filterscale
            out[i, j] = 1.0 if -0.5 <= t < 0.5 else 0.0
        total = out[i].sum()
        if total > 0:
            out[i] /= total
    return out.float()


@register("pixelate")
def pixelate(x, severity, generator):
    c = [0.95, 0.9, 0.85, 0.75, 0.65][severity - 1]
    h = x.shape[-1]
    small = int(h * c)
    down, up = box_weights(h, small).to(x.device), box_weights(small, h).to(x.device)
    x = down @ x @ down.T
    return up @ x @ up.T


@register("jpeg_compression")
def jpeg_compression(x, severity, generator):
    quality = [80, 65, 58, 50, 40][severity - 1]
    u8 = (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = []
    for img in u8:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=quality)
        out.append(np.asarray(Image.open(buf).convert("RGB")))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).to(x.device).float() / 255


__all__ = ["affine_warp", "box_weights", "contrast", "displace", "elastic_transform", "jpeg_compression", "pixelate"]
