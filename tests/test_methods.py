"""The methods beyond SimCLR: MoCo's momentum encoder, queue and shuffling BN, the memory bank, end-to-end,
SupCon, the supervised baseline, BYOL and SimSiam; checked step by step on tiny inputs, then trained
through the engine on real CIFAR-10 images."""

import copy
import itertools
import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_ssl.config import load_config, to_dict
from bench_ssl.errors import ConfigError
from bench_ssl.losses import infonce
from bench_ssl.methods import METHODS, build_method
from bench_ssl.methods.momentum import cosine_momentum, ema_update
from bench_ssl.methods.queue import KeyQueue
from bench_ssl.models.split_bn import SplitBatchNorm, convert_split_bn
from bench_ssl.optim import build_optimizer
from bench_ssl.run import run

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
B = 8  # batch size of the step-level tests
LABELS = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
INDEX = torch.tensor([3, 10, 17, 40, 41, 50, 60, 63])


KNOBS = {"moco": ["method.queue_size=16", "method.bn_splits=2"], "memory_bank": ["method.num_negatives=16"]}
TEMPERATURE = ("simclr", "moco", "memory_bank", "end_to_end", "supcon")  # the methods that take method.temperature


def tiny_cfg(name, *extra, batch=B):
    return load_config(SMOKE, ["data.root=/unused", f"method.name={name}", f"optim.batch_size={batch}",
                               "model.head.out_dim=16", "model.head.hidden_dim=32", *KNOBS.get(name, []), *extra])


def build(name, *extra, num_train=64, num_classes=4, seed=0, batch=B):
    cfg = tiny_cfg(name, *extra, batch=batch)
    torch.manual_seed(seed)
    method = build_method(cfg, num_train, num_classes)
    method.bind_data(torch.full((1, 3, 1, 1), 0.5), torch.full((1, 3, 1, 1), 0.25))  # as the engine does
    return method


def images(n, seed):
    return torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def train_step(method, opt, views, labels=LABELS, index=INDEX, progress=0.5):
    loss = method.training_step(views, labels, index)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    method.after_optimizer_step(progress)
    return loss


def params(*modules):
    return [p for m in modules for p in m.parameters()]


def close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------- shared pieces
@pytest.mark.parametrize("m", [0.0, 0.9, 0.999, 1.0])
def test_ema_update_is_the_momentum_rule(m):
    torch.manual_seed(0)
    target, online = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)), nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4))
    online[1].weight.data.uniform_(), online[1].running_mean.fill_(3.0)
    before = [p.detach().clone() for p in target.parameters()]
    ema_update(target, online, m)
    for t, o, b in zip(target.parameters(), online.parameters(), before):
        close(t, m * b + (1 - m) * o.detach())
    if m == 0.0:
        assert all(torch.equal(t, o) for t, o in zip(target.parameters(), online.parameters()))
    if m == 1.0:
        assert all(torch.equal(t, b) for t, b in zip(target.parameters(), before))
    assert torch.equal(target[1].running_mean, torch.zeros(4))  # buffers are the target's own


def test_cosine_momentum_goes_from_base_to_one():
    assert cosine_momentum(0.99, 0.0) == pytest.approx(0.99)
    assert cosine_momentum(0.99, 0.5) == pytest.approx(0.995)
    assert cosine_momentum(0.99, 1.0) == pytest.approx(1.0)
    assert cosine_momentum(0.996, 0.25) == pytest.approx(1 - 0.004 * (math.cos(math.pi / 4) + 1) / 2)


def test_queue_is_fifo_with_a_wrapping_pointer():
    torch.manual_seed(0)
    q = KeyQueue(6, 2)
    assert torch.allclose(q.keys.norm(dim=1), torch.ones(6)) and q.ptr.item() == 0
    batches = [torch.full((2, 2), float(i)) + torch.tensor([[0.0, 0.1], [0.0, 0.2]]) for i in range(4)]
    q.push(batches[0])
    assert torch.equal(q.keys[:2], batches[0]) and q.ptr.item() == 2
    for b in batches[1:]:
        q.push(b)
    # 4 batches of 2 into 6 rows: the pointer wrapped to 2; rows 0-1 hold the newest batch, 2-5 the two before
    assert q.ptr.item() == 2
    assert torch.equal(q.keys, torch.cat([batches[3], batches[1], batches[2]]))
    # a size that is not a multiple of the batch still wraps row by row (configs reject it for MoCo)
    odd = KeyQueue(5, 2)
    for b in batches[:3]:
        odd.push(b)
    assert odd.ptr.item() == 1
    assert torch.equal(odd.keys, torch.stack([batches[2][1], batches[0][1], batches[1][0], batches[1][1], batches[2][0]]))
    assert "keys" in odd.state_dict() and "ptr" in odd.state_dict()


@pytest.mark.parametrize("shape", [(8, 3, 4, 4), (8, 5)])
def test_split_bn_normalises_each_interleaved_sub_batch_on_its_own(shape):
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(shape[1]) if len(shape) == 4 else nn.BatchNorm1d(shape[1])
    bn.weight.data.uniform_(0.5, 1.5), bn.bias.data.uniform_(-1, 1)
    holder = nn.Sequential(copy.deepcopy(bn))
    convert_split_bn(holder, 2)
    split = holder[0]
    assert isinstance(split, SplitBatchNorm) and list(split.state_dict()) == list(bn.state_dict())
    x = torch.randn(*shape) * 2 + 1
    out = split(x)
    # the same as plain BN on samples 0,2,4,6 and, separately, on 1,3,5,7
    parts = [copy.deepcopy(bn), copy.deepcopy(bn)]
    expected = torch.empty_like(x)
    expected[0::2], expected[1::2] = parts[0](x[0::2]), parts[1](x[1::2])
    close(out, expected)
    assert not torch.allclose(out, copy.deepcopy(bn)(x), atol=1e-4)  # differs from whole-batch BN
    close(split.running_mean, (parts[0].running_mean + parts[1].running_mean) / 2)
    close(split.running_var, (parts[0].running_var + parts[1].running_var) / 2)
    assert split.num_batches_tracked.item() == 1
    if len(shape) == 4:  # channels_last in, channels_last out, same values
        cl = copy.deepcopy(holder)[0](x.contiguous(memory_format=torch.channels_last))
        assert cl.is_contiguous(memory_format=torch.channels_last)
        close(cl, expected)
    split.eval(), bn.eval()
    bn.load_state_dict(split.state_dict())
    close(split(x), bn(x))  # eval mode: plain BN with the running statistics


