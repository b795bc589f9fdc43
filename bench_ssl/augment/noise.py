"""`noise`: additive Gaussian noise with a per-image standard deviation."""

from __future__ import annotations

import torch

from bench_ssl.errors import ConfigError

from ._base import Augmentation, bernoulli, check_images, check_prob, per_sample, uniform


class GaussianNoise(Augmentation):
    """x + std_i * N(0,1), std_i ~ U(0, std), clamped to [0,1], with probability p.

    The noise itself is drawn in sample() (params['noise'], (n,3,size,size)) so apply() is
    deterministic and the generator alone fixes the output.
    """

    name = "noise"

    def __init__(self, std: float = 0.1, p: float = 1.0):
        if not float(std) >= 0:
            raise ConfigError(f"augmentation 'noise': std={std} must be >= 0")
        self.std = float(std)
        self.p = check_prob(self.name, "p", p)

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
