"""`autoaugment`: AutoAugment (Cubuk et al. 2019) with torchvision's learned policies (CIFAR-10, ImageNet or
SVHN) and magnitudes, batched with a draw per image: each image takes one of the policy's 25 sub-policies,
and each of its two ops is applied with the op's own probability, signed ops with a random sign. SupCon
Table 9's AutoAugment."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torchvision.transforms as T

from ..params import param
from ..registry import AUGMENTATIONS
from ._base import Augmentation, bernoulli, check_images
from ._policy import apply_chosen, to_uint8

POLICIES = {"cifar10": T.AutoAugmentPolicy.CIFAR10, "imagenet": T.AutoAugmentPolicy.IMAGENET,
            "svhn": T.AutoAugmentPolicy.SVHN}


@dataclass
class AutoAugmentParams:
    policy: str = param("cifar10", choices=tuple(POLICIES), help="whose learned sub-policies")
    p: float = param(1.0, low=0.0, high=1.0, help="probability of augmenting an image at all")


@functools.lru_cache(maxsize=None)
def sub_policies(policy: str, size: int) -> tuple[tuple[tuple[str, float, float, bool], ...], ...]:
    """The policy's sub-policies as ((name, probability, magnitude, signed), ...) for images of side `size`
    (built once per setting, not once per batch)."""
    aa = T.AutoAugment(POLICIES[policy])
    space = aa._augmentation_space(10, (size, size))
    out = []
    for sub in aa.policies:
        ops = []
        for name, prob, bin_ in sub:
            mags, signed = space[name]
            ops.append((name, float(prob), float(mags[bin_]) if bin_ is not None and mags.ndim > 0 else 0.0, bool(signed)))
        out.append(tuple(ops))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def slot_table(policy: str, size: int, slot: int):
    """The `slot`-th op of every sub-policy as (candidates [(name, signed magnitude)], table [sub-policy, sign] ->
    candidate, each sub-policy's probability of firing it)."""
    subs = sub_policies(policy, size)
    candidates, index = [], {}
    table = torch.full((len(subs), 2), -1, dtype=torch.long)
    for j, sub in enumerate(subs):
        name, _, magnitude, signed = sub[slot]
        for sign in (0, 1):
            m = -magnitude if sign and signed else magnitude
            if (name, m) not in index:
                index[(name, m)] = len(candidates)
                candidates.append((name, m))
            table[j, sign] = index[(name, m)]
    return candidates, table, torch.tensor([sub[slot][1] for sub in subs])


@AUGMENTATIONS.register("autoaugment", AutoAugmentParams)
class AutoAugment(Augmentation):
    """AutoAugment with its own draw per image: a sub-policy, whether each of its ops fires, the signs."""

    def sample(self, n, size, generator, device):
        k = len(sub_policies(self.policy, size))
        return {"sub_policy": torch.randint(0, k, (n,), generator=generator, device=device),
                "fire": torch.rand((n, 2), generator=generator, device=device),
                "negative": torch.randint(0, 2, (n, 2), generator=generator, device=device),
                "apply": bernoulli(n, self.p, generator, device)}

    def apply(self, x, params):
        check_images(x)
        out = to_uint8(x)
        touched = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        for slot in range(2):
            candidates, table, probs = slot_table(self.policy, x.shape[-1], slot)
            j = params["sub_policy"]
            choice = table.to(x.device)[j, params["negative"][:, slot]]
            fires = params["fire"][:, slot] <= probs.to(x.device)[j]  # torchvision: applied when its draw <= p
            out = apply_chosen(out, candidates, torch.where(params["apply"] & fires, choice, -1))
            touched |= params["apply"] & fires
        # an image no op touched keeps its exact values (no 1/255 rounding)
        return torch.where(touched.view(-1, 1, 1, 1), out.to(x.dtype).div_(255.0), x)
