"""k-means on the frozen test features (k = the number of classes, the best of several restarts by inertia),
scored against the labels with NMI, ARI and cluster accuracy (clusters matched to classes one-to-one with the
Hungarian algorithm). Nothing is chosen with the labels: k is fixed, and the restart kept is the one with the
lowest inertia, which the labels do not enter. Runs on the training device (features L2-normalised, as the
kNN monitor compares them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..params import param
from ..registry import EVALUATIONS
from .hungarian import max_assignment


@dataclass
class KMeansParams:
    restarts: int = param(10, low=1, help="k-means++ initialisations; the lowest inertia is kept")
    iterations: int = param(100, low=1, help="Lloyd iterations per restart at most (stops when nothing moves)")


@torch.no_grad()
def kmeans(x: torch.Tensor, k: int, restarts: int = 10, iterations: int = 100, seed: int = 0) -> torch.Tensor:
    """Cluster index (N,) of each row of x: Lloyd's algorithm from k-means++ seeds, the best of `restarts`."""
    if k > x.shape[0]:
        raise ValueError(f"k-means with k = {k} needs at least {k} points, got {x.shape[0]}")
    x = x.float()
    g = torch.Generator(device="cpu").manual_seed(seed)
    sq = (x * x).sum(1)
    best, best_inertia = None, math.inf
    for _ in range(restarts):
        centres = x[torch.randint(x.shape[0], (1,), generator=g).to(x.device)]
        for _ in range(1, k):  # k-means++: the next seed drawn in proportion to the squared distance
            d2 = (sq[:, None] - 2 * x @ centres.T + (centres * centres).sum(1)[None]).clamp_min(0).min(1).values
            p = (d2 / d2.sum()).cpu() if d2.sum() > 0 else torch.full((x.shape[0],), 1 / x.shape[0])
            centres = torch.cat([centres, x[torch.multinomial(p, 1, generator=g).to(x.device)]])
        assign = None
        for _ in range(iterations):
            d2 = sq[:, None] - 2 * x @ centres.T + (centres * centres).sum(1)[None]
            new = d2.argmin(1)
            if assign is not None and torch.equal(new, assign):
                break
            assign = new
            counts = torch.bincount(assign, minlength=k).float()
            sums = torch.zeros_like(centres).index_add_(0, assign, x)
            empty = counts == 0
            centres = torch.where(empty[:, None], centres, sums / counts.clamp_min(1)[:, None])
        inertia = (sq - 2 * (x * centres[assign]).sum(1) + (centres[assign] ** 2).sum(1)).sum().item()
        if inertia < best_inertia:
            best, best_inertia = assign.clone(), inertia
    return best


def contingency(labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    _, li = np.unique(labels, return_inverse=True)
    _, ci = np.unique(clusters, return_inverse=True)
    table = np.zeros((li.max() + 1, ci.max() + 1), dtype=np.int64)
    np.add.at(table, (li, ci), 1)
    return table


def nmi(labels, clusters) -> float:
    """Normalised mutual information with the arithmetic mean of the entropies (scikit-learn's default)."""
    t = contingency(np.asarray(labels), np.asarray(clusters)).astype(float)
    n = t.sum()
    pij, pi, pj = t / n, t.sum(1) / n, t.sum(0) / n
    nz = pij > 0
    mi = float((pij[nz] * np.log(pij[nz] / np.outer(pi, pj)[nz])).sum())
    h = lambda p: float(-(p[p > 0] * np.log(p[p > 0])).sum())  # noqa: E731
    denom = (h(pi) + h(pj)) / 2
    return 1.0 if denom == 0 else max(mi, 0.0) / denom


def ari(labels, clusters) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985)."""
    t = contingency(np.asarray(labels), np.asarray(clusters)).astype(float)
    comb = lambda a: a * (a - 1) / 2  # noqa: E731
    index, rows, cols, total = comb(t).sum(), comb(t.sum(1)).sum(), comb(t.sum(0)).sum(), comb(t.sum())
    expected = rows * cols / total if total else 0.0
    top = (rows + cols) / 2
    return 1.0 if top == expected else float((index - expected) / (top - expected))


def cluster_accuracy(labels, clusters) -> float:
    """The fraction right when each cluster is named by the class it is matched to, one-to-one, so as to
    maximise the number right (the Hungarian algorithm on the contingency table)."""
    t = contingency(np.asarray(labels), np.asarray(clusters))
    n = max(t.shape)
    square = np.zeros((n, n), dtype=np.int64)
    square[:t.shape[0], :t.shape[1]] = t
    cols = max_assignment(square)
    return float(square[np.arange(n), cols].sum() / t.sum())


@EVALUATIONS.register("kmeans", KMeansParams)
def kmeans_eval(ctx, p: KMeansParams) -> dict:
    """k-means (k = classes) on frozen test features: NMI, ARI and Hungarian-matched cluster accuracy"""
    _, _, test_f = ctx.features()
    clusters = kmeans(F.normalize(test_f.float(), dim=1), ctx.data.num_classes, p.restarts, p.iterations, ctx.seed)
    y, c = ctx.data.test_y.cpu().numpy(), clusters.cpu().numpy()
    return {"kmeans_nmi": nmi(y, c), "kmeans_ari": ari(y, c), "kmeans_acc": cluster_accuracy(y, c)}


__all__ = ["KMeansParams", "ari", "cluster_accuracy", "kmeans", "nmi"]
