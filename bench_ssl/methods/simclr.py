"""SimCLR: two views of each image, one encoder, a contrastive loss over the 2N projections."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..params import choice, params_of
from ..registry import LOSSES, METHODS
from .base import Method


@dataclass
class SimCLRParams:
    loss: str = choice("nt_xent", "loss", help="the pair loss (SimCLR Table 4); its parameters sit beside it",
                       hint="simclr's pair losses; moco, memory_bank and end_to_end use InfoNCE, supcon, byol and simsiam "
                            "their own loss: choose those with method.name")
    loss_params: object = params_of("loss")


@METHODS.register("simclr", SimCLRParams)
class SimCLR(Method):
    """Two views of each image, one encoder, a pair loss over the 2N projections"""

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        self.loss_fn, self.loss_kwargs = LOSSES[self.params.loss], asdict(self.params.loss_params)

    fusable = True

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        # one forward pass: BN statistics over both views, like SimCLR
        return self.fused_loss({"online": self.project(torch.cat(views))}, views, labels, index)

    def fused_inputs(self, views, labels, index) -> dict[str, torch.Tensor]:
        return {"online": torch.cat(views)}

    def fused_loss(self, encoded, views, labels, index) -> torch.Tensor:
        n, z = views[0].shape[0], encoded["online"]
        return self.loss_fn(z[:n], z[n:], **self.loss_kwargs)
