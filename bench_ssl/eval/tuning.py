"""Fine-tuning a copy of the pretrained backbone with a linear classifier on labelled training images (the
whole network trains), then scoring it once on the test set: the shared part of the `finetune` and
`semi_supervised` protocols. A copy, so the protocols after it still see the pretrained weights. The
hyperparameters are fixed by the config (SGD with Nesterov momentum, cosine decay, crop and flip); nothing is
chosen on the test set."""

from __future__ import annotations

import contextlib
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import build_pipeline, to_float
from ..errors import ConfigError
from ..models.split_bn import plain_bn
from .features import extract_features


def balanced_subset(y: torch.Tensor, fraction: float, seed: int, classes: list[str] | None = None,
                    key: str = "eval.semi_supervised.fractions") -> torch.Tensor:
    """Sorted indices of round(fraction * n_c) images of every class c, drawn with `seed` (fixed per seed, and
    nested across fractions: the 1% subset is inside the 10% one). A class left with no image is an error."""
    gen = torch.Generator().manual_seed(seed)
    y_cpu = y.cpu()
    picked = []
    for c in torch.unique(y_cpu).tolist():
        idx = (y_cpu == c).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n = round(fraction * len(idx))
        if n == 0:
            name = classes[c] if classes and c < len(classes) else str(c)
            need = 1 / len(idx)
            raise ConfigError(f"{key}: {fraction:g} leaves class '{name}' with 0 of its {len(idx)} training images; "
                              f"use at least {math.ceil(need * 1000) / 1000:g} (one image per class)")
        picked.append(idx[:n])
    return torch.cat(picked).sort().values.to(y.device)


def finetune_top1(ctx, indices: torch.Tensor, *, epochs: int, lr: float, batch_size: int, weight_decay: float,
                  seed: int) -> float:
    """Train a copy of ctx.method.backbone and a linear classifier on train images `indices`; test top-1."""
    data, device = ctx.data, ctx.data.train_x.device
    train_x, train_y = data.labeled_train()
    x_all, y_all = train_x[indices], train_y[indices]
    backbone = plain_bn(copy.deepcopy(ctx.method.backbone)).train()  # MoCo's split BN needs batches of S x n
    classifier = nn.Linear(backbone.out_dim, data.num_classes).to(device)
    params = list(backbone.parameters()) + list(classifier.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    augment = build_pipeline(["crop", "flip"], {"crop": {"scale": (0.2, 1.0)}})
    gen = torch.Generator(device=device).manual_seed(seed)
    order_gen = torch.Generator().manual_seed(seed)
    n = len(indices)
    b = min(batch_size, n)
    steps_per_epoch = max(1, n // b)
    total = epochs * steps_per_epoch
    cast = torch.autocast(device.type, dtype=torch.bfloat16) if ctx.bf16 else contextlib.nullcontext()
    step = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=order_gen).to(device)
        for i in range(steps_per_epoch):
            batch = order[i * b:(i + 1) * b]
            x = data.normalize(augment(to_float(x_all[batch]), gen))
            if ctx.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
            with cast:
                loss = F.cross_entropy(classifier(backbone(x)).float(), y_all[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    feats = extract_features(backbone, data.test_x, data.normalize, bf16=ctx.bf16, channels_last=ctx.channels_last)
    with torch.no_grad():
        return (classifier(feats).argmax(1) == data.test_y).float().mean().item()


__all__ = ["balanced_subset", "finetune_top1"]
