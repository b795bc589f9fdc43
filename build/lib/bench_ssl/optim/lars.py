"""LARS (You et al. 2017), as SimCLR uses it: SGD with momentum whose per-layer step is scaled by
eta * ||w|| / ||g + wd w||. Groups with `lars=False` (biases, BatchNorm) take plain SGD steps.

The update runs with multi-tensor (`_foreach`) kernels: a per-parameter Python loop costs ~8 kernel
launches per tensor, which for a ResNet on small images is a visible share of the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..params import param
from ..registry import OPTIMIZERS


@dataclass
class LARSParams:
    momentum: float = param(0.9, low=0.0, high=1.0, high_open=True)
    lars_eta: float = param(0.001, low=0.0, low_open=True, help="trust coefficient: step scaled by eta ||w|| / ||g + wd w||")


class LARS(torch.optim.Optimizer):
    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, eta: float = 0.001):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, lars=True))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if group["weight_decay"]:
                grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            if group["lars"]:
                w_norm = torch.stack(torch._foreach_norm(params))
                g_norm = torch.stack(torch._foreach_norm(grads))
                trust = torch.where((w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm, torch.ones_like(w_norm))
                grads = torch._foreach_mul(grads, list(trust.unbind()))
            bufs = []
            for p, g in zip(params, grads):
                state = self.state[p]
                if "momentum_buffer" not in state:  # first step: the buffer starts as the update itself
                    state["momentum_buffer"] = torch.zeros_like(p)
                bufs.append(state["momentum_buffer"])
            torch._foreach_mul_(bufs, group["momentum"])
            torch._foreach_add_(bufs, grads)
            torch._foreach_add_(params, bufs, alpha=-group["lr"])
        return loss


@OPTIMIZERS.register("lars", LARSParams, doc="LARS: SGD with momentum and a per-layer trust ratio (SimCLR's optimizer)")
def lars(groups: list[dict], lr: float, weight_decay: float, p: LARSParams) -> LARS:
    return LARS(groups, lr=lr, momentum=p.momentum, weight_decay=weight_decay, eta=p.lars_eta)
