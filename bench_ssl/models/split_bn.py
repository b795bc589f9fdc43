"""Split BatchNorm: per-GPU BN statistics on one device, for MoCo's shuffling BN.

With S sub-batches, BN in training mode normalises each sub-batch with its own mean and variance, as S
GPUs without SyncBN would (MoCo's setting); the running statistics become the mean of the S updates.
Sub-batch g holds samples g, g+S, g+2S, ...: the (N, C, ...) input is viewed as (N/S, S*C, ...) and
normalised in one call (the reshape trick of MoCo's CIFAR demo), so it costs one kernel, not S.
Parameter and buffer names are those of nn.BatchNorm*, so state dicts are unchanged; in eval mode it is
plain BN.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class SplitBatchNorm(nn.modules.batchnorm._BatchNorm):
    def __init__(self, num_features: int, splits: int, **kwargs):
        super().__init__(num_features, **kwargs)
        self.splits = splits

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected a (N, C, ...) input, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.splits
        if not self.training or s == 1:
            return super().forward(x)
        n, c = x.shape[:2]
        if n % s:
            raise ValueError(f"batch of {n} does not split into {s} equal BN sub-batches")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average, as nn.BatchNorm
                factor = 1.0 / float(self.num_batches_tracked)
        rm = self.running_mean.repeat(s) if self.track_running_stats else None
        rv = self.running_var.repeat(s) if self.track_running_stats else None
        w = self.weight.repeat(s) if self.affine else None
        b = self.bias.repeat(s) if self.affine else None
        out = F.batch_norm(x.reshape(n // s, s * c, *x.shape[2:]), rm, rv, w, b, True, factor, self.eps)
        if self.track_running_stats:
            with torch.no_grad():
                self.running_mean.copy_(rm.view(s, c).mean(0))
                self.running_var.copy_(rv.view(s, c).mean(0))
        out = out.reshape(x.shape)
        if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous(memory_format=torch.channels_last)  # keep the layout the convolutions want
        return out


def convert_split_bn(module: nn.Module, splits: int) -> nn.Module:
    """Replace every nn.BatchNorm1d/2d/3d inside `module` (in place) by a SplitBatchNorm with the same state."""
    for name, child in module.named_children():
        if type(child) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
            new = SplitBatchNorm(child.num_features, splits, eps=child.eps, momentum=child.momentum,
                                 affine=child.affine, track_running_stats=child.track_running_stats)
            new.load_state_dict(child.state_dict())
            ref = next(iter(child.state_dict().values()), None)
            if ref is not None:
                new.to(ref.device)
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_split_bn(child, splits)
    return module


def plain_bn(module: nn.Module) -> nn.Module:
    """Every SplitBatchNorm inside `module` (in place) normalises its whole batch again: the split emulates
    MoCo's per-GPU BN while pretraining; fine-tuning trains an ordinary network, at any batch size."""
    for m in module.modules():
        if isinstance(m, SplitBatchNorm):
            m.splits = 1
    return module
