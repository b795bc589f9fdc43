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

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..losses import InfoNCEParams, infonce
from ..models.split_bn import convert_split_bn
from ..params import param
from ..registry import METHODS
from .base import Method
from .momentum import ema_update, frozen_copy
from .queue import KeyQueue


@dataclass
class MoCoParams(InfoNCEParams):  # temperature, normalize: InfoNCE's
    momentum: float = param(0.999, low=0.0, high=1.0, help="key encoder theta_k <- m theta_k + (1 - m) theta_q; 0: a copy")
    queue_size: int = param(4096, low=1, help="K keys in the queue, a multiple of optim.batch_size (paper: 65536)")
    shuffle_bn: bool = param(True, help="shuffling BN, emulated with bn_splits BN sub-batches")
    bn_splits: int = param(8, low=1, help="BN sub-batches ('GPUs') with shuffle_bn; divides optim.batch_size")

    def inactive(self) -> tuple[str, ...]:
        return () if self.shuffle_bn else ("bn_splits",)

    def check(self, where: str, cfg) -> None:
        if cfg is None:
            return
        b = cfg.optim.batch_size
        if self.queue_size % b:
            below, above = self.queue_size // b * b, (self.queue_size // b + 1) * b
            raise ConfigError(
                f"{where}.queue_size: {self.queue_size} is not a multiple of optim.batch_size {b} (each step replaces "
                f"the oldest batch of keys); use {f'{below} or {above}' if below else above}"
            )
        if self.shuffle_bn and (self.bn_splits < 2 or b % self.bn_splits or b // self.bn_splits < 2):
            raise ConfigError(
                f"{where}.bn_splits: {self.bn_splits} does not split optim.batch_size {b} into 2 or more equal BN "
                f"sub-batches of at least 2 images; use a divisor of {b} between 2 and {b // 2}, or {where}.shuffle_bn=false"
            )


@METHODS.register("moco", MoCoParams)
class MoCo(Method):
    """MoCo v1/v2: a momentum key encoder and a queue of K negatives"""

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        m = self.params
        self.bn_splits = m.bn_splits if m.shuffle_bn else 1
        if self.bn_splits > 1:
            convert_split_bn(self.backbone, self.bn_splits)
            convert_split_bn(self.head, self.bn_splits)
        self.key_backbone = frozen_copy(self.backbone)
        self.key_head = frozen_copy(self.head)
        self.queue = KeyQueue(m.queue_size, self.head.out_dim)

    @torch.no_grad()
    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """Key-encoder projections of x, in x's order; computed on a shuffled batch when shuffling BN."""
        if self.bn_splits == 1:
            k = self.key_head(self.key_backbone(x))
        else:
            perm = torch.randperm(x.shape[0], device=x.device)
            k = self.key_head(self.key_backbone(x[perm]))[torch.argsort(perm)]
        k = k.float()
        return F.normalize(k, dim=1) if self.params.normalize else k

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        m = self.params
        q = self.project(views[0])
        k = self.keys(views[1])
        # a snapshot: the matmul's backward needs the queue as it was, and push() overwrites it in place
        loss = infonce(q, k, self.queue.keys.clone(), temperature=m.temperature, normalize=m.normalize)
        self.queue.push(k)
        return loss

    def after_optimizer_step(self, progress: float) -> None:
        m = self.params.momentum
        ema_update(self.key_backbone, self.backbone, m)
        ema_update(self.key_head, self.head, m)
