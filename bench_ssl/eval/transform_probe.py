"""What the representation keeps about the transformations the views went through (SimCLR Table 3): each
image is transformed with a random label (grey or not, rotated by 0/90/180/270, noised or not, replaced by
its Sobel edges or not), and a small MLP learns that label from the frozen features h (the backbone's) and
from g(h) (the projection head's output). A head that the contrastive loss made invariant to a
transformation leaves its label near chance in g(h) while h still holds it.

The probe's train set is made from the labelled train images, its test set from the test images, each image
transformed once with a label drawn from a generator seeded by the run's seed. The label frequencies are the
paper's: grey with probability 0.2 (chance 80%, as in pretraining), the others uniform (chance 25% / 50%)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import build_op, to_float
from ..augment._base import grayscale
from ..params import check_names, param
from ..registry import EVALUATIONS
from .features import extract_features
from .linear import feature_stats, linear_eval, topk_accuracy

TASKS = ("grayscale", "rotation", "noise", "sobel")
CLASSIFIERS = ("mlp", "linear")
GRAY_P = 0.2  # SimCLR's colour distortion greys an image with this probability: a constant "colour" guess is 80% right
MIN_STEPS = 600  # a small probe set (a CPU run's) still gets this many MLP steps: 30 epochs of 600 images underfit


@dataclass
class TransformProbeParams:
    tasks: list[str] = field(default_factory=lambda: list(TASKS), metadata={
        **param(list(TASKS), nonempty=True).metadata, "help": f"the transformations to predict, of {', '.join(TASKS)}"})
    classifier: str = param("mlp", choices=CLASSIFIERS, help="mlp: one hidden ReLU layer (the paper's); linear: the "
                                                             "linear protocol")
    hidden: int = param(512, low=1, help="the MLP's hidden width")
    epochs: int = param(30, low=1, help=f"the MLP's epochs (Adam, batch 256), at least {MIN_STEPS} steps")
    train_images: int | None = param(None, low=10, help="at most this many train images make the probe's train set "
                                                        "(unset: all)")

    def check(self, where: str, cfg) -> None:
        check_names(f"{where}.tasks", self.tasks, TASKS)


def transform(task: str, x: torch.Tensor, generator: torch.Generator, noise=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Float images (B,3,H,W) in [0,1] -> (transformed images, label per image)."""
    n, dev = x.shape[0], x.device
    if task == "grayscale":
        label = (torch.rand(n, generator=generator, device=dev) < GRAY_P).long()
        return torch.where(label.view(-1, 1, 1, 1).bool(), grayscale(x).expand_as(x), x), label
    if task == "rotation":
        op = build_op("rotate", p=1.0)
        params = op.sample(n, x.shape[-1], generator, dev)
        label = torch.randint(0, 4, (n,), generator=generator, device=dev)
        return op.apply(x, {**params, "quarter_turns": label, "apply": torch.ones(n, dtype=torch.bool, device=dev)}), label
    op = build_op(task, noise) if task == "noise" and noise is not None else build_op(task, p=1.0)
    params = op.sample(n, x.shape[-1], generator, dev)
    label = torch.randint(0, 2, (n,), generator=generator, device=dev)
    return op.apply(x, {**params, "apply": label.bool()}), label


def probe_set(task: str, images_u8: torch.Tensor, seed: int, noise=None, batch: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images -> (the transformed images as uint8, their labels), in batches."""
    gen = torch.Generator(device=images_u8.device).manual_seed(seed)
    xs, ys = [], []
    for start in range(0, images_u8.shape[0], batch):
        x, y = transform(task, to_float(images_u8[start:start + batch]), gen, noise)
        xs.append((x * 255).round_().clamp_(0, 255).to(torch.uint8))
        ys.append(y)
    return torch.cat(xs), torch.cat(ys)


def fit_mlp(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor, classes: int,
            hidden: int = 512, epochs: int = 30, seed: int = 0) -> float:
    """Test top-1 of a one-hidden-layer MLP on standardised features (Adam, lr 1e-3, batch 256, `epochs` but at
    least MIN_STEPS steps)."""
    mean, std = feature_stats(train_x)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    torch.manual_seed(seed)
    mlp = nn.Sequential(nn.Linear(train_x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, classes)).to(train_x.device)
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    gen = torch.Generator(device=train_x.device).manual_seed(seed)
    per_epoch = -(-train_x.shape[0] // 256)
    with torch.enable_grad():
        for _ in range(max(epochs, -(-MIN_STEPS // per_epoch))):
            perm = torch.randperm(train_x.shape[0], device=train_x.device, generator=gen)
            for start in range(0, train_x.shape[0], 256):
                idx = perm[start:start + 256]
                opt.zero_grad()
                F.cross_entropy(mlp(train_x[idx]), train_y[idx]).backward()
                opt.step()
    with torch.no_grad():
        return topk_accuracy(mlp(test_x), test_y, 1)


@torch.no_grad()
def project(head: nn.Module, h: torch.Tensor, batch: int) -> torch.Tensor:
    """g(h) of frozen features h: the projection head in eval mode (BatchNorm's running statistics), so the
    backbone runs once for both representations (h again for a method without a head)."""
    was_training = head.training
    head.eval()
    try:
        return torch.cat([head(h[s:s + batch]).float() for s in range(0, h.shape[0], batch)])
    finally:
        head.train(was_training)


@EVALUATIONS.register("transform_probe", TransformProbeParams)
def transform_probe(ctx, p: TransformProbeParams) -> dict:
    """Predict the transformation applied from frozen h and g(h) (probe_<task>_h_top1, probe_<task>_gh_top1)"""
    train_u8, _ = ctx.data.labeled_train()
    if p.train_images is not None and train_u8.shape[0] > p.train_images:
        keep = torch.randperm(train_u8.shape[0], generator=torch.Generator().manual_seed(ctx.seed))[:p.train_images]
        train_u8 = train_u8[keep.to(train_u8.device)]
    noise = ctx.cfg.augment.ops.get("noise")  # the pretraining's noise, when it had one
    kw = dict(batch_size=ctx.cfg.eval.batch_size, bf16=ctx.bf16, channels_last=ctx.channels_last)
    out = {"probe_num_test": int(ctx.data.test_x.shape[0])}
    for i, task in enumerate(p.tasks):
        tr_x, tr_y = probe_set(task, train_u8, ctx.seed * 1000 + 2 * i, noise)
        te_x, te_y = probe_set(task, ctx.data.test_x, ctx.seed * 1000 + 2 * i + 1, noise)
        classes = 4 if task == "rotation" else 2
        out[f"probe_{task}_chance"] = float(torch.bincount(te_y, minlength=classes).max()) / te_y.numel()
        h_tr = extract_features(ctx.method.backbone, tr_x, ctx.data.normalize, **kw)
        h_te = extract_features(ctx.method.backbone, te_x, ctx.data.normalize, **kw)
        features = {"h": (h_tr, h_te), "gh": (project(ctx.method.head, h_tr, kw["batch_size"]),
                                              project(ctx.method.head, h_te, kw["batch_size"]))}
        for rep, (f_tr, f_te) in features.items():
            if p.classifier == "mlp":
                acc = fit_mlp(f_tr, tr_y, f_te, te_y, classes, p.hidden, p.epochs, ctx.seed)
            else:
                acc = linear_eval(f_tr, tr_y, f_te, te_y, classes, seed=ctx.seed).top1
            out[f"probe_{task}_{rep}_top1"] = acc
    return out
