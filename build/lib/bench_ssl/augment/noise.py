"""`noise`: additive Gaussian noise with a per-image standard deviation."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..params import param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images, per_sample, uniform


@dataclass
class NoiseParams:
    p: float = param(1.0, low=0.0, high=1.0, help="probability of adding noise to an image")
    std: float = param(0.1, low=0.0, help="each image's std is drawn from U(0, std)")


@AUGMENTATIONS.register("noise", NoiseParams)
class GaussianNoise(Augmentation):
    """x + std_i * N(0,1), std_i ~ U(0, std), clamped to [0,1], with probability p.

    The noise itself is drawn in sample() (params['noise'], (n,3,size,size)) so apply() is
    deterministic and the generator alone fixes the output.
    """

    def sample(self, n, size, generator, device):
        return {
            "std": uniform(n, 0.0, self.std, generator, device),
            "noise": torch.randn((n, 3, size, size), generator=generator, device=device),
            "apply": bernoulli(n, self.p, generator, device),
        }

    def apply(self, x, params):
        check_images(x)
        noisy = (x + per_sample(params["std"], x) * params["noise"].to(x.device, x.dtype)).clamp(0.0, 1.0)
        return noisy.where(per_sample(params["apply"], x), x)
