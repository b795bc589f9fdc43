"""The collectives the methods need, each the identity in a run of one rank.

`all_gather_grad` is the differentiable gather of SimCLR's and SupCon's negatives: its backward sums the
gradient every rank computed for a slice into the rank that owns it, so with DDP averaging the parameter
gradients, a loss averaged over each rank's own anchors trains exactly like the whole batch on one device.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from .group import world


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        w = world()
        ctx.rank, ctx.rows = w.rank, x.shape[0]
        parts = [torch.empty_like(x) for _ in range(w.size)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)  # every rank's gradient for every slice, summed
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def all_gather_grad(x: torch.Tensor) -> torch.Tensor:
    """Every rank's `x` concatenated in rank order (equal shapes on all ranks), with gradients flowing back."""
    return _GatherWithGrad.apply(x) if world().distributed else x


@torch.no_grad()
def all_gather(x: torch.Tensor) -> torch.Tensor:
    """Every rank's `x` concatenated in rank order, without gradient (keys, indices, labels)."""
    w = world()
    if not w.distributed:
        return x
    parts = [torch.empty_like(x) for _ in range(w.size)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def rank_rows(rows: int) -> slice:
    """This rank's slice of a tensor gathered from `rows` rows per rank."""
    r = world().rank
    return slice(r * rows, (r + 1) * rows)


@torch.no_grad()
def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    if world().distributed:
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


@torch.no_grad()
def all_reduce_max(x: torch.Tensor) -> torch.Tensor:
    if world().distributed:
        dist.all_reduce(x, op=dist.ReduceOp.MAX)
    return x


@torch.no_grad()
def broadcast(x: torch.Tensor, src: int = 0) -> torch.Tensor:
    """`x` as rank `src` holds it, on every rank (in place)."""
    if world().distributed:
        dist.broadcast(x, src)
    return x
