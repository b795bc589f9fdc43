"""InfoNCE as MoCo writes it: each query's positive key against K negatives, softmax cross-entropy.

One function serves the three mechanisms of MoCo Fig. 3, so a sweep over K compares only how the
negatives are obtained: a queue (MoCo), keys sampled from a memory bank, or the other keys of the batch
(end-to-end, `queue=None`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..distributed import all_gather_grad, rank_rows
from ..params import param


@dataclass
class InfoNCEParams:
    """The parameters of the three mechanisms' loss (moco, memory_bank and end_to_end take them)."""

    temperature: float = param(0.5, low=0.0, low_open=True, help="tau of the softmax (MoCo: 0.07 v1, 0.2 v2)")
    normalize: bool = param(True, help="l2-normalise queries and keys (stored keys too) before dot products")


def infonce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor | None,
            temperature: float = InfoNCEParams.temperature, normalize: bool = InfoNCEParams.normalize) -> torch.Tensor:
    """Mean over the N queries of -log softmax([q.k+, q.k-_1..K] / temperature)[0] (positive first).

    q, k: (N, D), k[n] the positive key of q[n]; queue: (K, D) negatives shared by all queries, or None
    for in-batch negatives (the other N-1 keys of the whole batch, every rank's: K = N-1). normalize: cosine similarities (queue rows
    included). Computed in float32 whatever the autocast dtype, because it exponentiates.
    """
    if q.dim() != 2 or q.shape != k.shape:
        raise ValueError(f"q and k must both be (N, D); got {tuple(q.shape)} and {tuple(k.shape)}")
    if queue is not None and (queue.dim() != 2 or queue.shape[1] != q.shape[1]):
        raise ValueError(f"queue must be (K, {q.shape[1]}); got {tuple(queue.shape)}")
    q, k = q.float(), k.float()
    if normalize:
        q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    if queue is None:  # row n: its own key, the batch's other N-1 keys (gathered from every rank) as negatives
        logits = q @ all_gather_grad(k).T
        target = torch.arange(rank_rows(q.shape[0]).start, rank_rows(q.shape[0]).stop, device=q.device)
    else:
        queue = queue.float()
        if normalize:
            queue = F.normalize(queue, dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.T], dim=1)
        target = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits / temperature, target)
