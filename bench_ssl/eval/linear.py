"""The linear protocol: multinomial logistic regression on frozen features, on the training device.

Features are standardised with train statistics; the weight decay is chosen on a stratified held-out part
of the train set, then the classifier is refit on the whole train set and scored once on the test set
(never selecting anything on the test set).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import EVALUATIONS, OPTIMIZERS

SOLVERS = ("lbfgs", "sgd", "lars", "rmsprop")
# The minibatch solvers' learning rate when eval.linear.lr is unset (sgd: nesterov momentum, as it always was).
# LARS's step is lr x eta (0.001) x ||w|| / ||g||: lr 10 moves W by 1% a step. Each reaches L-BFGS's top-1 within
# a point on CIFAR-10 pixels (2,000 images, 4x4-pooled; L-BFGS 35.1, sgd 35.2, lars 34.7, rmsprop 34.7).
SOLVER_LR = {"sgd": 0.1, "lars": 10.0, "rmsprop": 0.01}


@dataclass
class LinearParams:
    solver: str = param("lbfgs", choices=SOLVERS, help="lbfgs: full-batch L-BFGS; sgd: minibatch SGD with nesterov "
                        "momentum; lars, rmsprop: minibatch, the optimizers of those names (SupCon Table 8)")
    weight_decays: list[float] = param([0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], low=0.0, nonempty=True,
                                       help="candidates, chosen on the hold-out")
    max_iter: int = param(200, low=1, help="L-BFGS iterations (lbfgs)")
    epochs: int = param(100, low=1, help="epochs (sgd)")
    holdout: float = param(0.1, low=0.0, high=0.5, low_open=True, help="fraction of the train set that picks the weight decay")
    lr: float | None = field(default=None, metadata={  # left out of the config when unset
        **param(None, low=0.0, low_open=True).metadata, "omit_none": True,
        "help": f"the minibatch solvers' peak learning rate (cosine decay); unset: {SOLVER_LR}"})

    def inactive(self) -> tuple[str, ...]:
        return ("epochs", "lr") if self.solver == "lbfgs" else ("max_iter",)


@dataclass
class LinearResult:
    top1: float
    top5: float
    weight_decay: float
    val_top1: dict[float, float]
    classifier: tuple | None = None  # (W, b, mean, std): logits of features f are ((f - mean) / std) @ W + b


def feature_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-dimension mean and std (floored at 1e-6) that standardise features for a classifier."""
    return x.mean(0), x.std(0).clamp(min=1e-6)


def fit_logistic(x: torch.Tensor, y: torch.Tensor, num_classes: int, weight_decay: float, *,
                 solver: str = LinearParams.solver, max_iter: int = LinearParams.max_iter,
                 epochs: int = LinearParams.epochs, init: tuple | None = None, seed: int = 0,
                 lr: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise mean cross-entropy + weight_decay/2 * ||W||^2; returns (W (D,C), b (C,)). The weight decay is
    in the objective, so every solver minimises the same function."""
    d = x.shape[1]
    w = torch.zeros(d, num_classes, device=x.device) if init is None else init[0].clone()
    b = torch.zeros(num_classes, device=x.device) if init is None else init[1].clone()
    w.requires_grad_(True)
    b.requires_grad_(True)

    def objective(xb, yb):
        return F.cross_entropy(xb @ w + b, yb) + 0.5 * weight_decay * (w * w).sum()

    if solver == "lbfgs":
        opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20,
                                tolerance_grad=1e-7, tolerance_change=1e-10, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = objective(x, y)
            loss.backward()
            return loss

        opt.step(closure)
    else:
        gen = torch.Generator(device=x.device).manual_seed(seed)
        lr = SOLVER_LR[solver] if lr is None else lr
        if solver == "sgd":
            opt = torch.optim.SGD([w, b], lr=lr, momentum=0.9, nesterov=True)
        else:  # the registered optimizer with its default parameters; the bias takes no LARS trust ratio
            entry = OPTIMIZERS.entry(solver)
            opt = entry.obj([{"params": [w], "lars": True}, {"params": [b], "lars": False}], lr=lr, weight_decay=0.0,
                            p=entry.params())
        batch = min(1024, x.shape[0])
        steps = epochs * ((x.shape[0] + batch - 1) // batch)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for _ in range(epochs):
            perm = torch.randperm(x.shape[0], device=x.device, generator=gen)
            for start in range(0, x.shape[0], batch):
                idx = perm[start:start + batch]
                opt.zero_grad()
                objective(x[idx], y[idx]).backward()
                opt.step()
                sched.step()
    return w.detach(), b.detach()


def topk_accuracy(logits: torch.Tensor, y: torch.Tensor, k: int) -> float:
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == y[:, None]).any(1).float().mean().item()


def stratified_holdout(y: torch.Tensor, fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into (fit, val) with `fraction` of every class in val."""
    gen = torch.Generator().manual_seed(seed)
    y_cpu = y.cpu()
    fit, val = [], []
    for c in torch.unique(y_cpu):
        idx = (y_cpu == c).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_val = max(1, round(fraction * len(idx)))
        val.append(idx[:n_val])
        fit.append(idx[n_val:])
    return torch.cat(fit).sort().values.to(y.device), torch.cat(val).sort().values.to(y.device)


def linear_eval(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor, num_classes: int,
                weight_decays: list[float] | None = None, *, params: LinearParams | None = None, seed: int = 0,
                **keywords) -> LinearResult:
    """The protocol on features: `params` (the config section) or keywords of LinearParams (holdout=0.2, ...)."""
    p = params or LinearParams(**({"weight_decays": list(weight_decays)} if weight_decays is not None else {}), **keywords)
    solver, max_iter, epochs, holdout, weight_decays, lr = p.solver, p.max_iter, p.epochs, p.holdout, p.weight_decays, p.lr
    mean, std = feature_stats(train_x)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    fit_idx, val_idx = stratified_holdout(train_y, holdout, seed)
    val_top1, init = {}, None
    for wd in sorted(weight_decays, reverse=True):  # strongest first: each fit warm-starts the next
        init = fit_logistic(train_x[fit_idx], train_y[fit_idx], num_classes, wd, solver=solver, max_iter=max_iter,
                            epochs=epochs, init=init, seed=seed, lr=lr)
        val_top1[wd] = topk_accuracy(train_x[val_idx] @ init[0] + init[1], train_y[val_idx], 1)
    best = max(val_top1, key=lambda wd: (val_top1[wd], wd))  # ties: the stronger regulariser
    w, b = fit_logistic(train_x, train_y, num_classes, best, solver=solver, max_iter=max_iter, epochs=epochs, seed=seed,
                        lr=lr)
    logits = test_x @ w + b
    return LinearResult(topk_accuracy(logits, test_y, 1), topk_accuracy(logits, test_y, 5), best, val_top1,
                        (w, b, mean, std))


@EVALUATIONS.register("linear", LinearParams)
def linear(ctx, p: LinearParams) -> dict:
    """The linear protocol: logistic regression on frozen features, weight decay chosen on a train hold-out"""
    train_f, train_y, test_f = ctx.features()
    r = linear_eval(train_f, train_y, test_f, ctx.data.test_y, ctx.data.num_classes, params=p, seed=ctx.seed)
    return {"linear_top1": r.top1, "linear_top5": r.top5, "linear_weight_decay": r.weight_decay,
            "linear_val_top1": {str(k): v for k, v in r.val_top1.items()}}
