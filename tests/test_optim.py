"""Learning-rate schedule and LARS against hand computations."""

import math

import pytest
import torch

from bench_ssl.config import OptimConfig
from bench_ssl.optim import LARS, build_optimizer, lr_at, param_groups


def test_warmup_then_cosine():
    total, warm, base = 100, 10, 1.0
    assert lr_at(0, total, base, warm) == pytest.approx(0.1)
    assert lr_at(9, total, base, warm) == pytest.approx(1.0)
    assert lr_at(10, total, base, warm) == pytest.approx(1.0)
    assert lr_at(55, total, base, warm) == pytest.approx(0.5)  # half-way through the cosine
    assert lr_at(100, total, base, warm, min_lr=0.01) == pytest.approx(0.01)
    assert lr_at(40, total, base, warm, schedule="constant") == 1.0
    expected = 0.5 * (1 + math.cos(math.pi * 30 / 90))
    assert lr_at(40, total, base, warm) == pytest.approx(expected)


def test_step_schedule_divides_by_ten_at_60_and_80_percent_of_training():
    """MoCo v1's schedule: 200 epochs, lr x0.1 at epochs 120 and 160 (here steps of 1,000)."""
    total, warm = 1000, 0
    assert [lr_at(s, total, 0.03, warm, schedule="step") for s in (0, 599, 600, 799, 800, 999)] == pytest.approx(
        [0.03, 0.03, 0.003, 0.003, 0.0003, 0.0003])
    assert lr_at(4, total, 0.03, 10, schedule="step") == pytest.approx(0.015)  # the warm-up comes first


def test_lars_step_by_hand():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))  # ||w|| = 5
    w.grad = torch.tensor([0.6, 0.8])  # ||g|| = 1
    opt = LARS([{"params": [w], "weight_decay": 0.0, "lars": True}], lr=0.1, momentum=0.9, eta=0.01)
    opt.step()
    # trust ratio eta*||w||/||g|| = 0.05: step = lr * 0.05 * g
    assert torch.allclose(w.detach(), torch.tensor([3.0, 4.0]) - 0.1 * 0.05 * torch.tensor([0.6, 0.8]))
    w2 = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    w2.grad = torch.tensor([0.6, 0.8])
    LARS([{"params": [w2], "weight_decay": 0.0, "lars": False}], lr=0.1).step()
    assert torch.allclose(w2.detach(), torch.tensor([3.0, 4.0]) - 0.1 * torch.tensor([0.6, 0.8]))


def test_bias_and_bn_excluded_from_decay_and_lars():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    groups = param_groups(model, 1e-4, exclude_bias_bn=True)
    assert [len(g["params"]) for g in groups] == [1, 3]
    assert groups[1]["weight_decay"] == 0.0 and groups[1]["lars"] is False
    assert len(param_groups(model, 1e-4, exclude_bias_bn=False)) == 1


@pytest.mark.parametrize("name,cls", [("sgd", torch.optim.SGD), ("lars", LARS), ("adamw", torch.optim.AdamW),
                                      ("rmsprop", torch.optim.RMSprop)])
def test_build_optimizer_scales_lr(name, cls):
    model = torch.nn.Linear(4, 2)
    opt = build_optimizer(model, OptimConfig(name=name, lr=0.3, lr_scaling="linear", batch_size=512))
    assert isinstance(opt, cls)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.6)


def test_lars_matches_a_per_tensor_reference_over_several_steps():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.Linear(5, 3))
    ref = {n: p.detach().clone() for n, p in model.named_parameters()}
    bufs = {}
    opt = LARS(param_groups(model, 1e-2, exclude_bias_bn=True), lr=0.5, momentum=0.9, weight_decay=1e-2, eta=0.02)
    for step in range(4):
        x = torch.randn(8, 6)
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
        opt.step()
        for n, g in grads.items():  # the textbook update, one tensor at a time
            w = ref[n]
            if w.ndim > 1:
                d = g + 1e-2 * w
                d = d * (0.02 * w.norm() / d.norm())
            else:
                d = g
            bufs[n] = d if n not in bufs else 0.9 * bufs[n] + d
            ref[n] = w - 0.5 * bufs[n]
        for n, p in model.named_parameters():
            assert torch.allclose(p.detach(), ref[n], atol=1e-6), (step, n)