# --------------------------------------------------------------------------------------------- MoCo
def test_moco_key_encoder_follows_the_momentum_rule_after_one_step():
    moco = build("moco", "method.momentum=0.9")
    query, key = params(moco.backbone, moco.head), params(moco.key_backbone, moco.key_head)
    assert all(torch.equal(q, k) for q, k in zip(query, key))  # the key encoder starts as a copy
    assert not any(k.requires_grad for k in key)
    opt = build_optimizer(moco, moco.cfg.optim)
    optimised = {id(p) for g in opt.param_groups for p in g["params"]}
    assert {id(q) for q in query} <= optimised and not optimised & {id(k) for k in key}
    before = [k.detach().clone() for k in key]
    train_step(moco, opt, [images(B, 1), images(B, 2)])
    assert all(k.grad is None for k in key)
    for q, k, b in zip(query, key, before):
        close(k, 0.9 * b + 0.1 * q.detach())  # theta_k <- m theta_k + (1 - m) theta_q, with the updated theta_q
    assert not torch.equal(key[0], before[0]) and not torch.equal(key[0], query[0])


def test_moco_momentum_zero_copies_the_query_encoder_and_trains():
    moco = build("moco", "method.momentum=0")
    opt = build_optimizer(moco, moco.cfg.optim)
    for s in range(4):
        loss = train_step(moco, opt, [images(B, 10 + s), images(B, 20 + s)])
        assert torch.isfinite(loss)
        assert all(torch.equal(q, k) for q, k in zip(params(moco.backbone, moco.head), params(moco.key_backbone, moco.key_head)))


def test_moco_queue_holds_the_newest_keys_in_fifo_order_after_n_steps():
    moco = build("moco", "method.shuffle_bn=false", "method.queue_size=16")
    opt = build_optimizer(moco, moco.cfg.optim)
    keys = []
    for s in range(3):
        v1, v2 = images(B, 10 + s), images(B, 20 + s)
        ref = copy.deepcopy(moco)  # the key encoder as this step sees it
        with torch.no_grad():
            keys.append(F.normalize(ref.key_head(ref.key_backbone(v2)), dim=1))
        train_step(moco, opt, [v1, v2])
    # 3 batches of 8 through a queue of 16: the pointer wrapped to 8; rows 0-7 newest, 8-15 the batch before
    assert moco.queue.ptr.item() == 8
    close(moco.queue.keys[:8], keys[2])
    close(moco.queue.keys[8:], keys[1])


def test_moco_shuffle_bn_permutes_the_keys_and_puts_them_back():
    moco = build("moco", "method.bn_splits=2")
    for module in (moco.backbone, moco.head, moco.key_backbone, moco.key_head):
        bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        assert bns and all(isinstance(m, SplitBatchNorm) and m.splits == 2 for m in bns)
    plain = build("moco", "method.shuffle_bn=false")
    assert not any(isinstance(m, SplitBatchNorm) for m in plain.modules())

    x = images(B, 3)
    ref = copy.deepcopy(moco)
    torch.manual_seed(7)
    k = moco.keys(x)
    torch.manual_seed(7)
    perm = torch.randperm(B)
    with torch.no_grad():
        shuffled = F.normalize(ref.key_head(ref.key_backbone(x[perm])), dim=1)[torch.argsort(perm)]
        unshuffled = F.normalize(ref.key_head(ref.key_backbone(x)), dim=1)
    close(k, shuffled)
    assert not torch.allclose(k, unshuffled, atol=1e-4)  # the BN sub-batches of the keys really changed
    moco.eval()  # running statistics: keys no longer depend on the batch, and each lands on its own image
    ref = copy.deepcopy(moco)
    with torch.no_grad():
        close(moco.keys(x), F.normalize(ref.key_head(ref.key_backbone(x)), dim=1))


def _constant_projections(method, vector):
    """Make every projection equal `vector` (last Linear: zero weight, bias = vector)."""
    heads = [method.head] + [getattr(method, n) for n in ("key_head",) if hasattr(method, n)]
    for head in heads:
        head[-1].weight.data.zero_()
        head[-1].bias.data.copy_(vector)


@pytest.mark.parametrize("name,k", [("moco", 16), ("memory_bank", 24), ("end_to_end", B - 1)])
def test_the_three_mechanisms_contrast_against_k_negatives(name, k):
    # identical projections and stored keys make every logit equal, so the loss is log(1 + K): it counts
    # the negatives each query meets (end-to-end: the other B - 1 keys of the batch)
    method = build(name, *{"moco": ["method.queue_size=16"], "memory_bank": ["method.num_negatives=24"]}.get(name, []))
    v = torch.randn(16)
    _constant_projections(method, v)
    unit = F.normalize(v, dim=0)
    if name == "moco":
        method.queue.keys.copy_(unit.expand_as(method.queue.keys))
    if name == "memory_bank":
        method.bank.copy_(unit.expand_as(method.bank))
    views = [images(B, 1), images(B, 2)][:method.n_views]
    assert method.training_step(views, LABELS, INDEX).item() == pytest.approx(math.log(1 + k), rel=1e-5)


# -------------------------------------------------------------------------------------- memory bank
@pytest.mark.parametrize("b", [0.5, 0.9, 0.0])
def test_memory_bank_entry_moves_by_the_bank_momentum(b):
    bank = build("memory_bank", f"method.bank_momentum={b}", "method.temperature=0.07")
    assert bank.n_views == 1 and bank.bank.shape == (64, 16)
    before = bank.bank.clone()
    v = images(B, 4)
    ref = copy.deepcopy(bank)
    with torch.no_grad():
        q = F.normalize(ref.project(v), dim=1)
    torch.manual_seed(5)
    loss = bank.training_step([v], LABELS, INDEX)
    torch.manual_seed(5)
    negatives = ref.sample_negatives(INDEX)
    # the positive is the image's stored feature before the refresh; K = 16 sampled negatives
    assert loss.item() == pytest.approx(infonce(q, before[INDEX], before[negatives], 0.07).item(), rel=1e-5)
    close(bank.bank[INDEX], F.normalize(b * before[INDEX] + (1 - b) * q, dim=1))
    rest = torch.ones(64, dtype=torch.bool)
    rest[INDEX] = False
    assert torch.equal(bank.bank[rest], before[rest])


