"""InfoNCE, SupCon and the BYOL/SimSiam regression losses against values computed by hand on tiny inputs."""

import math

import pytest
import torch
import torch.nn.functional as F

from bench_ssl.losses import SupConParams, infonce, negative_cosine, normalized_mse, nt_xent, supcon

S = 1 / math.sqrt(2)


def _cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def _naive_infonce(q, k, negatives_of, t):
    """Mean over queries of -log(exp(q.k/t) / (exp(q.k/t) + sum over that query's negatives))."""
    total = 0.0
    for n in range(len(q)):
        pos = math.exp(_cos(q[n], k[n]) / t)
        neg = sum(math.exp(_cos(q[n], v) / t) for v in negatives_of(n))
        total += -math.log(pos / (pos + neg))
    return total / len(q)


# ----------------------------------------------------------------------------------------------- InfoNCE
def test_infonce_hand_computed_with_a_queue():
    # q0=(1,0), k0=(1,1): cos s; queue rows (0,3) and (-2,0) normalise to (0,1), (-1,0): q0 sees 0 and -1.
    # q1=(0,1), k1=(0,2): cos 1; q1 sees 1 and 0. t = 0.5.
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[1.0, 1.0], [0.0, 2.0]])
    queue = torch.tensor([[0.0, 3.0], [-2.0, 0.0]])
    e = math.exp
    row0 = -math.log(e(2 * S) / (e(2 * S) + e(0) + e(-2)))
    row1 = -math.log(e(2) / (e(2) + e(2) + e(0)))
    assert infonce(q, k, queue, 0.5).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    # without normalisation the raw dot products count: q0.k0 = 1, q0.queue = (0, -2); q1.k1 = 2, q1.queue = (3, 0)
    raw0 = -math.log(e(2) / (e(2) + e(0) + e(-4)))
    raw1 = -math.log(e(4) / (e(4) + e(6) + e(0)))
    assert infonce(q, k, queue, 0.5, normalize=False).item() == pytest.approx((raw0 + raw1) / 2, rel=1e-6)


def test_infonce_in_batch_hand_computed_uses_the_other_keys_only():
    # end-to-end: q0=(1,0), q1=(0,1); k0=(1,1), k1=(-1,1). Row 0: positive s, negative q0.k1 = -s.
    # Row 1: positive q1.k1 = s, negative q1.k0 = s, so log 2. t = 0.5.
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[1.0, 1.0], [-1.0, 1.0]])
    row0 = -math.log(math.exp(2 * S) / (math.exp(2 * S) + math.exp(-2 * S)))
    assert infonce(q, k, None, 0.5).item() == pytest.approx((row0 + math.log(2)) / 2, rel=1e-6)


@pytest.mark.parametrize("t", [0.07, 0.2, 1.0])
def test_infonce_matches_naive_loops(t):
    g = torch.Generator().manual_seed(0)
    q, k, queue = torch.randn(5, 6, generator=g), torch.randn(5, 6, generator=g), torch.randn(9, 6, generator=g)
    ql, kl, queuel = q.tolist(), k.tolist(), queue.tolist()
    expected = _naive_infonce(ql, kl, lambda n: queuel, t)
    assert infonce(q, k, queue, t).item() == pytest.approx(expected, rel=1e-5)
    in_batch = _naive_infonce(ql, kl, lambda n: [kl[j] for j in range(5) if j != n], t)  # exactly N-1 negatives
    assert infonce(q, k, None, t).item() == pytest.approx(in_batch, rel=1e-5)


@pytest.mark.parametrize("n,queue_len", [(4, 7), (6, 1), (8, None)])
def test_infonce_with_all_vectors_equal_is_log_of_one_plus_k(n, queue_len):
    # every logit is the same, so the loss counts the candidates: log(1 + K), with K = N - 1 in-batch
    v = torch.ones(n, 3)
    queue = None if queue_len is None else torch.ones(queue_len, 3)
    k = n - 1 if queue_len is None else queue_len
    assert infonce(v, v, queue, 0.2).item() == pytest.approx(math.log(1 + k), rel=1e-6)


