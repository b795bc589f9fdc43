"""Projection heads: the g(.) of SimCLR, on top of the backbone's features (SimCLR Fig. 8 compares them)."""

from __future__ import annotations

import torch.nn as nn


def build_head(kind: str, in_dim: int, out_dim: int = 128, hidden_dim: int | None = None, layers: int = 2,
               batch_norm: bool = True) -> nn.Module:
    """`none`: identity (the loss sees the features); `linear`: one Linear; `mlp`: `layers` Linears with
    ReLU (and BatchNorm if asked) between them."""
    if kind == "none":
        return nn.Identity()
    if kind == "linear":
        return nn.Linear(in_dim, out_dim)
    if kind == "mlp":
        hidden = hidden_dim or in_dim
        blocks, width = [], in_dim
        for _ in range(layers - 1):
            blocks.append(nn.Linear(width, hidden, bias=not batch_norm))
            if batch_norm:
                blocks.append(nn.BatchNorm1d(hidden))
            blocks.append(nn.ReLU(inplace=True))
            width = hidden
        blocks.append(nn.Linear(width, out_dim))
        return nn.Sequential(*blocks)
    raise ValueError(f"unknown head {kind!r}; allowed: none, linear, mlp")


def head_out_dim(kind: str, in_dim: int, out_dim: int) -> int:
    return in_dim if kind == "none" else out_dim
