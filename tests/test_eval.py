"""kNN and the linear protocol on inputs whose answers are known."""

import itertools
import math

import numpy as np
import pytest
import torch

from bench_ssl.eval import knn_accuracy, knn_predict, linear_eval, stratified_holdout, topk_accuracy


def test_weighted_knn_votes_by_hand():
    train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1.0, 0.1]])
    scores = knn_predict(train, labels, test, num_classes=2, k=2, t=0.1)
    q = torch.nn.functional.normalize(test, dim=1)[0]
    s0, s1 = q @ train[0], q @ train[1]  # the two nearest; train rows are unit vectors
    assert scores[0, 0].item() == pytest.approx(math.exp(s0 / 0.1), rel=1e-5)
    assert scores[0, 1].item() == pytest.approx(math.exp(s1 / 0.1), rel=1e-5)
    # with k=3 the far neighbour (label 1) adds its vote
    assert knn_predict(train, labels, test, 2, k=3, t=0.1)[0, 1] > scores[0, 1]


def test_knn_accuracy_on_clusters_and_k_larger_than_train():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 16, generator=g) * 5
    y = torch.arange(3).repeat_interleave(20)
    x = centers[y] + torch.randn(60, 16, generator=g)
    assert knn_accuracy(x[::2], y[::2], x[1::2], y[1::2], 3, k=5) == 1.0
    assert 0.0 <= knn_accuracy(x[::2], y[::2], x[1::2], y[1::2], 3, k=500) <= 1.0


def test_stratified_holdout_keeps_class_proportions():
    y = torch.arange(4).repeat_interleave(50)
    fit, val = stratified_holdout(y, 0.1, seed=0)
    assert len(set(fit.tolist()) & set(val.tolist())) == 0 and len(fit) + len(val) == 200
    assert torch.bincount(y[val]).tolist() == [5, 5, 5, 5]
    assert torch.equal(val, stratified_holdout(y, 0.1, seed=0)[1])


