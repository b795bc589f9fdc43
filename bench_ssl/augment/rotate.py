"""`rotate`: rotation by a per-sample multiple of 90 degrees (exact, no interpolation)."""

from __future__ import annotations

import torch

from bench_ssl.errors import ConfigError

from ._base import Augmentation, bernoulli, check_images, check_prob, per_sample


class RandomRotate90(Augmentation):
    """Rotate each image by an angle drawn uniformly from `angles` (degrees, multiples of 90).

    Angles are counter-clockwise as displayed, i.e. `torch.rot90(x, angle // 90, dims=(-2, -1))`.
    All rotations are computed and selected per sample with torch.where: no sync, square images.
    """

    name = "rotate"

    def __init__(self, angles=(0, 90, 180, 270), p: float = 1.0):
        angles = tuple(int(a) for a in angles)
        if not angles or any(a % 90 for a in angles):
            raise ConfigError(f"augmentation 'rotate': angles={angles!r} must be a non-empty list of multiples of 90")
        self.angles = angles
        self.p = check_prob(self.name, "p", p)

    def sample(self, n, size, generator, device):
        """params['quarter_turns'] in {0,1,2,3}; params['apply'] masks the rotation off."""
        idx = torch.randint(0, len(self.angles), (n,), generator=generator, device=device)
        turns = torch.zeros(n, dtype=torch.long, device=device)
        for i, a in enumerate(self.angles):
            turns = torch.where(idx == i, (a // 90) % 4, turns)
        return {"quarter_turns": turns, "apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        turns = per_sample(torch.where(params["apply"], params["quarter_turns"], 0), x)
        out = x
        for k in (1, 2, 3):
            out = torch.rot90(x, k, dims=(-2, -1)).where(turns == k, out)
        return out
