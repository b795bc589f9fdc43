"""Losses against values computed by hand (math module, explicit loops) on tiny inputs."""

import math

import pytest
import torch
import torch.nn.functional as F

from bench_ssl.losses import LOSSES, margin_triplet, nt_logistic, nt_xent


def _cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def _naive_nt_xent(z1, z2, t, sim):
    z = z1 + z2
    n = len(z1)
    total = 0.0
    for a in range(2 * n):
        pos = (a + n) % (2 * n)
        denom = sum(math.exp(sim(z[a], z[b]) / t) for b in range(2 * n) if b != a)
        total += -math.log(math.exp(sim(z[a], z[pos]) / t) / denom)
    return total / (2 * n)


def test_nt_xent_hand_computed_two_pairs():
    # anchors a0=(1,0), a1=(0,1); positives b0=(1,1)/sqrt2, b1=(-1,1)/sqrt2; t=0.5. With s = 1/sqrt2 the
    # cosines are a0.b0 = a1.b0 = a1.b1 = s, a0.b1 = -s, a0.a1 = b0.b1 = 0, so anchors a0 and b1 see
    # {s, 0, -s} and anchors a1 and b0 see {s, s, 0} (positive first):
    e = math.exp(2 / math.sqrt(2))  # exp(s / t)
    expected = (2 * math.log((e + 1 + 1 / e) / e) + 2 * math.log((2 * e + 1) / e)) / 4
    got = nt_xent(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 1.0], [-1.0, 1.0]]), temperature=0.5)
    assert got.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
def test_nt_xent_matches_naive_loop_on_random_inputs(t):
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    expected = _naive_nt_xent(z1.tolist(), z2.tolist(), t, _cos)
    assert nt_xent(z1, z2, temperature=t).item() == pytest.approx(expected, rel=1e-5)


def test_nt_xent_without_l2_normalisation_uses_raw_dot_products():
    g = torch.Generator().manual_seed(1)
    z1, z2 = 0.3 * torch.randn(4, 3, generator=g), 0.3 * torch.randn(4, 3, generator=g)
    expected = _naive_nt_xent(z1.tolist(), z2.tolist(), 0.5, _dot)
    assert nt_xent(z1, z2, temperature=0.5, normalize=False).item() == pytest.approx(expected, rel=1e-5)
    assert nt_xent(z1, z2, 0.5, normalize=False).item() != pytest.approx(nt_xent(z1, z2, 0.5).item(), rel=1e-3)


def test_nt_xent_is_small_for_identical_views_and_log_2n_minus_1_for_identical_everything():
    z = F.one_hot(torch.arange(4), 8).float()
    assert nt_xent(z, z, temperature=0.05).item() < 1e-6
    ones = torch.ones(4, 8)
    assert nt_xent(ones, ones, temperature=0.5).item() == pytest.approx(math.log(7), rel=1e-6)


def test_nt_logistic_hand_computed():
    z1, z2 = [[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [-1.0, 1.0]]
    z, t = z1 + z2, 0.5
    logsig = lambda v: -math.log1p(math.exp(-v))  # noqa: E731
    total = 0.0
    for a in range(4):
        pos = (a + 2) % 4
        negs = [b for b in range(4) if b not in (a, pos)]
        total += -logsig(_cos(z[a], z[pos]) / t) - sum(logsig(-_cos(z[a], z[b]) / t) for b in negs) / len(negs)
    got = nt_logistic(torch.tensor(z1), torch.tensor(z2), temperature=t).item()
    assert got == pytest.approx(total / 4, rel=1e-6)


def test_margin_triplet_hand_computed_and_semi_hard():
    z1, z2 = [[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [-1.0, 1.0]]
    z, m = z1 + z2, 0.5
    total = total_semi = 0.0
    for a in range(4):
        pos = (a + 2) % 4
        sp = _cos(z[a], z[pos])
        negs = [b for b in range(4) if b not in (a, pos)]
        total += sum(max(0.0, _cos(z[a], z[b]) - sp + m) for b in negs) / len(negs)
        semi = [b for b in negs if _cos(z[a], z[b]) < sp]
        total_semi += sum(max(0.0, _cos(z[a], z[b]) - sp + m) for b in semi) / max(1, len(semi))
    t1, t2 = torch.tensor(z1), torch.tensor(z2)
    assert margin_triplet(t1, t2, margin=m).item() == pytest.approx(total / 4, rel=1e-6)
    assert margin_triplet(t1, t2, margin=m, semi_hard=True).item() == pytest.approx(total_semi / 4, rel=1e-6)
    assert total_semi != pytest.approx(total)  # the mining changes the value on this input


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_has_gradients_and_rejects_mismatched_shapes(name):
    z1 = torch.randn(6, 4, requires_grad=True)
    z2 = torch.randn(6, 4, requires_grad=True)
    LOSSES[name](z1, z2).backward()
    assert z1.grad.abs().sum() > 0 and z2.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="must both be"):
        LOSSES[name](torch.randn(6, 4), torch.randn(5, 4))


def test_losses_compute_in_float32_under_bf16_inputs():
    z1, z2 = torch.randn(8, 16).bfloat16(), torch.randn(8, 16).bfloat16()
    loss = nt_xent(z1, z2, 0.1)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(nt_xent(z1.float(), z2.float(), 0.1).item(), rel=1e-6)