def test_topk():
    logits = torch.tensor([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
    y = torch.tensor([2, 0])
    assert topk_accuracy(logits, y, 1) == 0.5 and topk_accuracy(logits, y, 2) == 1.0


def test_linear_eval_separable_and_noise_features():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(20, 4, generator=g)
    x = torch.randn(600, 20, generator=g)
    y = (x @ w).argmax(1)
    res = linear_eval(x[:400], y[:400], x[400:], y[400:], 4, [0.0, 1e-3, 1.0], holdout=0.2)
    assert res.top1 > 0.9 and res.top5 == 1.0
    assert set(res.val_top1) == {0.0, 1e-3, 1.0} and res.weight_decay in res.val_top1
    assert res.val_top1[1.0] < max(res.val_top1.values())  # heavy decay underfits, so it is not chosen
    noise = linear_eval(torch.randn(400, 20, generator=g), y[:400], torch.randn(200, 20, generator=g), y[400:], 4, [1e-3])
    assert noise.top1 < 0.45  # no signal: about chance (0.25)


def test_linear_eval_sgd_solver_agrees():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(10, 3, generator=g)
    x = torch.randn(500, 10, generator=g)
    y = (x @ w).argmax(1)
    res = linear_eval(x[:400], y[:400], x[400:], y[400:], 3, [1e-4], solver="sgd", epochs=30)
    assert res.top1 > 0.85


# ------------------------------------------------------------------------------------ k-means clustering
def test_nmi_and_ari_match_scikit_learn_on_fixed_labels():
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from bench_ssl.eval.kmeans import ari, nmi

    rng = np.random.default_rng(0)
    cases = [(rng.integers(0, 10, 500), rng.integers(0, 10, 500)),  # unrelated
             (np.repeat(np.arange(5), 40), np.repeat(np.arange(5), 40)[rng.permutation(200)]),
             (np.repeat(np.arange(4), 25), (np.repeat(np.arange(4), 25) + (rng.random(100) < 0.2)) % 4),  # 20% off
             (np.repeat(np.arange(3), 10), np.repeat([2, 0, 1], 10)),  # a relabelling: perfect
             (rng.integers(0, 3, 60), rng.integers(0, 7, 60))]  # more clusters than classes
    for labels, clusters in cases:
        assert nmi(labels, clusters) == pytest.approx(normalized_mutual_info_score(labels, clusters), abs=1e-10)
        assert ari(labels, clusters) == pytest.approx(adjusted_rand_score(labels, clusters), abs=1e-10)


def test_hungarian_matches_brute_force_over_every_permutation():
    from bench_ssl.eval.hungarian import max_assignment
    from bench_ssl.eval.kmeans import cluster_accuracy, contingency

    rng = np.random.default_rng(1)
    for n in (1, 2, 3, 5, 6):
        for _ in range(20):
            score = rng.integers(0, 20, (n, n))
            cols = max_assignment(score)
            assert sorted(cols) == list(range(n))
            best = max(sum(score[i, p[i]] for i in range(n)) for p in itertools.permutations(range(n)))
            assert score[np.arange(n), cols].sum() == best
    labels, clusters = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    t = contingency(labels, clusters)
    brute = max(sum(t[i, p[i]] for i in range(5)) for p in itertools.permutations(range(5))) / 300
    assert cluster_accuracy(labels, clusters) == pytest.approx(brute)


def test_kmeans_recovers_separated_blobs_whatever_the_restart_and_is_fixed_by_the_seed():
    from bench_ssl.eval.kmeans import cluster_accuracy, kmeans

    g = torch.Generator().manual_seed(0)
    centres = torch.randn(6, 32, generator=g) * 6
    y = torch.arange(6).repeat_interleave(50)
    x = centres[y] + torch.randn(300, 32, generator=g)
    clusters = kmeans(x, 6, restarts=5, seed=3)
    assert cluster_accuracy(y.numpy(), clusters.numpy()) == 1.0
    assert torch.equal(clusters, kmeans(x, 6, restarts=5, seed=3))
    with pytest.raises(ValueError, match="needs at least 7 points"):
        kmeans(x[:6], 7)


# ------------------------------------------------------------------------ fine-tuning and semi-supervised
def test_label_subsets_are_class_balanced_fixed_per_seed_nested_and_never_empty():
    from bench_ssl.errors import ConfigError
    from bench_ssl.eval.tuning import balanced_subset

    y = torch.arange(10).repeat_interleave(100)[torch.randperm(1000, generator=torch.Generator().manual_seed(0))]
    one, ten = balanced_subset(y, 0.01, seed=3), balanced_subset(y, 0.1, seed=3)
    assert torch.bincount(y[one], minlength=10).tolist() == [1] * 10
    assert torch.bincount(y[ten], minlength=10).tolist() == [10] * 10
    assert set(one.tolist()) <= set(ten.tolist())  # the 1% inside the 10%
    assert torch.equal(one, balanced_subset(y, 0.01, seed=3)) and not torch.equal(ten, balanced_subset(y, 0.1, seed=4))
    with pytest.raises(ConfigError) as info:
        balanced_subset(y, 0.004, seed=0, classes=[f"c{i}" for i in range(10)])
    assert str(info.value) == ("eval.semi_supervised.fractions: 0.004 leaves class 'c0' with 0 of its 100 training images; "
                               "use at least 0.01 (one image per class)")


# ------------------------------------------------------------------------------------------ t-SNE
def test_tsne_affinities_match_the_perplexity_and_the_embedding_separates_what_is_separate():
    from bench_ssl.eval.embedding import balanced_sample, neighbour_agreement
    from bench_ssl.eval.tsne import affinities, conditional, kl_divergence, tsne

    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 20, generator=g, dtype=torch.float64)
    rows = conditional(x, 15.0)
    entropy = -(rows * rows.clamp_min(1e-30).log()).sum(1)
    assert torch.allclose(entropy, torch.full((200,), math.log(15.0), dtype=torch.float64), atol=1e-6)  # perplexity 15
    assert torch.allclose(rows.diagonal(), torch.zeros(200, dtype=torch.float64))
    d2 = torch.cdist(x, x).pow(2)
    nearer = d2[0, 1:].argsort()[:3] + 1  # a Gaussian kernel: nearer points get more
    assert (rows[0, nearer[0]] >= rows[0, nearer[1]]) and (rows[0, nearer[1]] >= rows[0, nearer[2]])
    p = affinities(x, 15.0)
    assert p.sum().item() == pytest.approx(1.0) and torch.allclose(p, p.T)
    assert p[0, 1].item() == pytest.approx(max((rows[0, 1] + rows[1, 0]).item() / 400, 1e-12))
    centres = torch.randn(5, 64, generator=g) * 4
    y = torch.arange(5).repeat_interleave(60)
    blobs = centres[y] + torch.randn(300, 64, generator=g)
    emb = tsne(blobs, iterations=400)
    assert neighbour_agreement(emb, y) >= 0.99  # one straggler of 300 at most
    assert neighbour_agreement(tsne(torch.randn(300, 64, generator=g), iterations=400), y) < 0.1  # no structure
    p_blobs = affinities(blobs.double() - blobs.double().mean(0), 30.0)
    assert kl_divergence(p_blobs, emb) < kl_divergence(p_blobs, torch.randn(300, 2, generator=g))  # it minimised KL
    rows = balanced_sample(y, 50, seed=1)
    assert torch.bincount(y[rows]).tolist() == [10] * 5 and torch.equal(rows, balanced_sample(y, 50, seed=1))


@pytest.mark.parametrize("solver", ["lars", "rmsprop"])
def test_linear_eval_lars_and_rmsprop_solvers_reach_the_lbfgs_answer(solver):
    g = torch.Generator().manual_seed(1)
    w = torch.randn(10, 3, generator=g)
    x = torch.randn(600, 10, generator=g)
    y = (x @ w).argmax(1)
    ref = linear_eval(x[:500], y[:500], x[500:], y[500:], 3, [1e-4])
    res = linear_eval(x[:500], y[:500], x[500:], y[500:], 3, [1e-4], solver=solver, epochs=100)
    assert ref.top1 > 0.9 and res.top1 > ref.top1 - 0.05, (solver, res.top1, ref.top1)


def test_linear_optimizers_fits_each_optimizer_on_the_same_features_and_refuses_unknown_ones():
    from bench_ssl.config import load_config
    from bench_ssl.errors import ConfigError
    from bench_ssl.eval import EvalContext
    from bench_ssl.eval.linear_optimizers import LinearOptimizersParams, linear_optimizers
    from bench_ssl.train.tensors import TensorData

    g = torch.Generator().manual_seed(2)
    centres = torch.rand(3, 3, 1, 1, generator=g)
    y = torch.arange(300) % 3
    images = ((centres[y] + 0.05 * torch.randn(300, 3, 8, 8, generator=g)).clamp(0, 1) * 255).to(torch.uint8)
    data = TensorData(images[:240], y[:240], images[240:], y[240:], torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1),
                      ["a", "b", "c"])
    method = torch.nn.Module()
    method.backbone = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())  # the colour: separable
    cfg = load_config(None, ["data.root=/unused", "eval.protocols=[knn,linear_optimizers]"])
    out = linear_optimizers(EvalContext(cfg=cfg, method=method, data=data), LinearOptimizersParams(epochs=50))
    assert sorted(k for k in out if k.endswith("_top1")) == ["linear_lars_top1", "linear_rmsprop_top1", "linear_sgd_top1"]
    assert all(out[k] == 1.0 for k in out if k.endswith("_top1")), out
    with pytest.raises(ConfigError, match=r"'lbfgs' is not allowed; allowed: sgd, lars, rmsprop"):
        load_config(None, ["data.root=/unused", "eval.protocols=[linear_optimizers]",
                           "eval.linear_optimizers.optimizers=[lbfgs]"])


