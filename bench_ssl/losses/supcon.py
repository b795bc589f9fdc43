"""Supervised contrastive loss (Khosla et al. 2020): every same-class sample in the batch is a positive.

Two placements of the 1/|P(i)| average (SupCon Table 1): L_out (outside the log, the one that trains
well) and L_in (inside). With one sample per class the only positive is the other view, and both equal
NT-Xent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..distributed import all_gather, all_gather_grad, rank_rows
from ..params import param

VARIANTS = ("out", "in")


@dataclass
class SupConParams:
    temperature: float = param(0.5, low=0.0, low_open=True, help="tau of the softmax (SupCon: 0.1)")
    normalize: bool = param(True, help="l2-normalise the projections")
    supcon_variant: str = param("out", choices=VARIANTS, help="out = L_out^sup (averaged outside the log), in = L_in^sup")
    max_positives: int | None = field(default=None, metadata={  # left out of the config when unset: run ids unchanged
        **param(None, low=1).metadata, "omit_none": True,
        "help": "each anchor's positives capped (SupCon Table 5): its other views always, then same-class samples "
                "drawn at random; none: every same-class sample"})


P = SupConParams


def positives(labels: torch.Tensor, views: int, max_positives: int | None = None,
              generator: torch.Generator | None = None, rows: torch.Tensor | None = None) -> torch.Tensor:
    """(A, N*V) bool: the positives of anchors `rows` (all N*V when None) among the N*V samples, view-major (a is
    view a // N of sample a % N). Every other sample with its label; with `max_positives`, its own other views
    and then at most max_positives - (V - 1) same-class samples of other images, drawn uniformly per anchor (so
    1 with two views is SimCLR's positive)."""
    n = labels.shape[0]
    lab = labels.repeat(views)
    rows = torch.arange(views * n, device=labels.device) if rows is None else rows
    itself = rows[:, None] == torch.arange(views * n, device=labels.device)[None, :]
    positive = (lab[rows][:, None] == lab[None, :]) & ~itself
    if max_positives is None:
        return positive
    sample = torch.arange(n, device=labels.device).repeat(views)
    own = (sample[rows][:, None] == sample[None, :]) & ~itself
    others = positive & ~own
    scores = torch.rand(others.shape, generator=generator, device=labels.device).masked_fill(~others, -1.0)
    rank = scores.argsort(dim=1, descending=True).argsort(dim=1)  # 0 for the anchor's first drawn candidate
    budget = (max_positives - own.sum(1)).clamp(min=0)
    return own | (others & (rank < budget[:, None]))


def supcon(z: torch.Tensor, labels: torch.Tensor, temperature: float = P.temperature, variant: str = P.supcon_variant,
           normalize: bool = P.normalize, max_positives: int | None = P.max_positives) -> torch.Tensor:
    """Mean over the N*V anchors of the SupCon loss; z: (N, V, D) holds V views of N samples, labels: (N,).

    Each anchor's softmax runs over all N*V-1 other samples (itself excluded); its positives are the
    other samples with its label (at most `max_positives` of them: see `positives`). Anchors without any
    positive (possible only with V=1) are left out of the mean. In a run of several ranks, z and labels are
    this rank's part of the batch: the samples are gathered from every rank and the mean runs over this
    rank's anchors.
    """
    if z.dim() != 3 or labels.shape != z.shape[:1]:
        raise ValueError(f"z must be (N, V, D) and labels (N,); got {tuple(z.shape)} and {tuple(labels.shape)}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    local, v, d = z.shape
    z, labels = all_gather_grad(z), all_gather(labels.to(z.device))  # the whole batch, from every rank
    n = z.shape[0]
    f = z.float().transpose(0, 1).reshape(v * n, d)  # view-major: anchor a is view a // n of sample a % n
    if normalize:
        f = F.normalize(f, dim=1)
    mine = torch.arange(rank_rows(local).start, rank_rows(local).stop, device=f.device)
    rows = (mine[None, :] + n * torch.arange(v, device=f.device)[:, None]).reshape(-1)  # this rank's anchors
    itself = rows[:, None] == torch.arange(v * n, device=f.device)[None, :]
    logits = (f[rows] @ f.T / temperature).masked_fill(itself, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = positives(labels, v, max_positives, rows=rows)
    n_pos = positive.sum(1)
    has_pos = n_pos > 0
    if variant == "out":  # -1/|P| sum_p log p_ip
        per_anchor = -log_prob.masked_fill(~positive, 0.0).sum(1) / n_pos.clamp(min=1)
    else:  # -log(1/|P| sum_p p_ip)
        pos_log_prob = log_prob.masked_fill(~positive, float("-inf"))
        pos_log_prob = torch.where(has_pos[:, None], pos_log_prob, torch.zeros_like(pos_log_prob))
        per_anchor = torch.log(n_pos.clamp(min=1).float()) - torch.logsumexp(pos_log_prob, dim=1)
    per_anchor = torch.where(has_pos, per_anchor, torch.zeros_like(per_anchor))
    return per_anchor.sum() / has_pos.sum().clamp(min=1)
