"""`solarize`: invert pixels above a threshold (BYOL's extra colour op)."""

from __future__ import annotations

from ._base import Augmentation, bernoulli, check_images, check_prob, per_sample


class Solarize(Augmentation):
    """With probability p: x where x < threshold else 1 - x (torchvision's solarize on [0,1])."""

    name = "solarize"

    def __init__(self, p: float = 0.2, threshold: float = 0.5):
        self.p = check_prob(self.name, "p", p)
        self.threshold = check_prob(self.name, "threshold", threshold)

    def sample(self, n, size, generator, device):
        return {"apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        return (1 - x).where(per_sample(params["apply"], x) & (x >= self.threshold), x)
