"""Batched, per-image-random, sync-free GPU augmentations (SimCLR names), plus a registry.

Ops take float (B,3,H,W) images in [0,1] on any device and a `torch.Generator` on that device;
each image draws its own parameters. `build_pipeline(["crop", "flip", "color"])` is the usual entry.
"""

from __future__ import annotations

import difflib
import inspect

import torch
from torch import Tensor

from bench_ssl.errors import ConfigError

from ._base import Augmentation, check_images
from .blur import GaussianBlur
from .color import ColorDistortion
from .crop import RandomResizedCrop
from .cutout import Cutout
from .flip import HorizontalFlip
from .noise import GaussianNoise
from .rotate import RandomRotate90
from .sobel import Sobel
from .solarize import Solarize

AUGMENTATIONS: dict[str, type] = {
    cls.name: cls
    for cls in (
        RandomResizedCrop,
        HorizontalFlip,
        ColorDistortion,
        GaussianBlur,
        Cutout,
        Sobel,
        GaussianNoise,
        RandomRotate90,
        Solarize,
    )
}


def build_op(name: str, **kwargs) -> Augmentation:
    """Instantiate one op by config name; unknown names / kwargs are ConfigErrors that say what is allowed."""
    cls = AUGMENTATIONS.get(name)
    if cls is None:
        close = difflib.get_close_matches(str(name), AUGMENTATIONS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown augmentation '{name}'; allowed: {', '.join(AUGMENTATIONS)}{hint}")
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    bad = sorted(set(kwargs) - set(allowed))
    if bad:
        raise ConfigError(f"augmentation '{name}': unknown option(s) {', '.join(bad)}; allowed: {', '.join(allowed)}")
    return cls(**kwargs)


class Pipeline:
    """Applies ops in the listed order, all drawing from the one generator (so a seed fixes the views)."""

    def __init__(self, ops: list):
        self.ops = list(ops)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        check_images(x)
        return self.apply(x, self.sample(x.shape[0], x.shape[-1], generator, x.device))

    def sample(self, n: int, size: int, generator: torch.Generator, device) -> list[dict[str, Tensor]]:
        """Every op's per-image parameters, drawn in op order (ops keep the image size, and no apply draws,
        so this is the very stream op-by-op calls would take)."""
        return [op.sample(n, size, generator, device) for op in self.ops]

    def apply(self, x: Tensor, params: list[dict[str, Tensor]]) -> Tensor:
        """Deterministic given the parameters: the part `torch.compile` can fuse (see Trainer)."""
        for op, p in zip(self.ops, params, strict=True):
            x = op.apply(x, p)
        return x

    @property
    def names(self) -> list[str]:
        return [getattr(op, "name", type(op).__name__) for op in self.ops]

    def __repr__(self) -> str:
        return f"Pipeline({self.ops!r})"


def build_pipeline(names: list[str], params: dict[str, dict] | None = None) -> Pipeline:
    """Ops from config names; params[name] holds that op's kwargs (keys must name listed ops)."""
    params = dict(params or {})
    stray = sorted(set(params) - set(names))
    if stray:
        raise ConfigError(
            f"augmentation params given for {', '.join(stray)}, which is not in the pipeline {list(names)}"
        )
    return Pipeline([build_op(name, **(params.get(name) or {})) for name in names])


def to_float(x_uint8: Tensor) -> Tensor:
    """uint8 (B,3,H,W) in [0,255] -> float32 in [0,1] on the same device (torchvision's scaling)."""
    if x_uint8.dtype != torch.uint8:
        raise TypeError(f"to_float expects a uint8 tensor, got {x_uint8.dtype}")
    return x_uint8.to(torch.float32).div_(255.0)


__all__ = [
    "AUGMENTATIONS",
    "Augmentation",
    "Pipeline",
    "build_op",
    "build_pipeline",
    "to_float",
    *(cls.__name__ for cls in AUGMENTATIONS.values()),
]
