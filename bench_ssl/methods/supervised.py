"""Supervised baseline: the backbone plus a linear classifier trained with cross-entropy on one
augmented view (augment.view1), the "supervised" column of SimCLR Table 1 and the CE row of SupCon
Table 2. Evaluated like every method, on the backbone's features; the classifier replaces the head, so
model.head and augment.view2 do not apply (and no unused head draws initial weights)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import METHODS
from .base import Method


@METHODS.register("supervised")
class Supervised(Method):
    """Cross-entropy on one augmented view with a linear classifier on the backbone's features"""

    n_views = 1
    uses_head = False  # no projection: the classifier sits on the features
    needs_labels = True
    has_classifier = True  # eval.protocols may score it: classifier (the one-stage number)

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        self.classifier = nn.Linear(self.backbone.out_dim, num_classes)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.classifier(self.backbone(views[0])).float(), labels)
