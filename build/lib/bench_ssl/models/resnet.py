"""torchvision ResNets without their classifier, optionally with SimCLR's CIFAR stem."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn
import torchvision

from ..params import param
from ..registry import BACKBONES


@dataclass
class ResNetParams:
    cifar_stem: bool = param(True, help="SimCLR's CIFAR stem: a 3x3 stride-1 first conv and no max-pool")


def resnet(depth: int, cifar_stem: bool) -> nn.Module:
    """A module with an `out_dim` attribute, mapping (B,3,H,W) to (B, out_dim)."""
    net = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    if cifar_stem:
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    net.out_dim = net.fc.in_features
    net.fc = nn.Identity()
    return net


@BACKBONES.register("resnet18", ResNetParams, doc="ResNet-18 (512-d features)")
def resnet18(p: ResNetParams) -> nn.Module:
    return resnet(18, p.cifar_stem)


@BACKBONES.register("resnet34", ResNetParams, doc="ResNet-34 (512-d features)")
def resnet34(p: ResNetParams) -> nn.Module:
    return resnet(34, p.cifar_stem)


@BACKBONES.register("resnet50", ResNetParams, doc="ResNet-50 (2048-d features)")
def resnet50(p: ResNetParams) -> nn.Module:
    return resnet(50, p.cifar_stem)
