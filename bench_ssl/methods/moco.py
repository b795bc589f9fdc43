"""MoCo v1/v2 (He et al. 2020, Chen et al. 2020): a momentum key encoder and a queue of K negatives.

The query encoder is `backbone` + `head` (trained, and evaluated); the key encoder is an EMA copy,
theta_k <- m theta_k + (1 - m) theta_q after every optimiser step (m = 0: a plain copy, the collapse
MoCo Table 1 reports). Keys of each batch enter the queue after the loss. v2 is config only: an MLP
head, `blur` in the augmentations, the cosine schedule and temperature 0.2.

Shuffling BN: with `shuffle_bn`, every BN layer of both encoders normalises `bn_splits` sub-batches
separately (as that many GPUs would; with several ranks, each rank holds bn_splits / ranks of them), and the
key batch is permuted before the key encoder and un-permuted after (across ranks when there are several),
so a query and its key never share BN statistics by construction; without it, the model can cheat through
batch statistics (MoCo Sec. 3.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..distributed import all_gather, broadcast, rank_rows, world
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
    bn_splits: int = param(8, low=1, help="BN sub-batches ('GPUs') of the whole batch with shuffle_bn; divides "
                                          "optim.batch_size; with several ranks, each holds bn_splits / ranks of them")

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
        ranks = cfg.train.world_size
        if self.shuffle_bn and self.bn_splits % ranks:
            raise ConfigError(
                f"{where}.bn_splits: {self.bn_splits} BN sub-batches do not spread evenly over {ranks} ranks "
                f"(train.devices x train.nodes); use a multiple of {ranks}, e.g. {ranks * max(1, self.bn_splits // ranks)}")


@METHODS.register("moco", MoCoParams)
class MoCo(Method):
    """MoCo v1/v2: a momentum key encoder and a queue of K negatives"""

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        m = self.params
        self.bn_splits = m.bn_splits // world().size if m.shuffle_bn else 1  # the sub-batches on this rank
        if self.bn_splits > 1:
            convert_split_bn(self.backbone, self.bn_splits)
            convert_split_bn(self.head, self.bn_splits)
        self.key_backbone = frozen_copy(self.backbone)
        self.key_head = frozen_copy(self.head)
        self.queue = KeyQueue(m.queue_size, self.head.out_dim)

    @torch.no_grad()
    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """Key-encoder projections of x, in x's order; computed on a shuffled batch when shuffling BN. With
        several ranks the whole batch is shuffled across them (MoCo's batch_shuffle_ddp: rank 0's permutation),
        so a rank's BN statistics mix images of every rank."""
        encode = lambda images: self.key_head(self.key_backbone(images))  # noqa: E731
        if not world().distributed:
            return self.finish_keys(encode(self.shuffle_keys(x)))
        if not self.params.shuffle_bn:
            return self.finish_keys(encode(x))
        everyone = all_gather(x)
        perm = broadcast(torch.randperm(everyone.shape[0], device=x.device))
        mine = rank_rows(x.shape[0])
        return self.finish_keys(all_gather(encode(everyone[perm[mine]]))[torch.argsort(perm)][mine])

    def shuffle_keys(self, x: torch.Tensor) -> torch.Tensor:
        """The key batch in the order the key encoder sees it on one device (a fresh permutation with shuffle_bn)."""
        self._perm = torch.randperm(x.shape[0], device=x.device) if self.params.shuffle_bn else None
        return x if self._perm is None else x[self._perm]

    def finish_keys(self, k: torch.Tensor) -> torch.Tensor:
        """Key-encoder outputs back in the batch's order, in float32, normalised when the loss is cosine."""
        if getattr(self, "_perm", None) is not None:
            k, self._perm = k[torch.argsort(self._perm)], None
        k = k.float()
        return F.normalize(k, dim=1) if self.params.normalize else k

    fusable = True
    fused_encoders = ("online", "key")

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return self.contrast(self.project(views[0]), self.keys(views[1]))

    def contrast(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        m = self.params
        # a snapshot: the matmul's backward needs the queue as it was, and push() overwrites it in place
        loss = infonce(q, k, self.queue.keys.clone(), temperature=m.temperature, normalize=m.normalize)
        self.queue.push(all_gather(k))  # every rank's keys, in rank order: the queues of all ranks stay equal
        return loss

    def encoders(self) -> dict[str, torch.nn.Module]:
        return {"online": torch.nn.Sequential(self.backbone, self.head),
                "key": torch.nn.Sequential(self.key_backbone, self.key_head)}

    def fused_inputs(self, views, labels, index) -> dict[str, torch.Tensor]:
        return {"online": views[0], "key": self.shuffle_keys(views[1])}

    def fused_loss(self, encoded, views, labels, index) -> torch.Tensor:
        return self.contrast(encoded["online"], self.finish_keys(encoded["key"]))

    def after_optimizer_step(self, progress: float) -> None:
        m = self.params.momentum
        ema_update(self.key_backbone, self.backbone, m)
        ema_update(self.key_head, self.head, m)
