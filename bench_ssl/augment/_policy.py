"""Shared by `randaugment` and `autoaugment`: torchvision's own image ops (the function its RandAugment and
AutoAugment apply to one image) run on the whole batch, each image keeping the op its own draw chose. Every
candidate (op, magnitude) is computed for the batch and `torch.where` keeps it where chosen: no host sync,
one batched op per candidate. The ops take uint8 (posterize and equalize need it), so a float batch is
rounded to 1/255 steps first."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import _apply_op


def to_uint8(x: Tensor) -> Tensor:
    return x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def apply_chosen(x_u8: Tensor, candidates: list[tuple[str, float]], choice: Tensor) -> Tensor:
    """(B,3,H,W) uint8 -> the same with image i transformed by candidates[choice[i]] (choice -1: unchanged).
    Geometric ops fill with black and sample the nearest pixel, as torchvision's policies do by default."""
    out = x_u8
    for i, (name, magnitude) in enumerate(candidates):
        if name == "Identity":
            continue
        y = _apply_op(x_u8, name, float(magnitude), InterpolationMode.NEAREST, None)
        out = torch.where((choice == i).view(-1, 1, 1, 1), y, out)
    return out


def signed_candidates(ops: list[tuple[str, float, bool]]) -> tuple[list[tuple[str, float]], Tensor, Tensor]:
    """[(name, magnitude, signed)] -> (candidates, index of each op's + candidate, offset to its - one (0 when
    unsigned)): the candidate of op k drawn with sign s is base[k] + s * offset[k]."""
    candidates, base, offset = [], [], []
    for name, magnitude, signed in ops:
        base.append(len(candidates))
        candidates.append((name, magnitude))
        if signed and magnitude != 0:
            candidates.append((name, -magnitude))
            offset.append(1)
        else:
            offset.append(0)
    return candidates, torch.tensor(base), torch.tensor(offset)
