"""Backbones and projection heads as plain modules."""

from .backbones import BACKBONES, SmallConvNet, build_backbone, resnet
from .heads import build_head, head_out_dim

__all__ = ["BACKBONES", "SmallConvNet", "build_backbone", "build_head", "head_out_dim", "resnet"]
