"""Projection heads: the g(.) of SimCLR, on top of the backbone's features (SimCLR Fig. 8 compares them).

Each returns a module with an `out_dim` attribute: the width the loss sees."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from ..params import param
from ..registry import HEADS


@dataclass
class LinearHeadParams:
    out_dim: int = param(128, low=1, help="width of z")


@dataclass
class MLPHeadParams:
    hidden_dim: int | None = param(None, low=1, help="width of the hidden layers; none: the backbone's feature width")
    out_dim: int = param(128, low=1, help="width of z")
    layers: int = param(2, low=2, help="Linear layers, with ReLU (and BatchNorm) between them")
    batch_norm: bool = param(True, help="BatchNorm after each hidden Linear")


@HEADS.register("none", doc="No head: the loss sees the backbone's features (z = h)")
def no_head(in_dim: int, p) -> nn.Module:
    return nn.Identity()


@HEADS.register("linear", LinearHeadParams, doc="One Linear layer")
def linear_head(in_dim: int, p: LinearHeadParams) -> nn.Module:
    return nn.Linear(in_dim, p.out_dim)


@HEADS.register("mlp", MLPHeadParams, doc="`layers` Linear layers with ReLU (and BatchNorm) between them")
def mlp_head(in_dim: int, p: MLPHeadParams) -> nn.Module:
    hidden = p.hidden_dim or in_dim
    blocks, width = [], in_dim
    for _ in range(p.layers - 1):
        blocks.append(nn.Linear(width, hidden, bias=not p.batch_norm))
        if p.batch_norm:
            blocks.append(nn.BatchNorm1d(hidden))
        blocks.append(nn.ReLU(inplace=True))
        width = hidden
    blocks.append(nn.Linear(width, p.out_dim))
    return nn.Sequential(*blocks)
