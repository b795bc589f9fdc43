"""RandAugment and AutoAugment, batched with a draw per image, against torchvision's own per-image op applied
image by image with the same draws (the ops, signs and firings read back from the sampled parameters)."""

import pytest
import torch
import torchvision.transforms as T
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import _apply_op

from bench_ssl.augment import build_op, to_float
from bench_ssl.augment._policy import to_uint8
from bench_ssl.augment.autoaugment import sub_policies
from bench_ssl.augment.randaugment import op_space
from bench_ssl.config import load_config
from bench_ssl.errors import ConfigError


def photos(n=48, seed=0) -> torch.Tensor:
    """Float images on the 1/255 grid with structure (ramps and a bright square), so every op changes them."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 1, 1, generator=g) * torch.linspace(0.1, 1.0, 32).view(1, 1, 1, 32)
    x = x + 0.3 * torch.rand(n, 3, 32, 32, generator=g)
    x[:, :, 4:12, 20:28] = 0.95
    return to_float(to_uint8(x.clamp(0, 1)))


def one(img_u8, name, magnitude):
    return _apply_op(img_u8[None], name, float(magnitude), InterpolationMode.NEAREST, None)[0]


def test_randaugment_is_torchvisions_ops_image_by_image():
    x = photos()
    op = build_op("randaugment", num_ops=2, magnitude=9)
    params = op.sample(x.shape[0], 32, torch.Generator().manual_seed(3), x.device)
    out = to_uint8(op.apply(x, params))
    ops = op_space(9, 31, 32)
    assert [name for name, _, _ in ops] == list(T.RandAugment()._augmentation_space(31, (32, 32)))
    assert len(set(params["op"].flatten().tolist())) > 8  # many different ops drawn across the batch
    for i in range(x.shape[0]):
        img = to_uint8(x[i:i + 1])[0]
        for slot in range(2):
            name, magnitude, signed = ops[params["op"][i, slot]]
            if signed and params["negative"][i, slot]:
                magnitude = -magnitude
            img = one(img, name, magnitude)
        assert torch.equal(out[i], img), i


def test_autoaugment_is_torchvisions_cifar10_policy_image_by_image():
    x = photos(64, 1)
    op = build_op("autoaugment", policy="cifar10")
    params = op.sample(x.shape[0], 32, torch.Generator().manual_seed(4), x.device)
    out = to_uint8(op.apply(x, params))
    subs = sub_policies("cifar10", 32)
    assert len(subs) == 25 and [(s[0][0], s[1][0]) for s in subs] == [(a[0], b[0]) for a, b in
                                                                          T.AutoAugment(T.AutoAugmentPolicy.CIFAR10).policies]
    fired = 0
    for i in range(x.shape[0]):
        img = to_uint8(x[i:i + 1])[0]
        for slot in range(2):
            name, prob, magnitude, signed = subs[params["sub_policy"][i]][slot]
            if params["fire"][i, slot] <= prob:
                fired += 1
                img = one(img, name, -magnitude if signed and params["negative"][i, slot] else magnitude)
        assert torch.equal(out[i], img), i
    assert 0.3 * 128 < fired < 0.9 * 128  # the ops' own probabilities (0.1 .. 1) decide


def test_a_zero_probability_leaves_every_image_alone_and_a_bad_magnitude_is_refused():
    x = photos(8)
    for name in ("randaugment", "autoaugment"):
        assert torch.equal(build_op(name, p=0.0)(x, torch.Generator().manual_seed(0)), x)
    with pytest.raises(ConfigError, match=r"augment.randaugment.magnitude: 31 is not below num_magnitude_bins \(31\)"):
        load_config(None, ["data.root=/unused", "augment.view1=[crop,randaugment]", "augment.randaugment.magnitude=31"])
