"""A small decoder from the backbone's pooled features to a map (the pretext tasks that predict pixels or
per-pixel classes: inpainting, colorization): a linear layer to a 4 x 4 map, two transposed convolutions to
16 x 16, then resized to the side asked for, so one decoder serves every image size."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class MapDecoder(nn.Module):
    def __init__(self, in_dim: int, width: int, out_channels: int):
        super().__init__()
        self.width = width
        self.fc = nn.Linear(in_dim, width * 16)
        half = max(width // 2, 16)
        self.up = nn.Sequential(nn.ConvTranspose2d(width, half, 4, 2, 1), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
                                nn.ConvTranspose2d(half, half, 4, 2, 1), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
                                nn.Conv2d(half, out_channels, 3, padding=1))

    def forward(self, z: torch.Tensor, side: int) -> torch.Tensor:
        y = self.up(F.relu(self.fc(z)).view(z.shape[0], self.width, 4, 4))
        return y if side == y.shape[-1] else F.interpolate(y, size=(side, side), mode="bilinear", align_corners=False)


__all__ = ["MapDecoder"]
