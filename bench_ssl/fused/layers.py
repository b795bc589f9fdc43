"""K structurally identical modules as one (HFTA: horizontally fused training arrays, Wang et al., MLSys 2021).

The fused module works on channel-stacked tensors: run k's channels (or features) are the k-th of K equal blocks
of dim 1, `(N, K*C, H, W)` or `(N, K*D)`. Convolutions become one grouped convolution (groups x K), Linear layers
one batched matmul (`FusedLinear`), BatchNorm one BatchNorm over the K*C channels (it is per channel, so each run
keeps its own statistics); everything without parameters (ReLU, pooling, flatten, residual adds) is per channel
already and is kept as it is. Every fused parameter and buffer holds run k's tensor as the k-th block of its dim 0,
and `tie` makes each run's own module hold views of those blocks: the runs' own modules, optimizers, state dicts
and evaluations see exactly the weights the fused model trains.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
import torch.nn as nn

from ..errors import BenchSSLError
from ..models.split_bn import SplitBatchNorm


class NotFusable(BenchSSLError):
    """The runs' modules differ in structure, or hold a layer with weights that has no fused form."""


class FusedLinear(nn.Module):
    """K Linear layers as one batched matmul: (N, K*in) -> (N, K*out); weight (K, out, in), bias (K, out)."""

    def __init__(self, k: int, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.k, self.in_features, self.out_features = k, in_features, out_features
        self.weight = nn.Parameter(torch.empty(k, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(k, out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        y = torch.bmm(x.reshape(n, self.k, self.in_features).transpose(0, 1), self.weight.transpose(1, 2))
        if self.bias is not None:
            y = y + self.bias[:, None, :]
        return y.transpose(0, 1).reshape(n, self.k * self.out_features)


def _stack(tensors: list[torch.Tensor], blocks: bool) -> torch.Tensor:
    """Run k's tensor as the k-th block of dim 0: concatenated (blocks of a dim 0 they have) or stacked (a new one)."""
    return torch.cat(tensors) if blocks else torch.stack(tensors)


def fuse(modules: list[nn.Module]) -> nn.Module:
    """One module computing all of `modules` (same structure, their own weights) on channel-stacked inputs."""
    k, first = len(modules), modules[0]
    kinds = {type(m) for m in modules}
    if len(kinds) > 1:
        raise NotFusable(f"the runs' modules differ here: {sorted(t.__name__ for t in kinds)}")
    kind = type(first)
    with torch.no_grad():
        if kind is nn.Conv2d:
            c = first
            fused = nn.Conv2d(k * c.in_channels, k * c.out_channels, c.kernel_size, c.stride, c.padding, c.dilation,
                              groups=k * c.groups, bias=c.bias is not None, padding_mode=c.padding_mode,
                              device=c.weight.device, dtype=c.weight.dtype)
            fused.weight.copy_(_stack([m.weight for m in modules], True))
            if c.bias is not None:
                fused.bias.copy_(_stack([m.bias for m in modules], True))
            return fused
        if kind is nn.Linear:
            lin = first
            fused = FusedLinear(k, lin.in_features, lin.out_features, lin.bias is not None).to(lin.weight)
            fused.weight.copy_(_stack([m.weight for m in modules], False))
            if lin.bias is not None:
                fused.bias.copy_(_stack([m.bias for m in modules], False))
            return fused
        if kind in (nn.BatchNorm1d, nn.BatchNorm2d, SplitBatchNorm):
            bn = first
            if len({getattr(m, "splits", 1) for m in modules}) > 1:
                raise NotFusable("the runs split their BatchNorm into different numbers of sub-batches (bn_splits)")
            extra = {"splits": bn.splits} if kind is SplitBatchNorm else {}
            fused = kind(k * bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                         track_running_stats=bn.track_running_stats, **extra)
            ref = bn.weight if bn.affine else bn.running_mean
            if ref is not None:
                fused.to(device=ref.device, dtype=ref.dtype)
            for name, tensor in fused.named_parameters(recurse=False):
                tensor.copy_(_stack([getattr(m, name) for m in modules], True))
            for name in ("running_mean", "running_var"):
                if getattr(bn, name) is not None:
                    getattr(fused, name).copy_(_stack([getattr(m, name) for m in modules], True))
            if bn.num_batches_tracked is not None:
                fused.num_batches_tracked.copy_(bn.num_batches_tracked)
            fused.train(bn.training)
            return fused
    if first._parameters or first._buffers:
        have = [n for n, v in [*first._parameters.items(), *first._buffers.items()] if v is not None]
        if have:
            raise NotFusable(f"{kind.__name__} holds {', '.join(have)} and has no fused form")
    clone = copy.copy(first)  # the same forward code, on the fused children
    clone.__dict__ = dict(first.__dict__)
    clone._parameters, clone._buffers = OrderedDict(), OrderedDict()
    clone._modules = OrderedDict()
    for name in first._modules:
        children = [m._modules[name] for m in modules]
        if any(c is None for c in children):
            clone._modules[name] = None
        else:
            clone._modules[name] = fuse(children)
    return clone


def block(tensor: torch.Tensor, k: int, i: int, shape: torch.Size) -> torch.Tensor:
    """Run i's block of a fused tensor, as a view of its storage."""
    return tensor.detach().view(k, *shape)[i]


def tie(fused: nn.Module, modules: list[nn.Module]) -> None:
    """Make every parameter and buffer of `modules` a view of its block in `fused` (call once the fused module is
    on its device and in its memory format): the runs' modules and the fused one then hold the same numbers."""
    k = len(modules)
    params, buffers = dict(fused.named_parameters()), dict(fused.named_buffers())
    for i, m in enumerate(modules):
        for name, p in m.named_parameters():
            p.data = block(params[name], k, i, p.shape)
        for name, b in m.named_buffers():
            if b.dim() == 0:  # num_batches_tracked: one counter for all (they step together)
                _set_buffer(m, name, buffers[name])
            else:
                b.data = block(buffers[name], k, i, b.shape)


def _set_buffer(module: nn.Module, dotted: str, tensor: torch.Tensor) -> None:
    *path, leaf = dotted.split(".")
    for part in path:
        module = getattr(module, part)
    module._buffers[leaf] = tensor


def tie_grads(fused: nn.Module, modules: list[nn.Module]) -> None:
    """Each run's parameters get their block of the fused gradients (views), for the run's own optimizer."""
    k = len(modules)
    params = dict(fused.named_parameters())
    for i, m in enumerate(modules):
        for name, p in m.named_parameters():
            g = params[name].grad
            p.grad = None if g is None else g.view(k, *p.shape)[i]


def split(x: torch.Tensor, k: int) -> list[torch.Tensor]:
    """Run by run, the blocks of dim 1 of a fused output: (N, K*D) -> K x (N, D)."""
    return list(x.reshape(x.shape[0], k, -1).unbind(1))


def stack_inputs(xs: list[torch.Tensor]) -> torch.Tensor:
    """K runs' inputs (N, C, ...) as one fused input (N, K*C, ...)."""
    return torch.cat(xs, dim=1)
