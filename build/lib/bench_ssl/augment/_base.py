"""Shared pieces of the batched augmentations: base class, input checks, per-sample random draws.

Every op draws ONE set of parameters PER IMAGE from an explicit `torch.Generator`, and applies
them without host-device syncs (no `.item()`, masks via `torch.where`), so the same code runs on
CPU and CUDA and the same seed reproduces the same views.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

# torchvision's rgb_to_grayscale weights (ITU-R 601-2 luma; torchvision writes 0.2989, not 0.299).
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


def check_images(x: Tensor) -> None:
    """Fail early, with a readable message, on inputs the ops are not written for."""
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"augmentations expect a (B,3,H,W) tensor, got {getattr(x, 'shape', type(x))}")
    if not x.is_floating_point():
        raise ValueError(f"augmentations expect float images in [0,1], got dtype {x.dtype} (use to_float)")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"augmentations assume square images (H == W), got H={x.shape[-2]}, W={x.shape[-1]}")


def uniform(shape, lo: float, hi: float, generator: torch.Generator, device) -> Tensor:
    """float32 samples ~ U[lo, hi) with the given generator."""
    u = torch.rand(shape, generator=generator, device=device)
    return u * (hi - lo) + lo


def bernoulli(n: int, p: float, generator: torch.Generator, device) -> Tensor:
    """Per-sample boolean 'apply this op' mask; always draws n numbers so the stream is p-independent."""
    return torch.rand(n, generator=generator, device=device) < p


def per_sample(t: Tensor, x: Tensor) -> Tensor:
    """(B,) parameter -> (B,1,1,1) in x's dtype/device, for broadcasting against images."""
    return t.to(device=x.device, dtype=x.dtype if t.is_floating_point() else t.dtype).view(-1, 1, 1, 1)


def grayscale(x: Tensor) -> Tensor:
    """(B,3,H,W) -> (B,1,H,W) luma, same formula as torchvision's rgb_to_grayscale."""
    r, g, b = x.unbind(dim=1)
    return r.mul(GRAY_WEIGHTS[0]).add_(g, alpha=GRAY_WEIGHTS[1]).add_(b, alpha=GRAY_WEIGHTS[2]).unsqueeze(1)


class Augmentation:
    """Base class: subclasses implement sample() and apply(); `name` is set by the registry.

    An op is built from its parameters (the dataclass it registers with, already checked); their fields are
    read as attributes (`self.p`)."""

    name: str = ""

    def __init__(self, params):
        self.params = params
        for f in dataclasses.fields(params):
            setattr(self, f.name, getattr(params, f.name))

    def sample(self, n: int, size: int, generator: torch.Generator, device) -> dict[str, Tensor]:
        """Draw per-sample parameters for n images of side `size` (tensors on `device`)."""
        raise NotImplementedError

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        """Apply given parameters; deterministic, so tests can check it against references."""
        raise NotImplementedError

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        check_images(x)
        return self.apply(x, self.sample(x.shape[0], x.shape[-1], generator, x.device))

    def __repr__(self) -> str:
        kw = ", ".join(f"{f.name}={getattr(self.params, f.name)!r}" for f in dataclasses.fields(self.params))
        return f"{type(self).__name__}({kw})"