def test_infonce_gradients_float32_and_shape_errors():
    q = torch.randn(4, 8, requires_grad=True)
    k, queue = torch.randn(4, 8), torch.randn(16, 8)
    infonce(q, k, queue, 0.1).backward()
    assert q.grad.abs().sum() > 0
    qb, kb, queueb = q.detach().bfloat16(), k.bfloat16(), queue.bfloat16()
    loss = infonce(qb, kb, queueb, 0.1)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(infonce(qb.float(), kb.float(), queueb.float(), 0.1).item(), rel=1e-6)
    with pytest.raises(ValueError, match="must both be"):
        infonce(torch.randn(4, 8), torch.randn(3, 8), queue, 0.1)
    with pytest.raises(ValueError, match="queue must be"):
        infonce(q, k, torch.randn(16, 7), 0.1)


# ------------------------------------------------------------------------------------------------ SupCon
def test_supcon_hand_computed_two_samples_two_views():
    # sample 0: both views (1,0); sample 1: both views (0,1); t = 1. Every anchor: one other at cos 1,
    # two at cos 0, so each denominator is e + 2.
    z = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    e = math.e
    # distinct labels: the positive is the other view only -> NT-Xent, log(1 + 2/e)
    for variant in ("out", "in"):
        assert supcon(z, torch.tensor([0, 1]), 1.0, variant).item() == pytest.approx(math.log(1 + 2 / e), rel=1e-6)
    # one label: all three others are positives, with cosines 1, 0, 0
    same = torch.tensor([3, 3])
    # L_out = log(e + 2) - (1 + 0 + 0) / 3; L_in = -log((e + 1 + 1) / 3 / (e + 2)) = log 3
    assert supcon(z, same, 1.0, "out").item() == pytest.approx(math.log(e + 2) - 1 / 3, rel=1e-6)
    assert supcon(z, same, 1.0, "in").item() == pytest.approx(math.log(3), rel=1e-6)


def _naive_supcon(z, labels, t, variant):
    """Explicit loops over anchors, positives and the denominator, anchors in (view, sample) order."""
    n, v = len(z), len(z[0])
    anchors = [(z[i][a], labels[i]) for a in range(v) for i in range(n)]
    total = 0.0
    for i, (fi, li) in enumerate(anchors):
        denom = sum(math.exp(_cos(fi, fa) / t) for a, (fa, _) in enumerate(anchors) if a != i)
        probs = [math.exp(_cos(fi, fp) / t) / denom for p, (fp, lp) in enumerate(anchors) if p != i and lp == li]
        if variant == "out":
            total += -sum(math.log(pr) for pr in probs) / len(probs)
        else:
            total += -math.log(sum(probs) / len(probs))
    return total / len(anchors)


@pytest.mark.parametrize("variant", ["out", "in"])
@pytest.mark.parametrize("views", [2, 3])
def test_supcon_matches_naive_loops_with_repeated_labels(variant, views):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(6, views, 5, generator=g)
    labels = torch.tensor([0, 1, 0, 2, 1, 0])
    expected = _naive_supcon(z.tolist(), labels.tolist(), 0.3, variant)
    assert supcon(z, labels, 0.3, variant).item() == pytest.approx(expected, rel=1e-5)


def test_supcon_out_and_in_differ_and_obey_jensen():
    g = torch.Generator().manual_seed(2)
    z, labels = torch.randn(8, 2, 4, generator=g), torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    out, inside = supcon(z, labels, 0.1, "out").item(), supcon(z, labels, 0.1, "in").item()
    assert out > inside  # -mean(log p) >= -log(mean p), strictly when the positives' probabilities differ


@pytest.mark.parametrize("t", [0.1, 0.5])
def test_supcon_with_unique_labels_equals_nt_xent(t):
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(7, 16, generator=g), torch.randn(7, 16, generator=g)
    z = torch.stack([z1, z2], dim=1)
    expected = nt_xent(z1, z2, t).item()
    for variant in ("out", "in"):
        assert supcon(z, torch.arange(7), t, variant).item() == pytest.approx(expected, rel=1e-6)
    assert supcon(z, torch.tensor([0, 0, 1, 2, 3, 4, 5]), t).item() != pytest.approx(expected, rel=1e-3)


