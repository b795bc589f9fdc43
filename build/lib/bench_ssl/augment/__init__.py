"""Batched, per-image-random, sync-free GPU augmentations (SimCLR names), one op per file.

Ops take float (B,3,H,W) images in [0,1] on any device and a `torch.Generator` on that device; each image
draws its own parameters. Each op declares its parameters in its file and registers itself by name
(`bench_ssl.registry.AUGMENTATIONS`); `build_pipeline(["crop", "flip", "color"])` is the usual entry.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError
from ..params import build
from ..registry import AUGMENTATIONS
from ._base import Augmentation, check_images


def build_op(name: str, params=None, **kwargs) -> Augmentation:
    """One op by name, from its parameters (`params`, a checked dataclass) or keywords (checked here);
    unknown names, unknown keywords and impossible values are ConfigErrors that say what is allowed."""
    entry = AUGMENTATIONS.entry(name)
    if params is None:
        allowed = entry.param_names()
        bad = sorted(set(kwargs) - set(allowed))
        if bad:
            raise ConfigError(f"augmentation '{name}': unknown option(s) {', '.join(bad)}; allowed: {', '.join(allowed)}")
        params = build(entry.params, kwargs, f"augmentation '{name}': ", sep="=")
    elif kwargs:
        raise TypeError("build_op takes either params or keywords, not both")
    return entry.obj(params)


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


def build_pipeline(names: list[str], params: dict | None = None) -> Pipeline:
    """Ops from config names; params[name] is that op's parameters: a checked dataclass (from a run config) or a
    dict of keywords; keys must name listed ops."""
    params = dict(params or {})
    stray = sorted(set(params) - set(names))
    if stray:
        raise ConfigError(
            f"augmentation params given for {', '.join(stray)}, which is not in the pipeline {list(names)}"
        )
    ops = []
    for name in names:
        given = params.get(name)
        ops.append(build_op(name, **(given or {})) if given is None or isinstance(given, dict) else build_op(name, given))
    return Pipeline(ops)


def to_float(x_uint8: Tensor) -> Tensor:
    """uint8 (B,3,H,W) in [0,255] -> float32 in [0,1] on the same device (torchvision's scaling)."""
    if x_uint8.dtype != torch.uint8:
        raise TypeError(f"to_float expects a uint8 tensor, got {x_uint8.dtype}")
    return x_uint8.to(torch.float32).div_(255.0)


__all__ = ["AUGMENTATIONS", "Augmentation", "Pipeline", "build_op", "build_pipeline", "to_float"]
