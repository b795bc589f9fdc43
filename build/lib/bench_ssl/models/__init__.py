"""Backbones and projection heads as plain modules, registered by name (`model.backbone`, `model.head.type`)."""

from __future__ import annotations

import torch.nn as nn

from ..params import build
from ..registry import BACKBONES, HEADS
from .convnet import SmallConvNet
from .resnet import resnet


def build_backbone(name: str, params=None, **kwargs) -> nn.Module:
    """A module with an `out_dim` attribute, mapping (B,3,H,W) to (B, out_dim); `params` (a checked dataclass)
    or keywords are the backbone's parameters."""
    entry = BACKBONES.entry(name, "model.backbone")
    if params is None:
        params = build(entry.params, kwargs, "model", owner=f"backbone {name}")
    return entry.obj(params)


def build_head(kind: str, in_dim: int, params=None, **kwargs) -> nn.Module:
    """The head `kind` on `in_dim` features, with an `out_dim` attribute (the width the loss sees); `params`
    (a checked dataclass) or keywords are the head's parameters."""
    entry = HEADS.entry(kind, "model.head.type")
    if params is None:
        params = build(entry.params, kwargs, "model.head", owner=f"head {kind}")
    head = entry.obj(in_dim, params)
    head.out_dim = getattr(params, "out_dim", in_dim)
    return head


__all__ = ["BACKBONES", "HEADS", "SmallConvNet", "build_backbone", "build_head", "resnet"]