def test_supcon_gradients_dtype_default_temperature_and_errors():
    z = torch.randn(4, 2, 8, requires_grad=True)
    labels = torch.tensor([0, 1, 0, 1])
    for variant in ("out", "in"):
        z.grad = None
        supcon(z, labels, variant=variant).backward()
        assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    # the default t is the method's one (method.temperature of supcon), declared once in SupConParams
    assert supcon(z, labels).item() == pytest.approx(supcon(z, labels, SupConParams.temperature).item())
    assert supcon(z.detach().bfloat16(), labels).dtype == torch.float32
    # one view and unique labels: no anchor has a positive; nothing to learn, and no NaN
    single = torch.randn(4, 1, 8, requires_grad=True)
    supcon(single, torch.arange(4), variant="in").backward()
    assert supcon(single, torch.arange(4)).item() == 0.0 and torch.isfinite(single.grad).all()
    # one view, labels 0 0 1 2: only the two anchors of class 0 have a positive, and the mean is over them
    f = F.normalize(single.detach()[:, 0], dim=1)
    lse = torch.logsumexp((f @ f.T / 0.1).fill_diagonal_(float("-inf")), dim=1)
    expected = ((lse[0] - f[0] @ f[1] / 0.1) + (lse[1] - f[1] @ f[0] / 0.1)) / 2
    assert supcon(single, torch.tensor([0, 0, 1, 2]), 0.1).item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="must be"):
        supcon(torch.randn(4, 8), labels)
    with pytest.raises(ValueError, match="variant"):
        supcon(z, labels, variant="mid")


# ----------------------------------------------------------------------------------- BYOL / SimSiam losses
def test_negative_cosine_and_normalized_mse_hand_computed_with_stop_gradient():
    p = torch.tensor([[1.0, 0.0], [0.0, 3.0]], requires_grad=True)
    z = torch.tensor([[1.0, 1.0], [0.0, -1.0]], requires_grad=True)  # cosines s and -1
    assert negative_cosine(p, z).item() == pytest.approx(-(S - 1) / 2, rel=1e-6)
    assert normalized_mse(p, z).item() == pytest.approx(((2 - 2 * S) + 4) / 2, rel=1e-6)
    for loss in (negative_cosine, normalized_mse):
        p.grad = z.grad = None
        loss(p, z).backward()
        assert p.grad.abs().sum() > 0 and z.grad is None  # the target side is detached
    with pytest.raises(ValueError, match="must both be"):
        negative_cosine(torch.randn(3, 4), torch.randn(3, 5))


def test_normalized_mse_is_squared_distance_of_unit_vectors():
    g = torch.Generator().manual_seed(4)
    p, z = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    expected = ((F.normalize(p, dim=1) - F.normalize(z, dim=1)) ** 2).sum(1).mean()
    assert normalized_mse(p, z).item() == pytest.approx(expected.item(), rel=1e-6)
    assert normalized_mse(p, z).item() == pytest.approx(2 + 2 * negative_cosine(p, z).item(), rel=1e-6)


def test_supcon_positives_capped_per_anchor_keep_the_own_view_and_draw_same_class_others():
    from bench_ssl.losses.supcon import positives

    labels = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1])  # class 0: 5 images x 2 views = 9 candidates per anchor
    n, v = 8, 2
    full = positives(labels, v)
    capped = positives(labels, v, max_positives=3, generator=torch.Generator().manual_seed(0))
    own = torch.zeros(n * v, n * v, dtype=torch.bool)
    for a in range(n * v):
        own[a, (a + n) % (n * v)] = True  # the other view of the same image
    assert (capped <= full).all() and (capped & own).sum() == n * v  # a subset of the same-class ones, own view kept
    assert capped.sum(1).tolist() == [3] * (n * v)
    six = positives(labels, v, max_positives=6, generator=torch.Generator().manual_seed(0))
    assert six.sum(1).tolist() == ([6] * 5 + [5] * 3) * 2  # class 1 has only 3 images x 2 views - itself = 5
    assert positives(labels, v, max_positives=50).equal(full)  # a cap above what there is changes nothing
    other = positives(labels, v, max_positives=3, generator=torch.Generator().manual_seed(1))
    assert not other.equal(capped)  # drawn afresh: another generator state, another subset


def test_supcon_with_one_positive_is_nt_xent_whatever_the_labels():
    g = torch.Generator().manual_seed(4)
    z1, z2 = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    expected = nt_xent(z1, z2, 0.2).item()
    for variant in ("out", "in"):
        got = supcon(torch.stack([z1, z2], dim=1), labels, 0.2, variant, max_positives=1).item()
        assert got == pytest.approx(expected, rel=1e-6)
    assert supcon(torch.stack([z1, z2], dim=1), labels, 0.2).item() != pytest.approx(expected, rel=1e-3)
