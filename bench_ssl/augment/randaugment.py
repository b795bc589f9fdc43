"""`randaugment`: RandAugment (Cubuk et al. 2020) with torchvision's ops and magnitudes, batched with a draw
per image: each image takes `num_ops` ops, each chosen uniformly among the 14 (identity included), at the
one magnitude bin `magnitude` of `num_magnitude_bins`, its sign drawn per image for the signed ops. SupCon
Table 9's RandAugment; after `color` and `blur`, its Stacked RandAugment."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torchvision.transforms as T

from ..errors import ConfigError
from ..params import join_key, param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images
from ._policy import apply_chosen, signed_candidates, to_uint8


@dataclass
class RandAugmentParams:
    num_ops: int = param(2, low=1, help="ops applied one after another to each image")
    magnitude: int = param(9, low=0, help="the magnitude bin, 0 .. num_magnitude_bins - 1")
    num_magnitude_bins: int = param(31, low=2)
    p: float = param(1.0, low=0.0, high=1.0, help="probability of augmenting an image at all")

    def check(self, where: str, cfg) -> None:
        if self.magnitude >= self.num_magnitude_bins:
            raise ConfigError(f"{join_key(where, 'magnitude')}: {self.magnitude} is not below num_magnitude_bins "
                              f"({self.num_magnitude_bins}); use 0 .. {self.num_magnitude_bins - 1}")


@functools.lru_cache(maxsize=None)
def op_space(magnitude: int, bins: int, size: int) -> tuple[tuple[str, float, bool], ...]:
    """torchvision's RandAugment ops at one magnitude bin, for square images of side `size` (built once per
    setting, not once per batch)."""
    space = T.RandAugment()._augmentation_space(bins, (size, size))
    return tuple((name, float(mags[magnitude]) if mags.ndim > 0 else 0.0, bool(signed))
                 for name, (mags, signed) in space.items())


@functools.lru_cache(maxsize=None)
def _candidates(magnitude: int, bins: int, size: int):
    return signed_candidates(list(op_space(magnitude, bins, size)))


@AUGMENTATIONS.register("randaugment", RandAugmentParams)
class RandAugment(Augmentation):
    """RandAugment with its own draw per image: `num_ops` uniform ops at one magnitude, random signs."""

    def sample(self, n, size, generator, device):
        k = len(op_space(self.magnitude, self.num_magnitude_bins, size))
        return {"op": torch.randint(0, k, (n, self.num_ops), generator=generator, device=device),
                "negative": torch.randint(0, 2, (n, self.num_ops), generator=generator, device=device),
                "apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        candidates, base, offset = _candidates(self.magnitude, self.num_magnitude_bins, x.shape[-1])
        base, offset = base.to(x.device), offset.to(x.device)
        out = to_uint8(x)
        for slot in range(self.num_ops):
            op = params["op"][:, slot]
            choice = base[op] + offset[op] * params["negative"][:, slot]
            out = apply_chosen(out, candidates, torch.where(params["apply"], choice, -1))
        # an image left alone keeps its exact values (no 1/255 rounding)
        return torch.where(params["apply"].view(-1, 1, 1, 1), out.to(x.dtype).div_(255.0), x)
