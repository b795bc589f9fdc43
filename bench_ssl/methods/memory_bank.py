"""Memory-bank mechanism of MoCo Fig. 2b/3, InstDisc-style (Wu et al. 2018), with the InfoNCE loss.

The bank holds one feature per training image. A query (one augmented view) takes its image's stored
feature as the positive and K stored features of other images as negatives; afterwards the entry is
refreshed, v <- normalize(b v + (1 - b) q) with b = `bank_momentum` (0.5 in InstDisc). The K negatives
are drawn uniformly, without replacement, from the images outside the batch once per step and shared by
its queries: each query still meets K random negatives, while per-query draws would gather N*K*D
floats (8 GB at K = 65536). Same encoder, head and InfoNCE loss as `moco` and `end_to_end`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..distributed import all_gather
from ..errors import ConfigError
from ..losses import InfoNCEParams, infonce
from ..params import param
from ..registry import METHODS
from .base import Method


@dataclass
class MemoryBankParams(InfoNCEParams):  # temperature, normalize: InfoNCE's
    num_negatives: int = param(4096, low=1, help="K stored features drawn as negatives per step")
    bank_momentum: float = param(0.5, low=0.0, high=1.0, help="v <- normalize(b v + (1 - b) q) when the image is seen")


@METHODS.register("memory_bank", MemoryBankParams)
class MemoryBank(Method):
    """InstDisc's memory bank (MoCo Fig. 3's second mechanism) with the InfoNCE loss"""

    n_views = 1

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        self.num_negatives = self.params.num_negatives
        room = num_train - cfg.optim.batch_size
        if self.num_negatives > room:
            raise ConfigError(
                f"method.num_negatives: {self.num_negatives} negatives per step is more than the {room} images outside "
                f"a batch ({num_train} training images - optim.batch_size {cfg.optim.batch_size}); use at most {room}"
            )
        self.register_buffer("bank", F.normalize(torch.randn(num_train, self.head.out_dim), dim=1))

    @torch.no_grad()
    def sample_negatives(self, index: torch.Tensor) -> torch.Tensor:
        """K distinct bank rows drawn uniformly from those not in `index`, without a host sync: the K
        smallest of uniform scores, the batch's rows scored out of reach."""
        score = torch.rand(self.bank.shape[0], device=self.bank.device)
        score[index] = 2.0
        return score.topk(self.num_negatives, largest=False).indices

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        m = self.params
        q = self.project(views[0]).float()
        if m.normalize:
            q = F.normalize(q, dim=1)
        everyone = all_gather(index)  # the whole batch's images, from every rank
        negatives = self.sample_negatives(everyone)
        loss = infonce(q, self.bank[index], self.bank[negatives], temperature=m.temperature, normalize=m.normalize)
        with torch.no_grad():  # every rank refreshes the whole batch's entries: the banks of all ranks stay equal
            fresh = m.bank_momentum * self.bank[everyone] + (1.0 - m.bank_momentum) * all_gather(q.detach())
            self.bank.index_copy_(0, everyone, F.normalize(fresh, dim=1) if m.normalize else fresh)
        return loss
