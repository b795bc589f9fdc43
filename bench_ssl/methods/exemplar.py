"""Exemplar CNN (Dosovitskiy et al. 2014): every training image is a class of its own (a surrogate class), seen
each epoch under heavy augmentation (the view's ops, e.g. crop, color, blur: make them strong), and a
parametric classifier over the N instances is trained with cross-entropy.

Memory: the classifier is N x D weights (all of CIFAR-10, 50,000 x 512: 100 MB in float32, and as much again for
the optimiser's momentum); nothing per class is stored besides. Simplified relative to the paper: one augmented
view per image per step instead of a fixed set of 100 augmented copies prepared ahead; the N exemplars are drawn
at random from the training images with the run's seed (all of them by default), the others are not trained on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from ..params import param
from ..registry import METHODS
from .base import Method


EXEMPLAR_STREAM = 0xE8E  # with the seed, names the random stream that picks the exemplars


@dataclass
class ExemplarParams:
    num_exemplars: int | None = param(None, low=2, help="N surrogate classes (training images); unset: all of them")


@METHODS.register("exemplar", ExemplarParams)
class Exemplar(Method):
    """Each training image is its own class under heavy augmentation; a classifier over N instances"""

    n_views = 1
    uses_head = False

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        n = self.params.num_exemplars or num_train
        if n > num_train:
            raise ConfigError(f"method.num_exemplars: {n} is more than the {num_train:,} training images; use at most "
                              f"{num_train} (or leave it unset for all of them)")
        self.classifier = nn.Linear(self.backbone.out_dim, n)
        # a stream of its own: torch.randperm with the run's seed is the engine's first epoch order, which would
        # make the exemplars exactly the first batches of that epoch
        chosen = torch.from_numpy(np.random.default_rng([cfg.seed, EXEMPLAR_STREAM]).permutation(num_train)[:n])
        class_of = torch.full((num_train,), -1, dtype=torch.long)
        class_of[chosen] = torch.arange(n)
        self.register_buffer("class_of", class_of)  # dataset row -> surrogate class, -1 for the others

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        target = self.class_of[index.to(self.class_of.device)]
        keep = target >= 0
        logits = self.classifier(self.backbone(views[0])).float()
        if not keep.any():  # no exemplar in this batch: a zero loss that still reaches every parameter
            return logits.sum() * 0.0
        return F.cross_entropy(logits[keep], target[keep])
