"""Noise corruptions: Gaussian, shot (Poisson) and impulse (salt and pepper), CIFAR-10-C's constants."""

from __future__ import annotations

import torch

from . import register


@register("gaussian_noise")
def gaussian_noise(x, severity, generator):
    c = [0.04, 0.06, 0.08, 0.09, 0.10][severity - 1]
    return x + c * torch.randn(x.shape, generator=generator, device=x.device)


@register("shot_noise")
def shot_noise(x, severity, generator):
    """Photon counts: Poisson(x c) / c, c photons at full intensity."""
    c = [500, 250, 100, 75, 50][severity - 1]
    return torch.poisson(x * c, generator=generator) / c


@register("impulse_noise")
def impulse_noise(x, severity, generator):
    """A fraction c of the values (each channel on its own, as scikit-image's 's&p') set to 0 or 1, half each."""
    c = [0.01, 0.02, 0.03, 0.05, 0.07][severity - 1]
    u = torch.rand(x.shape, generator=generator, device=x.device)
    return torch.where(u < c / 2, torch.ones_like(x), torch.where(u < c, torch.zeros_like(x), x))
