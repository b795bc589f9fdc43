"""`solarize`: invert pixels above a threshold (BYOL's extra colour op)."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images, per_sample


@dataclass
class SolarizeParams:
    p: float = param(0.2, low=0.0, high=1.0, help="probability of solarizing an image")
    threshold: float = param(0.5, low=0.0, high=1.0, help="pixels at or above it are inverted")


@AUGMENTATIONS.register("solarize", SolarizeParams)
class Solarize(Augmentation):
    """With probability p: x where x < threshold else 1 - x (torchvision's solarize on [0,1])."""

    def sample(self, n, size, generator, device):
        return {"apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        return (1 - x).where(per_sample(params["apply"], x) & (x >= self.threshold), x)
