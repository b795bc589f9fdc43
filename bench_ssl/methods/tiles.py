"""Cutting images into a grid of tiles, batched: the shared piece of the spatial pretext tasks (jigsaw,
relative patch position, counting). Each tile may be cut `gap` pixels smaller than its cell at a random offset
inside it, drawn per tile (Noroozi & Favaro's and Doersch et al.'s gaps and jitter: neighbouring tiles then
share no edge pixels, so low-level continuity cannot give the answer away); the cut is padded back to the
cell's size with zeros, so every backbone sees one tile size."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError


def cell_size(size: int, grid: int, key: str) -> int:
    """The side of one cell; the grid must divide the image exactly."""
    if size % grid:
        divisors = [d for d in range(2, min(size, 8) + 1) if size % d == 0]
        multiple = -(-size // grid) * grid
        raise ConfigError(f"{key}: {grid} does not divide the {size}-pixel images into equal tiles; use "
                          f"{' or '.join(map(str, divisors)) or 'a divisor of the image size'}, or resize the images "
                          f"to a multiple of {grid} (e.g. --set data.image_size={multiple})")
    return size // grid


def cut_tiles(x: torch.Tensor, grid: int, gap: int = 0, key: str = "method.grid") -> torch.Tensor:
    """(B, grid*grid, C, t, t) tiles in row-major order, t = H / grid; with a gap each tile holds a random
    (t - gap)-pixel square of its cell, padded back to t."""
    b, c, h, w = x.shape
    if h != w:
        raise ValueError(f"tiles need square images, got {h}x{w}")
    t = cell_size(h, grid, key)
    tiles = x.reshape(b, c, grid, t, grid, t).permute(0, 2, 4, 1, 3, 5).reshape(b, grid * grid, c, t, t)
    if gap <= 0:
        return tiles
    if gap >= t:
        raise ConfigError(f"method.gap: {gap} pixels leaves nothing of a {t}-pixel tile; use 0 to {t - 1}")
    s = t - gap
    n = b * grid * grid
    dy = torch.randint(0, gap + 1, (n,), device=x.device)
    dx = torch.randint(0, gap + 1, (n,), device=x.device)
    rows = (dy[:, None] + torch.arange(s, device=x.device))[:, None, :, None].expand(n, c, s, s)
    cols = (dx[:, None] + torch.arange(s, device=x.device))[:, None, None, :].expand(n, c, s, s)
    flat = tiles.reshape(n, c, t, t)
    cut = _crop(flat, rows, cols)
    return F.pad(cut, (0, gap, 0, gap)).reshape(b, grid * grid, c, t, t)


def _crop(flat: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """flat (n, c, t, t) -> (n, c, s, s): for each tile the square at its own offset."""
    n, c, t, _ = flat.shape
    s = rows.shape[2]
    picked_rows = flat.gather(2, rows[:, :, :, :1].expand(n, c, s, t))
    return picked_rows.gather(3, cols)


def encode(backbone: torch.nn.Module, tiles: torch.Tensor, key: str) -> torch.Tensor:
    """The backbone's features of a batch of tiles, or one line when the tiles are smaller than it can take
    (a backbone that halves its input n times needs tiles of 2^n pixels)."""
    try:
        return backbone(tiles)
    except RuntimeError as exc:
        if "too small" not in str(exc) and "can't be greater than actual input size" not in str(exc):
            raise
        raise ConfigError(f"{key}: tiles of {tiles.shape[-1]} pixels are too small for the backbone ({exc}); use fewer "
                          f"tiles per side or larger images (e.g. --set data.image_size=64)") from None


__all__ = ["cell_size", "cut_tiles", "encode"]
