"""CIFAR-10-C-style corruptions (Hendrycks & Dietterich 2019): the 15 corruption types at 5 severities, with
the constants of the CIFAR-10-C generator (`make_cifar_c.py`; spatial ones scaled by side / 32), generated
on the device in batches, a random draw per image from an explicit generator. `corrupt(x, name, severity,
generator)` takes float (B,3,H,W) images in [0,1] and returns the same.

One file per family (noise, blur, weather, digital); each corruption registers itself by name here.
Where the reference uses a tool we do not (ImageMagick's motion blur, the frost photographs), the file says
what stands in for it."""

from __future__ import annotations

import torch
from torch import Tensor

CORRUPTIONS: dict = {}  # name -> fn(x, severity, generator) -> x, in CIFAR-10-C's order once loaded
SEVERITIES = (1, 2, 3, 4, 5)


def register(name: str):
    def wrap(fn):
        CORRUPTIONS[name] = fn
        fn.corruption = name
        return fn

    return wrap


def corrupt(x: Tensor, name: str, severity: int, generator: torch.Generator) -> Tensor:
    """Float images in [0,1] -> corrupted, clamped to [0,1]."""
    if name not in CORRUPTIONS:
        raise KeyError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity}: use 1 .. 5")
    return CORRUPTIONS[name](x, severity, generator).clamp_(0.0, 1.0)


from . import noise, blur, weather, digital  # noqa: E402,F401  (they register, in CIFAR-10-C's order)

NAMES = tuple(CORRUPTIONS)

__all__ = ["CORRUPTIONS", "NAMES", "SEVERITIES", "corrupt", "register"]