def test_memory_bank_samples_k_distinct_negatives_outside_the_batch():
    bank = build("memory_bank", "method.num_negatives=16")
    seen = set()
    for _ in range(100):
        neg = bank.sample_negatives(INDEX).tolist()
        assert len(neg) == 16 and len(set(neg)) == 16 and not set(neg) & set(INDEX.tolist())
        seen |= set(neg)
    assert seen == set(range(64)) - set(INDEX.tolist())  # every other image gets drawn


def test_memory_bank_rejects_more_negatives_than_images_outside_a_batch():
    with pytest.raises(ConfigError, match=r"method.num_negatives: 60 negatives .* use at most 56"):
        build("memory_bank", "method.num_negatives=60")
    with pytest.raises(ConfigError, match=r"method.queue_size: memory_bank takes no 'queue_size'"):  # K is num_negatives
        build("memory_bank", "method.queue_size=60")
    with pytest.raises(ConfigError, match=r"method.num_negatives: 57 .*64 training images - optim.batch_size 8"):
        build("memory_bank", "method.num_negatives=57")
    assert build("memory_bank", "method.num_negatives=56").num_negatives == 56


# ---------------------------------------------------------------------------------------- end-to-end
def test_end_to_end_is_infonce_over_the_other_batch_minus_one_keys():
    e2e = build("end_to_end", "method.temperature=0.2")
    v1, v2 = images(B, 5), images(B, 6)
    ref = copy.deepcopy(e2e)
    with torch.no_grad():
        z = F.normalize(ref.project(torch.cat([v1, v2])), dim=1).tolist()
    q, k = z[:B], z[B:]
    expected = 0.0
    for n in range(B):
        dot = lambda a, c: sum(x * y for x, y in zip(a, c))  # noqa: E731
        pos = math.exp(dot(q[n], k[n]) / 0.2)
        negs = [math.exp(dot(q[n], k[j]) / 0.2) for j in range(B) if j != n]
        assert len(negs) == B - 1
        expected -= math.log(pos / (pos + sum(negs))) / B
    loss = e2e.training_step([v1, v2], LABELS, INDEX)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert all(p.grad is not None for p in e2e.parameters())  # keys carry gradients too


# ------------------------------------------------------------------------------- SupCon, supervised
def test_supcon_method_with_unique_labels_equals_simclr_and_uses_labels_otherwise():
    sup, simclr = build("supcon", "method.temperature=0.2"), build("simclr", "method.temperature=0.2")
    views = [images(B, 7), images(B, 8)]
    unique = sup.training_step(views, torch.arange(B), INDEX).item()
    assert unique == pytest.approx(simclr.training_step(views, LABELS, INDEX).item(), rel=1e-5)
    assert sup.training_step(views, LABELS, INDEX).item() != pytest.approx(unique, rel=1e-3)
    sup_in = build("supcon", "method.temperature=0.2", "method.supcon_variant=in")
    assert sup_in.training_step(views, torch.arange(B), INDEX).item() == pytest.approx(unique, rel=1e-5)
    assert sup_in.training_step(views, LABELS, INDEX).item() < sup.training_step(views, LABELS, INDEX).item()


def test_supervised_is_cross_entropy_of_a_linear_classifier_on_the_backbone():
    sup = build("supervised", num_classes=4)
    assert sup.n_views == 1 and isinstance(sup.head, nn.Identity)
    assert (sup.classifier.in_features, sup.classifier.out_features) == (sup.backbone.out_dim, 4)
    x = images(B, 9)
    ref = copy.deepcopy(sup)
    with torch.no_grad():
        expected = F.cross_entropy(ref.classifier(ref.backbone(x)), LABELS)
    loss = sup.training_step([x], LABELS, INDEX)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert all(p.grad is not None for p in sup.backbone.parameters())


