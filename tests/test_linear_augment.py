"""The linear stage on augmented views (SupCon Table 9's second stage) on toy data whose answer is known: a
colour class survives every augmentation, a left-or-right class does not survive the flip every one of them
starts with, so training on the views must lose it (and the un-augmented features would keep it)."""

import pytest
import torch
import torch.nn as nn

from bench_ssl.config import load_config
from bench_ssl.errors import ConfigError
from bench_ssl.eval import EvalContext
from bench_ssl.eval.linear_augment import AUGMENTATIONS, LinearAugmentParams, linear_augment
from bench_ssl.eval.linear import linear_eval
from bench_ssl.train.tensors import TensorData


class Halves(nn.Module):
    """Features: each channel's mean over the left and over the right half of the image (6 numbers)."""

    def forward(self, x):
        w = x.shape[-1] // 2
        return torch.cat([x[..., :w].mean((2, 3)), x[..., w:].mean((2, 3))], 1)


def toy(kind: str, n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = 0.3 + 0.1 * torch.rand(n, 3, 32, 32, generator=g)
    if kind == "colour":  # class 0 red, class 1 blue
        x[y == 0, 0] += 0.5
        x[y == 1, 2] += 0.5
    else:  # class 0 bright on the left, class 1 on the right
        x[y == 0, :, :, :16] += 0.5
        x[y == 1, :, :, 16:] += 0.5
    return (x.clamp(0, 1) * 255).round().to(torch.uint8), y


def context(kind: str):
    train_x, train_y = toy(kind, 400, 0)
    test_x, test_y = toy(kind, 200, 1)
    data = TensorData(train_x, train_y, test_x, test_y, torch.full((1, 3, 1, 1), 0.45), torch.full((1, 3, 1, 1), 0.2),
                      ["a", "b"])
    method = nn.Module()
    method.backbone = Halves()
    cfg = load_config(None, ["data.root=/unused", "eval.protocols=[knn,linear_augment]"])
    return EvalContext(cfg=cfg, method=method, data=data)


def test_a_class_every_augmentation_keeps_is_learned_through_each_of_them():
    out = linear_augment(context("colour"), LinearAugmentParams(epochs=15))
    assert sorted(out) == sorted(f"linear_aug_{a}_top1" for a in AUGMENTATIONS)
    assert all(v > 0.9 for v in out.values()), out


def test_a_class_the_flip_destroys_is_lost_though_the_plain_features_hold_it():
    ctx = context("side")
    train_f, train_y, test_f = ctx.features()
    plain = linear_eval(train_f, train_y, test_f, ctx.data.test_y, 2, [0.0]).top1
    out = linear_augment(ctx, LinearAugmentParams(epochs=15, augmentations=["simaugment", "randaugment"]))
    assert plain == 1.0
    assert all(v < 0.75 for v in out.values()), out  # trained on flipped views: left and right look alike


def test_an_unknown_augmentation_is_refused_with_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"'randaug' is not allowed \(did you mean 'randaugment'\?\)"):
        load_config(None, ["data.root=/unused", "eval.protocols=[linear_augment]",
                           "eval.linear_augment.augmentations=[randaug]"])
