"""Backbones that map images to feature vectors: torchvision ResNets (optionally with the CIFAR stem)
and a small ConvNet for CPU smoke runs."""

from __future__ import annotations

import torch
import torch.nn as nn
import torchvision


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


def resnet(depth: int, cifar_stem: bool) -> nn.Module:
    """torchvision ResNet without its classifier; the CIFAR stem is SimCLR's: 3x3 stride-1 conv, no max-pool."""
    net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    if cifar_stem:
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    net.out_dim = net.fc.in_features
    net.fc = nn.Identity()
    return net


BACKBONES = {
    "resnet18": lambda cifar_stem: resnet(18, cifar_stem),
    "resnet34": lambda cifar_stem: resnet(34, cifar_stem),
    "resnet50": lambda cifar_stem: resnet(50, cifar_stem),
    "convnet": lambda cifar_stem: SmallConvNet(),
}


def build_backbone(name: str, cifar_stem: bool = True) -> nn.Module:
    """A module with an `out_dim` attribute, mapping (B,3,H,W) to (B, out_dim)."""
    return BACKBONES[name](cifar_stem)