# ------------------------------------------------------------------------------------ pretext tasks
def test_rotation_labels_name_the_rotation_that_undoes_each_image():
    from bench_ssl.methods.rotation import rotate_all

    x = images(3, 5)
    rotated, labels = rotate_all(x)
    assert rotated.shape == (12, 3, 16, 16) and labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    for img, k, original in zip(rotated, labels, x.repeat(4, 1, 1, 1)):
        assert torch.equal(torch.rot90(img, -int(k), dims=(1, 2)), original)  # undone by -k quarter turns
    corner = torch.zeros(1, 1, 2, 2)
    corner[0, 0, 0, 0] = 1  # top-left; a quarter turn counter-clockwise takes it to bottom-left
    assert rotate_all(corner)[0][1, 0].tolist() == [[0.0, 0.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="square"):
        rotate_all(torch.zeros(2, 3, 16, 12))
    method = build("rotation")
    assert method.n_views == 1 and method.classifier.out_features == 4
    expected = F.cross_entropy(method.classifier(method.backbone(rotated)), labels)
    assert method.training_step([x], LABELS[:3], INDEX[:3]).item() == pytest.approx(expected.item(), rel=1e-5)


def test_jigsaw_permutations_are_distinct_and_far_apart_and_the_tiles_move_as_labelled():
    import numpy as np

    from bench_ssl.methods.jigsaw import hamming_permutations, min_hamming, shuffle_tiles
    from bench_ssl.methods.tiles import cut_tiles

    perms = hamming_permutations(9, 100)
    assert perms.shape == (100, 9) and len({tuple(p) for p in perms}) == 100
    assert all(sorted(p) == list(range(9)) for p in perms)
    random_set = np.array([np.random.default_rng(i).permutation(9) for i in range(100)])
    assert min_hamming(perms) >= 6 > min_hamming(random_set)  # greedy max-min: 6; 100 random ones: about 3
    assert min_hamming(hamming_permutations(4, 3)) == 4  # the best possible for 3 orders of 4 tiles
    assert np.array_equal(hamming_permutations(9, 100), perms)  # fixed by its own seed
    x = torch.arange(2 * 3 * 12 * 12, dtype=torch.float32).view(2, 3, 12, 12)
    tiles = cut_tiles(x, 3)
    assert torch.equal(tiles[1, 5], x[1, :, 4:8, 8:12])  # row 1, column 2 of the grid
    perm_t = torch.from_numpy(perms)
    labels = torch.tensor([7, 42])
    shuffled = shuffle_tiles(tiles, perm_t, labels)
    for b in range(2):
        for i in range(9):
            assert torch.equal(shuffled[b, i], tiles[b, perms[labels[b], i]])
    torch.manual_seed(0)
    jittered = cut_tiles(x, 3, gap=1)
    assert (jittered[..., -1, :] == 0).all() and (jittered[..., :, -1] == 0).all()  # cut 3 of 4, padded
    for b, i in itertools.product(range(2), range(9)):
        r, c = divmod(i, 3)
        cell = x[b, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4]
        assert any(torch.equal(jittered[b, i, :, :3, :3], cell[:, dy:dy + 3, dx:dx + 3]) for dy in (0, 1) for dx in (0, 1))


def test_a_grid_that_does_not_divide_the_image_is_one_line_with_the_fix():
    with pytest.raises(ConfigError) as info:
        load_config(SMOKE, ["method.name=jigsaw", "method.grid=3", "data.image_size=32"])
    assert str(info.value).startswith("method.grid: 3 does not divide the 32-pixel images")
    assert "use 2 or 4 or 8" in str(info.value) and "data.image_size=33" in str(info.value)
    method = build("jigsaw", "method.grid=3", "method.permutations=10")  # image size known only at the first step
    with pytest.raises(ConfigError, match="does not divide the 16-pixel images"):
        method.training_step([images(B, 1)], LABELS, INDEX)
    with pytest.raises(ConfigError, match="method.grid: tiles of 4 pixels are too small for the backbone"):
        build("jigsaw", "method.grid=4", "method.gap=0").training_step([images(B, 1)], LABELS, INDEX)
    with pytest.raises(ConfigError, match="more than the 24 orders of 4 tiles"):
        load_config(SMOKE, ["method.name=jigsaw", "method.grid=2", "method.permutations=30"])


def test_relative_patch_labels_name_the_neighbours_position():
    from bench_ssl.methods.relative_patch import NEIGHBOURS, centre_and_neighbour

    x = torch.arange(8 * 3 * 32 * 32, dtype=torch.float32).view(8, 3, 32, 32)
    position = torch.arange(8)
    centre, neighbour = centre_and_neighbour(x, position, gap=0)
    assert torch.equal(centre, x[:, :, 11:21, 11:21])  # the middle cell of the central 30 x 30
    for b, p in enumerate(position.tolist()):
        r, c = divmod(NEIGHBOURS[p], 3)
        assert torch.equal(neighbour[b], x[b, :, 1 + 10 * r:11 + 10 * r, 1 + 10 * c:11 + 10 * c])
    assert NEIGHBOURS[0] == 0 and NEIGHBOURS[3] == 3 and NEIGHBOURS[4] == 5  # left of centre = 3, right = 4


def test_counting_tiles_are_the_exact_quarters_and_the_loss_is_the_papers_formula():
    from bench_ssl.methods.counting import counting_loss, views_for_counting

    x = images(4, 11)
    down, tiles = views_for_counting(x)
    assert down.shape == (4, 3, 8, 8) and tiles.shape == (4, 4, 3, 8, 8)
    assert torch.equal(torch.cat([torch.cat([tiles[:, 0], tiles[:, 1]], 3), torch.cat([tiles[:, 2], tiles[:, 3]], 3)], 2), x)
    assert torch.allclose(down[0, 0, 0, 0], x[0, 0, :2, :2].mean())
    whole, tsum, other = torch.tensor([[1.0, 2.0]]), torch.tensor([[1.5, 2.0]]), torch.tensor([[3.0, 2.0]])
    # |whole - tsum|^2 = 0.25; |other - tsum|^2 = 2.25 < margin 4: + 1.75
    assert counting_loss(whole, tsum, other, 4.0).item() == pytest.approx(0.25 + 1.75)
    assert counting_loss(whole, tsum, other, 1.0).item() == pytest.approx(0.25)  # far enough: no contrastive term
    method = build("counting", "method.count_dim=8", "method.contrast_margin=2.0")
    method.eval()  # BN in eval mode: the counts of each input do not depend on the rest of the batch
    with torch.no_grad():
        c = F.relu(method.count(method.backbone(torch.cat([down, tiles.flatten(0, 1)]))))
        tile_sum = c[4:].view(4, 4, -1).sum(1)
        expected = ((c[:4] - tile_sum).pow(2).sum(1) + F.relu(2.0 - (c[:4].roll(1, 0) - tile_sum).pow(2).sum(1))).mean()
        assert method.training_step([x], LABELS[:4], INDEX[:4]).item() == pytest.approx(expected.item(), rel=1e-5)


def test_exemplar_classes_are_n_fixed_training_images_and_n_beyond_the_dataset_is_refused():
    method = build("exemplar", "method.num_exemplars=10", num_train=64)
    chosen = method.class_of >= 0
    assert chosen.sum() == 10 and sorted(method.class_of[chosen].tolist()) == list(range(10))
    assert torch.equal(build("exemplar", "method.num_exemplars=10", num_train=64).class_of, method.class_of)
    first_batch = torch.randperm(64, generator=torch.Generator().manual_seed(method.cfg.seed))[:10]  # the engine's order
    assert set(torch.nonzero(chosen).flatten().tolist()) != set(first_batch.tolist())
    assert method.classifier.out_features == 10 and build("exemplar", num_train=64).classifier.out_features == 64
    rows = torch.nonzero(chosen).flatten()[:4]
    x = images(4, 3)
    expected = F.cross_entropy(method.classifier(method.backbone(x)), method.class_of[rows])
    assert method.training_step([x], LABELS[:4], rows).item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ConfigError, match=r"method.num_exemplars: 100 is more than the 64 training images; use at most 64"):
        build("exemplar", "method.num_exemplars=100", num_train=64)


