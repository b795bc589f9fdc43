"""`flip`: horizontal flip of a random subset of the batch."""

from __future__ import annotations

from ._base import Augmentation, bernoulli, check_images, check_prob, per_sample


class HorizontalFlip(Augmentation):
    """Flip each image left-right with probability p; params['apply'] says which."""

    name = "flip"

    def __init__(self, p: float = 0.5):
        self.p = check_prob(self.name, "p", p)

    def sample(self, n, size, generator, device):
        return {"apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        return x.flip(-1).where(per_sample(params["apply"], x), x)
