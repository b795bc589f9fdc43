"""A small ConvNet for CPU smoke runs."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..registry import BACKBONES


class SmallConvNet(nn.Module):
    """Four conv-BN-ReLU blocks with pooling: fast enough to pretrain on a 2-core CPU in seconds."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        layers, c_in = [], 3
        for i, c_out in enumerate(widths):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_dim = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@BACKBONES.register("convnet", doc="Four conv-BN-ReLU blocks (256-d features), for CPU smoke runs")
def convnet(p) -> nn.Module:
    return SmallConvNet()