def test_inpainting_blanks_exactly_the_central_square_and_scores_only_it():
    from bench_ssl.methods.inpainting import mask_centre

    x = images(2, 4) + 5.0  # no zero anywhere
    masked, (start, side) = mask_centre(x, 0.5)
    assert (start, side) == (4, 8)
    inside = torch.zeros(16, 16, dtype=torch.bool)
    inside[4:12, 4:12] = True
    assert (masked[..., inside] == 0).all() and torch.equal(masked[..., ~inside], x[..., ~inside])
    assert mask_centre(torch.zeros(1, 3, 32, 32), 0.25)[1] == (12, 8)
    method = build("inpainting")
    method.eval()
    with torch.no_grad():
        pred = method.decoder(method.backbone(masked), 8)
        assert pred.shape == (2, 3, 8, 8)
        expected = F.mse_loss(pred, x[..., 4:12, 4:12])
        assert method.training_step([x], LABELS[:2], INDEX[:2]).item() == pytest.approx(expected.item(), rel=1e-5)


def test_colorization_lab_bins_and_weights_against_hand_values_and_the_backbone_sees_only_lightness():
    from bench_ssl.methods.colorization import (ab_to_bin, bin_to_ab, bins_per_axis, lab_to_rgb, rebalancing_weights,
                                                rgb_to_lab)

    # sRGB white, red, green, blue, mid grey -> CIE Lab (D65), the textbook values
    rgb = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]], dtype=torch.float32).T.reshape(1, 3, 5, 1)
    expected = torch.tensor([[100, 0, 0], [53.24, 80.09, 67.20], [87.73, -86.18, 83.18], [32.30, 79.19, -107.86],
                             [53.39, 0, 0]])
    torch.testing.assert_close(rgb_to_lab(rgb)[0, :, :, 0].T, expected, atol=0.02, rtol=0)
    r = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(lab_to_rgb(rgb_to_lab(r)), r, atol=1e-4, rtol=0)  # the round trip
    assert bins_per_axis(10) == 22
    ab = torch.tensor([[-110.0, -105.1], [0.0, 9.99], [109.9, 55.0]]).T.reshape(1, 2, 3, 1)
    bins = ab_to_bin(ab, 10)[0, :, 0]
    assert bins.tolist() == [0 * 22 + 0, 11 * 22 + 11, 21 * 22 + 16]
    assert (bin_to_ab(bins, 10) - ab[0, :, :, 0].T).abs().max() <= 5  # within half a bin of the centre
    counts = torch.tensor([90.0, 9.0, 1.0, 0.0])
    w = rebalancing_weights(counts, 0.5)
    p = counts / counts.sum()
    assert (p * w).sum().item() == pytest.approx(1.0) and w[2] > w[1] > w[0]  # rare colours weigh more
    raw = 1 / (0.5 * p + 0.5 / 4)
    torch.testing.assert_close(w, raw / (p * raw).sum())
    method = build("colorization", "method.map_size=4")
    method.eval()
    grey = torch.full((1, 3, 16, 16), 0.5)
    lab = rgb_to_lab(grey)
    lab[:, 1], lab[:, 2] = 20.0, -15.0  # the same lightness, a colour (inside the sRGB gamut)
    tinted = lab_to_rgb(lab)
    assert (tinted - grey).abs().max() > 0.05
    normalise = lambda v: (v - 0.5) / 0.25  # noqa: E731  the statistics build() binds
    with torch.no_grad():
        a, b = method.backbone(normalise(grey)), method.backbone(normalise(tinted))
    assert torch.allclose(a, b, atol=1e-4)  # colour differs, lightness equal: the same features
    assert not torch.allclose(method.backbone(normalise(grey)), method.backbone(normalise(grey * 0.5)), atol=1e-3)


# ------------------------------------------------------------------------------------ BYOL, SimSiam
def test_byol_target_follows_the_cosine_tau_and_gets_no_gradient():
    byol = build("byol", "method.target_momentum=0.9")
    online, target = params(byol.backbone, byol.head), params(byol.target_backbone, byol.target_head)
    assert all(torch.equal(o, t) for o, t in zip(online, target)) and not any(t.requires_grad for t in target)
    assert byol.predictor[0].out_features == 32  # as wide as the projector's hidden layer
    opt = build_optimizer(byol, byol.cfg.optim)
    optimised = {id(p) for g in opt.param_groups for p in g["params"]}
    assert {id(p) for p in byol.predictor.parameters()} <= optimised and not optimised & {id(t) for t in target}
    before = [t.detach().clone() for t in target]
    train_step(byol, opt, [images(B, 1), images(B, 2)], progress=0.25)
    tau = 1 - 0.1 * (math.cos(math.pi * 0.25) + 1) / 2
    assert byol.tau(0.25) == pytest.approx(tau)
    for t, o, b in zip(target, online, before):
        close(t, tau * b + (1 - tau) * o.detach())
    assert all(t.grad is None for t in target)
    assert byol.tau(0.0) == pytest.approx(0.9) and byol.tau(1.0) == pytest.approx(1.0)
    assert build("byol", "method.target_momentum=0.9", "method.target_schedule=constant").tau(0.7) == 0.9


def test_simsiam_loss_stops_the_gradient_on_the_projection_branch():
    sim = build("simsiam")
    assert sim.predictor[0].out_features == 4  # bottleneck: out_dim / 4
    v1, v2 = images(B, 1), images(B, 2)
    ref = copy.deepcopy(sim)

    def reference(detach):
        z1, z2 = ref.project(v1), ref.project(v2)
        p1, p2 = ref.predictor(z1), ref.predictor(z2)
        t1, t2 = (z1.detach(), z2.detach()) if detach else (z1, z2)
        return -0.5 * (F.cosine_similarity(p1, t2).mean() + F.cosine_similarity(p2, t1).mean())

    loss = sim.training_step([v1, v2], LABELS, INDEX)
    expected = reference(detach=True)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    expected.backward()
    w, w_ref = sim.backbone.features[0].weight.grad, ref.backbone.features[0].weight.grad
    close(w, w_ref)
    ref.zero_grad()
    reference(detach=False).backward()
    assert not torch.allclose(w, ref.backbone.features[0].weight.grad, rtol=1e-3)  # without it the gradient differs


