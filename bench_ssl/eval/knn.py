"""Weighted kNN classifier on cosine similarity (Wu et al. 2018, InstDisc), the monitor SSL papers use."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor, num_classes: int,
                k: int = 200, t: float = 0.1, chunk: int = 1024) -> torch.Tensor:
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


def knn_accuracy(train_feats, train_labels, test_feats, test_labels, num_classes: int, k: int = 200, t: float = 0.1) -> float:
    """Top-1 accuracy (fraction) of the weighted kNN classifier."""
    scores = knn_predict(train_feats, train_labels, test_feats, num_classes, k, t)
    return (scores.argmax(1) == test_labels).float().mean().item()
