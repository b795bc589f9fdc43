"""What every self-supervised method shares: a backbone, a projection head, and a training step.

A method sees a list of `n_views` augmented views, the labels (which only supervised methods may use)
and the dataset indices of the batch (for per-image state such as a memory bank), and returns its loss;
the engine owns data, augmentation, optimisation and evaluation, so a new method is one small file:
a params dataclass and a class registered with `@METHODS.register(name, Params)`.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..models import build_backbone, build_head
from ..registry import METHODS


class Method(nn.Module):
    name = "base"
    n_views = 2  # views per image (1: view2 does not apply)
    uses_head = True  # False: model.head does not apply (the method brings its own output layer)
    needs_labels = False  # True: every training image must have a label

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__()
        self.cfg = cfg
        self.params = cfg.method.params  # this method's own parameters (its params dataclass)
        self.num_train, self.num_classes = num_train, num_classes
        self.backbone = build_backbone(cfg.model.backbone, cfg.model.params)
        head = cfg.model.head
        # a method without a projection (it brings its own output layer) projects to the features themselves
        self.head = build_head(head.type, self.backbone.out_dim, head.params) if self.uses_head else nn.Identity()

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Return the scalar loss for one batch: `views[v]` is (B,3,H,W), `index` the images' dataset rows."""
        raise NotImplementedError

    # Fused training (bench_ssl.fused) runs K runs' encoders as one model: a fusable method splits its step into
    # what each of its encoders sees and the loss of what they return, and `training_step` is those two around its
    # own encoders, so a fused run computes what it computes alone.
    fusable = False
    fused_encoders = ("online",)  # the names `encoders` returns

    def encoders(self) -> dict[str, nn.Module]:
        """The networks a step runs, by name: "online" (backbone + head; trained), "key" (MoCo's key encoder)."""
        return {"online": nn.Sequential(self.backbone, self.head)}

    def fused_inputs(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each encoder's input this step, by the names of `encoders`."""
        raise NotImplementedError

    def fused_loss(self, encoded: dict[str, torch.Tensor], views: list[torch.Tensor], labels: torch.Tensor,
                   index: torch.Tensor) -> torch.Tensor:
        """The loss from each encoder's output (a key encoder's computed without gradient)."""
        raise NotImplementedError

    def forward(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The training step, as the module's call: what DistributedDataParallel wraps in a run of several ranks."""
        return self.training_step(views, labels, index)

    def after_optimizer_step(self, progress: float) -> None:
        """Hook for methods with extra state (momentum encoders, queues); progress runs from 0 to 1 over training."""

    def bind_data(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Hook for methods whose targets are pixel values (colorization): the views arrive standardised with
        the training set's channel `mean` and `std` (1, 3, 1, 1); the engine calls this once after building."""


def build_method(cfg, num_train: int, num_classes: int) -> Method:
    return METHODS[cfg.method.name](cfg, num_train, num_classes)
