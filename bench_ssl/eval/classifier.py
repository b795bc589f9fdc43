"""The method's own classifier, scored once on the test set: the one-stage cross-entropy number (SupCon Table 7's
"Cross Entropy (1 stage)"), beside the two-stage number the linear protocol gives on the same frozen backbone.
Only a method that trains a classifier with the backbone (`has_classifier`, e.g. supervised) has one."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..registry import EVALUATIONS, METHODS
from .linear import topk_accuracy


def check_trains_classifier(cfg, what: str, instead: str) -> None:
    """`what` needs the run's method to train a classifier of the classes; else one line saying which do."""
    name = getattr(getattr(cfg, "method", None), "name", None)
    if name in METHODS and not getattr(METHODS[name], "has_classifier", False):
        takers = [n for n, m in METHODS.items() if getattr(m, "has_classifier", False)]
        raise ConfigError(f"{what} the classifier a method trains, and method {name!r} trains none; use it with "
                          f"method.name: {' or '.join(takers)}, or {instead}")


def trains_classifier(method) -> bool:
    """The method trained a classifier of the classes with its backbone (not a pretext head)."""
    return getattr(type(method), "has_classifier", False)


def own_logits(method):
    """features -> logits of the classifier the method trained (float32, whatever the training precision)."""
    weight, bias = method.classifier.weight.float(), method.classifier.bias.float()
    return lambda f: f @ weight.T + bias


@dataclass
class ClassifierParams:
    def check(self, where: str, cfg) -> None:
        check_trains_classifier(cfg, "eval.protocols: 'classifier' scores", "take it out of eval.protocols")


@EVALUATIONS.register("classifier", ClassifierParams)
@torch.no_grad()
def classifier(ctx, p: ClassifierParams) -> dict:
    """The method's own classifier on the frozen test features (top-1 and top-5), nothing refit"""
    _, _, test_f = ctx.features()
    logits = own_logits(ctx.method)(test_f)
    y = ctx.data.test_y
    return {"classifier_top1": topk_accuracy(logits, y, 1), "classifier_top5": topk_accuracy(logits, y, 5)}
