"""`flip`: horizontal flip of a random subset of the batch."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images, per_sample


@dataclass
class FlipParams:
    p: float = param(0.5, low=0.0, high=1.0, help="probability of flipping an image")


@AUGMENTATIONS.register("flip", FlipParams)
class HorizontalFlip(Augmentation):
    """Flip each image left-right with probability p; params['apply'] says which."""

    def sample(self, n, size, generator, device):
        return {"apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        return x.flip(-1).where(per_sample(params["apply"], x), x)
