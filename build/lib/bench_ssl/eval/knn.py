"""Weighted kNN classifier on cosine similarity (Wu et al. 2018, InstDisc), the monitor SSL papers use."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import EVALUATIONS


@dataclass
class KNNParams:
    k: int = param(200, low=1, help="neighbours that vote")
    t: float = param(0.1, low=0.0, low_open=True, help="temperature of the exp(sim / t) votes")


@torch.no_grad()
def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor, num_classes: int,
                k: int = KNNParams.k, t: float = KNNParams.t, chunk: int = 1024) -> torch.Tensor:
    """Class scores (M, C): each of the k most similar train samples votes exp(sim / t) for its label."""
    train = F.normalize(train_feats.float(), dim=1)
    test = F.normalize(test_feats.float(), dim=1)
    k = min(k, train.shape[0])
    scores = []
    for start in range(0, test.shape[0], chunk):
        sim = test[start:start + chunk] @ train.T
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], num_classes, device=sim.device)
        votes.scatter_add_(1, train_labels[top_idx], (top_sim / t).exp())
        scores.append(votes)
    return torch.cat(scores)


def knn_accuracy(train_feats, train_labels, test_feats, test_labels, num_classes: int, k: int = KNNParams.k,
                 t: float = KNNParams.t) -> float:
    """Top-1 accuracy (fraction) of the weighted kNN classifier."""
    scores = knn_predict(train_feats, train_labels, test_feats, num_classes, k=k, t=t)
    return (scores.argmax(1) == test_labels).float().mean().item()


@EVALUATIONS.register("knn", KNNParams)
def knn(ctx, p: KNNParams) -> dict:
    """Weighted kNN top-1 on cosine similarity of frozen features (InstDisc's monitor)"""
    train_f, train_y, test_f = ctx.features()
    return {"knn_top1": knn_accuracy(train_f, train_y, test_f, ctx.data.test_y, ctx.data.num_classes, k=p.k, t=p.t)}
