"""A linear classifier trained on augmented images through the frozen backbone (SupCon Table 9's linear stage:
SimAugment, AutoAugment, RandAugment or Stacked RandAugment), one fit per named augmentation from the same
pretrained backbone, each scored once on the un-augmented test images.

Every step augments its batch on the device (a draw per image, seeded by the run's seed), takes the
backbone's features in eval mode (BatchNorm's running statistics) and steps a linear classifier with SGD
(Nesterov momentum, cosine decay), on features standardised with the un-augmented train set's statistics.
The ops take the run's own parameters where its pretraining views had them (e.g. the colour strength),
their defaults otherwise."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..augment import build_pipeline, to_float
from ..params import check_names, param
from ..registry import EVALUATIONS
from .linear import feature_stats, topk_accuracy

# SupCon's names -> our ops. SimAugment is SimCLR's ImageNet recipe (SupCon adds a sparse image warp, left out);
# Stacked RandAugment, as we read it, is SimAugment followed by RandAugment.
AUGMENTATIONS = {
    "simaugment": ["crop", "flip", "color", "blur"],
    "autoaugment": ["crop", "flip", "autoaugment"],
    "randaugment": ["crop", "flip", "randaugment"],
    "stacked_randaugment": ["crop", "flip", "color", "blur", "randaugment"],
}


@dataclass
class LinearAugmentParams:
    augmentations: list[str] = field(default_factory=lambda: list(AUGMENTATIONS), metadata={
        **param(list(AUGMENTATIONS), nonempty=True).metadata,
        "help": f"the linear stage's augmentations, of {', '.join(AUGMENTATIONS)}"})
    epochs: int = param(30, low=1, help="epochs of each fit")
    lr: float = param(0.1, low=0.0, low_open=True, help="SGD's peak learning rate (cosine decay)")
    batch_size: int = param(256, low=1)
    weight_decay: float = param(0.0, low=0.0)

    def check(self, where: str, cfg) -> None:
        check_names(f"{where}.augmentations", self.augmentations, AUGMENTATIONS)


def pipeline_for(name: str, cfg):
    ops = AUGMENTATIONS[name]
    given = getattr(getattr(cfg, "augment", None), "ops", {}) or {}
    return build_pipeline(ops, {op: given[op] for op in ops if op in given})


def fit_augmented(ctx, pipeline, p: LinearAugmentParams, seed: int) -> float:
    """Test top-1 of a linear classifier trained through the frozen backbone on views from `pipeline`."""
    train_f, _, test_f = ctx.features()  # the un-augmented features: their statistics standardise, and the test is scored
    mean, std = feature_stats(train_f)
    train_x, train_y = ctx.data.labeled_train()
    device = train_x.device
    backbone = ctx.method.backbone
    w = torch.zeros(train_f.shape[1], ctx.data.num_classes, device=device, requires_grad=True)
    b = torch.zeros(ctx.data.num_classes, device=device, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=p.lr, momentum=0.9, nesterov=True)
    batch = min(p.batch_size, train_x.shape[0])
    steps = p.epochs * -(-train_x.shape[0] // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator(device=device).manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    cast = torch.autocast(device.type, dtype=torch.bfloat16) if ctx.bf16 else contextlib.nullcontext()
    was_training = backbone.training
    backbone.eval()
    try:
        for _ in range(p.epochs):
            perm = torch.randperm(train_x.shape[0], generator=order).to(device)
            for start in range(0, train_x.shape[0], batch):
                idx = perm[start:start + batch]
                with torch.no_grad():
                    views = ctx.data.normalize(pipeline(to_float(train_x[idx]), gen))
                    if ctx.channels_last:
                        views = views.contiguous(memory_format=torch.channels_last)
                    with cast:
                        f = backbone(views).float()
                f = (f - mean) / std
                loss = F.cross_entropy(f @ w + b, train_y[idx]) + 0.5 * p.weight_decay * (w * w).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
    finally:
        backbone.train(was_training)
    with torch.no_grad():
        return topk_accuracy(((test_f - mean) / std) @ w + b, ctx.data.test_y, 1)


@EVALUATIONS.register("linear_augment", LinearAugmentParams)
def linear_augment(ctx, p: LinearAugmentParams) -> dict:
    """A linear classifier trained on augmented views through the frozen backbone (linear_aug_<name>_top1)"""
    with torch.enable_grad():
        return {f"linear_aug_{name}_top1": fit_augmented(ctx, pipeline_for(name, ctx.cfg), p, ctx.seed * 1000 + i)
                for i, name in enumerate(p.augmentations)}
