"""The transformation-prediction probe (SimCLR Table 3) on a toy case whose answer is known: coloured images
with a bright corner, a backbone that keeps a pooled copy of the pixels (every transformation shows in it)
and a head that maps everything to zero (none does). h must predict each label almost perfectly, g(h) no
better than the majority label."""

import pytest
import torch
import torch.nn as nn

from bench_ssl.augment import to_float
from bench_ssl.augment._base import grayscale
from bench_ssl.config import load_config
from bench_ssl.errors import ConfigError
from bench_ssl.eval import EvalContext
from bench_ssl.eval.transform_probe import TASKS, probe_set, transform_probe, TransformProbeParams
from bench_ssl.train.tensors import TensorData


class Pooled(nn.Module):
    """A 'backbone' that keeps the image at 8x8 (the corner's place, the colours, the edges survive) and each
    channel's mean step between neighbouring pixels (which noise raises)."""

    out_dim = 195

    def forward(self, x):
        steps = (x[..., 1:] - x[..., :-1]).abs().mean((2, 3))
        return torch.cat([nn.functional.adaptive_avg_pool2d(x, 8).flatten(1), steps], 1)


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Pooled()
        self.head = nn.Linear(195, 16)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)


def images(n: int, seed: int) -> torch.Tensor:
    """Smooth coloured images (a random colour per image) with a bright top-left corner."""
    g = torch.Generator().manual_seed(seed)
    colour = torch.rand(n, 3, 1, 1, generator=g) * 0.6 + 0.2
    ramp = torch.linspace(0.0, 0.3, 32).view(1, 1, 1, 32)
    x = (colour + ramp).clamp(0, 1).expand(n, 3, 32, 32).clone()
    x[:, :, :8, :8] = 1.0
    return (x * 255).round().to(torch.uint8)


def context(n_train=600, n_test=400):
    cfg = load_config(None, ["data.root=/unused", "eval.batch_size=256", "augment.view1=[crop,flip,color,noise]",
                             "augment.noise.std=0.3"])  # the probe noises as the pretraining did
    data = TensorData(images(n_train, 0), torch.zeros(n_train, dtype=torch.long), images(n_test, 1),
                      torch.zeros(n_test, dtype=torch.long), torch.full((1, 3, 1, 1), 0.5), torch.full((1, 3, 1, 1), 0.25),
                      ["a"])
    return EvalContext(cfg=cfg, method=Toy(), data=data)


def test_each_task_labels_what_it_did():
    x = images(64, 3)
    for task in TASKS:
        out, label = probe_set(task, x, seed=5)
        out2, label2 = probe_set(task, x, seed=5)
        assert torch.equal(out, out2) and torch.equal(label, label2)  # fixed by the seed
        changed = (out.float() - x.float()).abs().flatten(1).amax(1) > 0
        if task == "rotation":
            assert set(label.tolist()) == {0, 1, 2, 3}
            for k in range(4):  # label k: turned k quarter turns counter-clockwise
                sel = label == k
                assert torch.equal(out[sel], torch.rot90(x[sel], k, dims=(-2, -1)))
        else:
            assert torch.equal(changed, label.bool())  # the transformation was applied exactly where labelled
    out, label = probe_set("grayscale", images(2000, 4), seed=1)
    assert 0.15 < label.float().mean() < 0.25  # the paper's frequency: chance is 80%
    grey = to_float(out[label.bool()])
    assert torch.allclose(grey, grayscale(grey).expand_as(grey), atol=1 / 255)


def test_h_keeps_every_transformation_and_a_blind_head_keeps_none():
    ctx = context()
    out = transform_probe(ctx, TransformProbeParams())
    for task in TASKS:
        chance = out[f"probe_{task}_chance"]
        # an image's noise std is drawn from U(0, 0.3): the faintest few are invisible; every other label shows
        assert out[f"probe_{task}_h_top1"] > (0.9 if task == "noise" else 0.97), (task, out)
        assert out[f"probe_{task}_gh_top1"] <= chance + 1e-6, (task, out)  # constant features: the majority at best
    assert out["probe_grayscale_chance"] > 0.7 and out["probe_rotation_chance"] < 0.35


def test_unknown_task_is_refused_with_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"'rotate' is not allowed \(did you mean 'rotation'\?\); allowed: grayscale"):
        load_config(None, ["data.root=/unused", "eval.protocols=[knn,transform_probe]",
                           "eval.transform_probe.tasks=[rotate]"])
