"""`rotate`: rotation by a per-sample multiple of 90 degrees (exact, no interpolation)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..params import join_key, param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images, per_sample


@dataclass
class RotateParams:
    p: float = param(1.0, low=0.0, high=1.0, help="probability of rotating an image")
    angles: tuple[int, ...] = param((0, 90, 180, 270), nonempty=True, help="degrees, multiples of 90, drawn uniformly")

    def check(self, where: str, cfg) -> None:
        bad = [a for a in self.angles if a % 90]
        if bad:
            raise ConfigError(f"{join_key(where, 'angles')}: {list(self.angles)} has {bad[0]}, not a multiple of 90; use some of "
                              f"0, 90, 180, 270")


@AUGMENTATIONS.register("rotate", RotateParams)
class RandomRotate90(Augmentation):
    """Rotate each image by an angle drawn uniformly from `angles` (degrees, multiples of 90).

    Angles are counter-clockwise as displayed, i.e. `torch.rot90(x, angle // 90, dims=(-2, -1))`.
    All rotations are computed and selected per sample with torch.where: no sync, square images.
    """

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
