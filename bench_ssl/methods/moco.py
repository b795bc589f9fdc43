"""MoCo v1/v2 (He et al. 2020, Chen et al. 2020): a momentum key encoder and a queue of K negatives.

The query encoder is `backbone` + `head` (trained, and evaluated); the key encoder is an EMA copy,
theta_k <- m theta_k + (1 - m) theta_q after every optimiser step (m = 0: a plain copy, the collapse
MoCo Table 1 reports). Keys of each batch enter the queue after the loss. v2 is config only: an MLP
head, `blur` in the augmentations, the cosine schedule and temperature 0.2.

Shuffling BN on one device: with `shuffle_bn`, every BN layer of both encoders normalises
`bn_splits` sub-batches separately (as that many GPUs would), and the key batch is permuted before the
key encoder and un-permuted after, so a query and its key never share BN statistics by construction;
without it, the model can cheat through batch statistics (MoCo Sec. 3.3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses import infonce
from ..models import head_out_dim
from ..models.split_bn import convert_split_bn
from .base import Method, register
from .momentum import ema_update, frozen_copy
from .queue import KeyQueue


@register("moco")
class MoCo(Method):
    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        m = cfg.method
        self.bn_splits = m.bn_splits if m.shuffle_bn else 1
        if self.bn_splits > 1:
            convert_split_bn(self.backbone, self.bn_splits)
            convert_split_bn(self.head, self.bn_splits)
        self.key_backbone = frozen_copy(self.backbone)
        self.key_head = frozen_copy(self.head)
        self.queue = KeyQueue(m.queue_size, head_out_dim(cfg.model.head.type, self.backbone.out_dim, cfg.model.head.out_dim))

    @torch.no_grad()
    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """Key-encoder projections of x, in x's order; computed on a shuffled batch when shuffling BN."""
        if self.bn_splits == 1:
            k = self.key_head(self.key_backbone(x))
        else:
            perm = torch.randperm(x.shape[0], device=x.device)
            k = self.key_head(self.key_backbone(x[perm]))[torch.argsort(perm)]
        k = k.float()
        return F.normalize(k, dim=1) if self.cfg.method.normalize else k

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        m = self.cfg.method
        q = self.project(views[0])
        k = self.keys(views[1])
        # a snapshot: the matmul's backward needs the queue as it was, and push() overwrites it in place
        loss = infonce(q, k, self.queue.keys.clone(), m.temperature, m.normalize)
        self.queue.push(k)
        return loss

    def after_optimizer_step(self, progress: float) -> None:
        m = self.cfg.method.momentum
        ema_update(self.key_backbone, self.backbone, m)
        ema_update(self.key_head, self.head, m)
