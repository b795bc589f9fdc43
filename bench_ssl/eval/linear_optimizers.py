"""The linear protocol once per optimizer on the same frozen features (SupCon Table 8's second stage: LARS,
RMSProp or SGD with momentum for the linear classifier), so one pretraining run gives every linear-stage cell.
Each fit follows the linear protocol (standardised features, weight decay picked on the train hold-out)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..params import check_names, param
from ..registry import EVALUATIONS
from .linear import SOLVERS, LinearParams, linear_eval

MINIBATCH = tuple(s for s in SOLVERS if s != "lbfgs")


@dataclass
class LinearOptimizersParams:
    optimizers: list[str] = field(default_factory=lambda: list(MINIBATCH), metadata={
        **param(list(MINIBATCH), nonempty=True).metadata, "help": f"the linear stage's optimizers, of {', '.join(MINIBATCH)}"})
    epochs: int = param(100, low=1, help="epochs of each fit")

    def check(self, where: str, cfg) -> None:
        check_names(f"{where}.optimizers", self.optimizers, MINIBATCH)


@EVALUATIONS.register("linear_optimizers", LinearOptimizersParams)
def linear_optimizers(ctx, p: LinearOptimizersParams) -> dict:
    """The linear protocol fitted with each of several optimizers (linear_<optimizer>_top1)"""
    train_f, train_y, test_f = ctx.features()
    base = ctx.cfg.eval.params.get("linear") or LinearParams()  # the weight decays and hold-out of eval.linear
    out = {}
    for name in p.optimizers:
        params = replace(base, solver=name, epochs=p.epochs, lr=None)
        r = linear_eval(train_f, train_y, test_f, ctx.data.test_y, ctx.data.num_classes, params=params, seed=ctx.seed)
        out[f"linear_{name}_top1"] = r.top1
        out[f"linear_{name}_weight_decay"] = r.weight_decay
    return out