def test_the_classifier_protocol_scores_the_methods_own_classifier_and_refuses_a_method_without_one():
    from bench_ssl.config import load_config
    from bench_ssl.errors import ConfigError
    from bench_ssl.eval import EvalContext
    from bench_ssl.eval.classifier import ClassifierParams, classifier
    from bench_ssl.train.tensors import TensorData

    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    images[1, 0] = images[3, 0] = 255  # red images are class 1
    y = torch.tensor([0, 1, 0, 1])
    method = torch.nn.Module()
    method.backbone = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    method.classifier = torch.nn.Linear(3, 2)
    with torch.no_grad():  # logit 1 = 10 x red - 5: right on every image but the last, which is labelled 0 below
        method.classifier.weight.copy_(torch.tensor([[0.0, 0, 0], [10.0, 0, 0]]))
        method.classifier.bias.copy_(torch.tensor([0.0, -5.0]))
    data = TensorData(images, y, images, torch.tensor([0, 1, 0, 0]), torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1),
                      ["a", "b"])
    cfg = load_config(None, ["data.root=/unused", "method.name=supervised", "eval.protocols=[knn,linear,classifier]"])
    out = classifier(EvalContext(cfg=cfg, method=method, data=data), ClassifierParams())
    assert out["classifier_top1"] == pytest.approx(0.75) and out["classifier_top5"] == 1.0
    with pytest.raises(ConfigError, match="method 'simclr' trains none; use it with method.name: supervised"):
        load_config(None, ["data.root=/unused", "method.name=simclr", "eval.protocols=[knn,classifier]"])