# --------------------------------------------------------------------------------- state, configs
@pytest.mark.parametrize("name,keys", [
    ("moco", ["queue.keys", "queue.ptr", "key_backbone.features.0.weight", "key_head.0.weight"]),
    ("memory_bank", ["bank"]),
    ("byol", ["target_backbone.features.0.weight", "target_head.3.weight", "predictor.0.weight"]),
    ("simsiam", ["predictor.0.weight"]),
    ("supervised", ["classifier.weight"]),
    ("rotation", ["classifier.weight"]),
    ("jigsaw", ["perms", "classifier.0.weight"]),
    ("relative_patch", ["classifier.0.weight"]),
    ("counting", ["count.weight"]),
    ("exemplar", ["class_of", "classifier.weight"]),
    ("inpainting", ["decoder.fc.weight", "decoder.up.0.weight"]),
    ("colorization", ["decoder.fc.weight", "bin_counts", "pixel_mean"]),
])
def test_state_dict_holds_every_stateful_part(name, keys):
    method = build(name)
    opt = build_optimizer(method, method.cfg.optim)
    size = {"jigsaw": 32, "relative_patch": 24}.get(name, 16)  # tiles of 8 pixels for the ConvNet
    for s in range(2):
        views = [torch.randn(B, 3, size, size, generator=torch.Generator().manual_seed(seed)) for seed in (30 + s, 40 + s)]
        train_step(method, opt, views[:method.n_views])
    state = method.state_dict()
    assert set(keys) <= set(state)
    fresh = build(name, seed=1)
    fresh.load_state_dict(state)
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in state.items())


