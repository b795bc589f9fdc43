"""The 2N x 2N similarity layout shared by SimCLR's losses: view i of sample n pairs with the other view of n
(over the whole batch, gathered from every rank, in a run of several)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..distributed import all_gather_grad, rank_rows


def pair_similarities(z1: torch.Tensor, z2: torch.Tensor, normalize: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (sim, positive_index, negative_mask) of this rank's anchors against all 2N stacked projections.

    sim[a, b] is the dot product (cosine if normalize) of anchor a and projection b, in float32 whatever the
    autocast dtype, because the losses exponentiate it. The columns are [z1; z2] of the whole batch, gathered
    from every rank (with gradients) in a run of several; the rows are this rank's own 2n anchors, so each
    rank's mean over its rows averages, over the ranks, to the mean over all 2N. The positive of the anchor
    at column c is column c+N mod 2N; its negatives are every other column except itself.
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must both be (N, D); got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = z1.shape[0]
    z = torch.cat([all_gather_grad(z1), all_gather_grad(z2)]).float()
    if normalize:
        z = F.normalize(z, dim=1)
    n2 = z.shape[0]
    if n2 == 2 * n:  # one rank: every anchor is ours
        columns = torch.arange(n2, device=z.device)
        sim = z @ z.T
    else:
        mine = torch.arange(rank_rows(n).start, rank_rows(n).stop, device=z.device)
        columns = torch.cat([mine, mine + n2 // 2])
        sim = z[columns] @ z.T
    rows = torch.arange(columns.shape[0], device=z.device)
    positive = (columns + n2 // 2) % n2
    negative = torch.ones(columns.shape[0], n2, dtype=torch.bool, device=z.device)
    negative[rows, columns] = False
    negative[rows, positive] = False
    return sim, positive, negative


def itself_mask(sim: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Each anchor's own column in `sim` (the column half the batch away from its positive)."""
    n2 = sim.shape[1]
    mask = torch.zeros_like(sim, dtype=torch.bool)
    mask[torch.arange(sim.shape[0], device=sim.device), (positive + n2 // 2) % n2] = True
    return mask


def semi_hard_mask(sim: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Negatives no more similar to the anchor than its positive (harder ones are dropped)."""
    pos = sim.gather(1, positive[:, None])
    return negative & (sim < pos)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row-wise mean of values where mask is set; a row with no entry counts 0."""
    total = (values * mask).sum(1)
    return total / mask.sum(1).clamp(min=1)