@pytest.mark.parametrize("overrides,words", [
    (["method.name=moco", "method.queue_size=1000"],
     ["method.queue_size", "1000", "optim.batch_size 128", "896 or 1024"]),
    (["method.name=moco", "method.queue_size=100"], ["method.queue_size", "100", "use 128"]),
    (["method.name=moco", "method.bn_splits=3"], ["method.bn_splits", "3", "128", "shuffle_bn=false"]),
    (["method.name=moco", "method.bn_splits=1"], ["method.bn_splits", "1"]),
    (["method.name=moco", "method.momentum=1.5"], ["method.momentum", "1.5", "[0.0, 1.0]"]),
    (["method.name=moco", "method.loss=nt_logistic"], ["method.loss", "nt_logistic", "simclr"]),
    (["method.loss=infonce"], ["method.loss", "'infonce'", "nt_xent", "moco"]),
    (["method.name=moco", "method.queue_size=0"], ["method.queue_size", "0", "out of range"]),
    (["method.name=memory_bank", "method.num_negatives=0"], ["method.num_negatives", "0", "out of range"]),
    (["method.name=memory_bank", "method.bank_momentum=-0.1"], ["method.bank_momentum", "-0.1", "out of range"]),
    (["method.name=supcon", "method.supcon_variant=inside"], ["method.supcon_variant", "'inside'", "out, in"]),
    (["method.name=byol", "method.predictor_hidden_dim=0"], ["method.predictor_hidden_dim", "out of range"]),
    (["method.name=byol", "method.target_momentum=2"], ["method.target_momentum", "2", "out of range"]),
    (["method.name=byol", "method.target_schedule=linear"], ["method.target_schedule", "cosine, constant"]),
    # a knob the chosen method does not take names the method, what it takes, and who takes the knob
    (["method.queue_size=0"], ["method.queue_size: simclr takes no 'queue_size'; simclr takes: loss, temperature, "
                               "normalize", "moco", "got 0"]),
    (["method.name=byol", "method.temperature=0.2"], ["byol takes no 'temperature'", "predictor_hidden_dim",
                                                      "target_momentum", "moco"]),
    (["method.name=supervised", "data.stl10_unlabeled=true"], ["data.stl10_unlabeled", "supervised"]),
    (["method.name=mocov2"], ["method.name", "moco", "memory_bank", "end_to_end", "supcon", "supervised", "byol", "simsiam"]),
])
def test_bad_method_values_are_one_line_naming_key_value_and_fix(overrides, words):
    with pytest.raises(ConfigError) as info:
        load_config(SMOKE, overrides)
    msg = str(info.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg, (word, msg)


def test_valid_method_configs_load():
    for name in METHODS:
        assert load_config(SMOKE, [f"method.name={name}"]).method.name == name
    cfg = load_config(SMOKE, ["method.name=moco", "method.queue_size=1024", "method.momentum=0", "method.shuffle_bn=false",
                              "method.bn_splits=3"])  # bn_splits only matters with shuffle_bn
    assert cfg.method.momentum == 0.0
    assert "bn_splits" not in to_dict(cfg)["method"]  # and without it, it is not part of the run (nor its id)
    moco = load_config(ROOT / "configs" / "moco_smoke.yaml")
    assert (moco.method.name, moco.method.temperature, moco.model.head.batch_norm) == ("moco", 0.2, False)
    assert "blur" in moco.augment.view1 and moco.optim.schedule == "cosine"


# ------------------------------------------------------------- learning on a small synthetic set
def _synthetic(n_per_class=32, classes=4, size=16):
    g = torch.Generator().manual_seed(0)
    base = torch.randn(classes, 3, size, size, generator=g)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    return base[y] + 0.7 * torch.randn(len(y), 3, size, size, generator=g), y


SYNTHETIC_SIZE = {"relative_patch": 24}  # 3 x 3 cells of 8 pixels: the ConvNet halves its input three times
SYNTHETIC_KNOBS = {"jigsaw": ["method.grid=2", "method.permutations=24", "method.gap=0"], "relative_patch": ["method.gap=0"]}


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_lowers_its_loss_on_a_small_synthetic_set(name):
    # 128 images of 4 noisy class prototypes, views = image + noise, random flips; 10 epochs of 4 steps.
    # The first epoch of moco/memory_bank contrasts against random initial keys, so the reference is the
    # worse of the first two epochs.
    size = SYNTHETIC_SIZE.get(name, 16)
    x, y = _synthetic(size=size)
    n, b, epochs = len(x), 32, 10
    knobs = {"moco": ["method.queue_size=64"], "memory_bank": ["method.num_negatives=64"],
             **SYNTHETIC_KNOBS}.get(name, [])
    knobs += ["method.temperature=0.2"] if name in TEMPERATURE else []
    method = build(name, *knobs, "optim.lr=0.05", num_train=n, batch=b)
    opt = build_optimizer(method, method.cfg.optim)
    g = torch.Generator().manual_seed(1)
    per_epoch = []
    for epoch in range(epochs):
        order, losses = torch.randperm(n, generator=g), []
        for i in range(n // b):
            idx = order[i * b:(i + 1) * b]
            views = []
            for _ in range(method.n_views):
                v = x[idx] + 0.3 * torch.randn(b, 3, size, size, generator=g)
                flip = torch.rand(b, generator=g) < 0.5
                views.append(torch.where(flip[:, None, None, None], v.flip(3), v))
            loss = train_step(method, opt, views, y[idx], idx, (epoch * (n // b) + i + 1) / (epochs * (n // b)))
            assert torch.isfinite(loss)
            losses.append(loss.item())
        per_epoch.append(sum(losses) / len(losses))
    assert per_epoch[-1] < max(per_epoch[:2]) - 0.1, per_epoch


# ------------------------------------------------------------------ the engine on real CIFAR-10
SMALL = ["data.train_per_class=100", "data.test_per_class=50", "optim.epochs=1", "eval.protocols=[knn]", "eval.knn_every=0"]
STEPS = 1000 // 128  # 7 full batches of 128: 896 images seen


@pytest.mark.parametrize("name,extra", [
    ("simclr", []),
    ("moco", ["method.queue_size=1024", "method.temperature=0.2", "method.momentum=0.99"]),
    ("moco", ["method.queue_size=1024", "method.temperature=0.2", "method.momentum=0"]),
    ("memory_bank", ["method.num_negatives=256", "method.temperature=0.1"]),
    ("end_to_end", ["method.temperature=0.2"]),
    ("supcon", ["method.temperature=0.1"]),
    ("supervised", []),
    ("byol", []),
    ("simsiam", []),
], ids=lambda v: v if isinstance(v, str) else "-".join(a.split("=")[1] for a in v if "momentum" in a))
def test_every_method_trains_one_epoch_of_the_smoke_config_and_beats_chance(cifar_tar, tmp_path, name, extra):
    sets = [f"data.root={cifar_tar}", f"output.root={tmp_path}", f"method.name={name}", *SMALL, *extra]
    result = run(SMOKE, sets)
    print(f"{name} {extra}: kNN {result['knn_top1']:.3f}, loss {result['final_loss']:.3f}")
    assert result["knn_top1"] > 0.12 and math.isfinite(result["final_loss"]), result  # chance: 0.1
    cfg = load_config(SMOKE, sets)
    torch.manual_seed(cfg.seed)  # the engine's seeding: the weights it started from
    init = build_method(cfg, 1000, 10).state_dict()
    (path,) = tmp_path.rglob("checkpoint.pt")
    state = torch.load(path, map_location="cpu", weights_only=True)["model"]
    assert set(state) == set(init)
    assert not torch.equal(state["backbone.features.0.weight"], init["backbone.features.0.weight"])
    if name == "moco":
        seen = STEPS * 128
        assert state["queue.ptr"].item() == seen  # 896 keys pushed into 1024 rows
        assert torch.equal(state["queue.keys"][seen:], init["queue.keys"][seen:])  # the initial keys not yet reached
        assert not torch.isclose(state["queue.keys"][:seen], init["queue.keys"][:seen]).all(1).any()
        same = torch.equal(state["key_backbone.features.0.weight"], state["backbone.features.0.weight"])
        assert same == (cfg.method.momentum == 0)  # m = 0: a copy; m = 0.99: lags behind the query encoder
        assert not torch.equal(state["key_backbone.features.0.weight"], init["key_backbone.features.0.weight"])
    if name == "memory_bank":
        changed = ~torch.isclose(state["bank"], init["bank"]).all(1)
        assert changed.sum().item() == STEPS * 128  # exactly the images seen (drop_last leaves 104 out)
        assert torch.allclose(state["bank"].norm(dim=1), torch.ones(1000))
    if name == "byol":  # the target moved towards the online network, and lags behind it
        target, online = state["target_backbone.features.0.weight"], state["backbone.features.0.weight"]
        assert not torch.equal(target, init["target_backbone.features.0.weight"]) and not torch.equal(target, online)


@pytest.mark.parametrize("name", ["moco", "memory_bank", "byol"])
def test_a_run_that_crashed_resumes_to_the_same_weights(cifar_tar, tmp_path, monkeypatch, name):
    knobs = {"moco": ["method.queue_size=200", "method.bn_splits=4"], "memory_bank": ["method.num_negatives=200"]}
    sets = [f"data.root={cifar_tar}", f"method.name={name}", "data.train_per_class=50", "data.test_per_class=20",
            "optim.batch_size=100", "optim.epochs=2", "output.checkpoint_every=1", "eval.protocols=[knn]",
            "eval.knn_every=0", *knobs.get(name, [])]
    config = ROOT / "configs" / ("moco_smoke.yaml" if name == "moco" else "smoke.yaml")
    straight = run(config, [*sets, f"output.root={tmp_path / 'a'}"])

    cls, original, calls = METHODS[name], METHODS[name].after_optimizer_step, []

    def crash_in_epoch_two(self, progress):
        calls.append(progress)
        if len(calls) == 7:  # epoch 2, step 2 of 5; the checkpoint holds epoch 1
            raise RuntimeError("simulated crash")
        original(self, progress)

    monkeypatch.setattr(cls, "after_optimizer_step", crash_in_epoch_two)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(config, [*sets, f"output.root={tmp_path / 'b'}"])
    calls.clear()
    resumed = run(config, [*sets, f"output.root={tmp_path / 'b'}"])
    assert 0 < len(calls) < 10  # resumed from the checkpoint, not retrained from scratch (5 steps per epoch)
    assert resumed["knn_top1"] == straight["knn_top1"] and resumed["final_loss"] == straight["final_loss"]
    a, b = (torch.load(next((tmp_path / d).rglob("checkpoint.pt")), map_location="cpu", weights_only=True)["model"]
            for d in ("a", "b"))
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_rotation_trains_on_cifar_lowers_its_loss_and_kmeans_lands_in_the_results(cifar_tar, tmp_path):
    import json

    from bench_ssl.results import load

    sets = [f"data.root={cifar_tar}", f"output.root={tmp_path}", "method.name=rotation", "augment.view1=[crop, flip]",
            "data.train_per_class=100", "data.test_per_class=50", "optim.epochs=2", "eval.protocols=[knn, kmeans]",
            "eval.knn_every=0", "eval.kmeans.restarts=3"]
    result = run(SMOKE, sets)
    (metrics,) = tmp_path.rglob("metrics.jsonl")
    losses = [json.loads(line)["loss"] for line in metrics.read_text().splitlines() if '"loss"' in line]
    assert len(losses) == 2 and losses[1] < losses[0] < math.log(4) + 0.05, losses  # chance: ln 4
    for key in ("kmeans_nmi", "kmeans_ari", "kmeans_acc"):
        assert math.isfinite(result[key]), result
    assert 0 <= result["kmeans_nmi"] <= 1 and -1 <= result["kmeans_ari"] <= 1 and 0.1 <= result["kmeans_acc"] <= 1
    table = load(tmp_path)
    assert table.loc[0, "kmeans_acc"] == pytest.approx(result["kmeans_acc"])


@pytest.mark.parametrize("name,extra", [
    ("jigsaw", ["method.permutations=24", "method.grid=2"]),
    ("relative_patch", []),
    ("exemplar", ["method.num_exemplars=100", "optim.epochs=4"]),
    ("colorization", []),
    ("inpainting", []),
    ("counting", []),
])
def test_every_pretext_method_trains_on_cifar_and_lowers_its_loss(cifar_tar, tmp_path, name, extra):
    """Two epochs of 10 steps through the engine (data on the device as uint8, batched views; exemplar four, it
    sees each of its classes once an epoch): the last epoch's mean loss is below the first's."""
    import json

    sets = [f"data.root={cifar_tar}", f"output.root={tmp_path}", f"method.name={name}", "augment.view1=[crop, flip]",
            "data.train_per_class=50", "data.test_per_class=20", "optim.batch_size=50", "optim.epochs=2",
            "eval.protocols=[knn]", "eval.knn_every=0", *extra]
    result = run(SMOKE, sets)
    (metrics,) = tmp_path.rglob("metrics.jsonl")
    losses = [json.loads(line)["loss"] for line in metrics.read_text().splitlines() if '"loss"' in line]
    assert len(losses) >= 2 and losses[-1] < losses[0], losses
    assert 0.0 <= result["knn_top1"] <= 1.0


def test_finetune_and_semi_supervised_train_a_copy_and_land_in_the_results(cifar_tar, tmp_path, capsys):
    from bench_ssl.eval.semi_supervised import metric_name

    sets = [f"data.root={cifar_tar}", f"output.root={tmp_path}", "data.train_per_class=100", "data.test_per_class=50",
            "optim.epochs=1", "eval.knn_every=0", "eval.protocols=[finetune, semi_supervised, knn]",
            "eval.finetune.epochs=3", "eval.semi_supervised.epochs=[5]"]
    result = run(SMOKE, sets)
    assert (metric_name(0.01), metric_name(0.1), metric_name(0.005)) == ("semi_1pct_top1", "semi_10pct_top1",
                                                                        "semi_0.5pct_top1")
    for key in ("finetune_top1", "semi_1pct_top1", "semi_10pct_top1"):
        assert 0.0 <= result[key] <= 1.0, result
    assert result["finetune_top1"] > 0.15  # all 1,000 labels, 3 epochs: above chance (0.1)
    alone = run(SMOKE, [*sets[:-3], "eval.protocols=[knn]"])  # the same pretraining, kNN only
    assert alone["knn_top1"] == result["knn_top1"]  # the kNN after fine-tuning saw the pretrained weights: a copy was tuned
    with pytest.raises(ConfigError, match=r"eval.semi_supervised.fractions: 0.001 leaves every class with 0 of its 100"):
        load_config(SMOKE, [*sets, "eval.semi_supervised.fractions=[0.001]"])


def test_a_moco_backbone_with_split_bn_fine_tunes_at_a_batch_its_splits_do_not_divide(cifar_tar, tmp_path):
    """MoCo's split BN (4 sub-batches) is a pretraining emulation: the 1% subset's 10 images fine-tune as one
    batch (it used to fail: 'batch of 10 does not split into 4 equal BN sub-batches')."""
    from bench_ssl.models.split_bn import plain_bn

    bn = convert_split_bn(nn.Sequential(nn.BatchNorm2d(3)), 4)
    x = torch.randn(10, 3, 4, 4)
    with pytest.raises(ValueError, match="batch of 10 does not split into 4"):
        bn.train()(x)
    assert torch.allclose(plain_bn(bn)(x), nn.BatchNorm2d(3).train()(x), atol=1e-5)
    result = run(SMOKE, [f"data.root={cifar_tar}", f"output.root={tmp_path}", "data.train_per_class=100",
                         "data.test_per_class=20", "optim.epochs=1", "eval.knn_every=0", "method.name=moco",
                         "method.queue_size=512", "method.bn_splits=4", "eval.protocols=[semi_supervised]",
                         "eval.semi_supervised.epochs=[2]"])
    assert 0.0 <= result["semi_1pct_top1"] <= 1.0 and result["semi_supervised_time_s"] > 0
