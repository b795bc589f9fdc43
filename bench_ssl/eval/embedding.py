"""A t-SNE picture of the frozen test features: a class-balanced sample of test images (`points`, fixed by the
run's seed) embedded in 2-D, saved as `embedding.json` in the run folder (x, y and class per point, with the
class names), which the report draws coloured by class. The result holds the file's name, the number of
points, and the fraction of points whose 10 nearest neighbours in 2-D are mostly of their own class (what
the eye reads as "separated", as a number)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import EVALUATIONS
from .tsne import tsne

FILE = "embedding.json"


@dataclass
class EmbeddingParams:
    points: int = param(1000, low=10, help="test images embedded (class-balanced; at most the test set)")
    perplexity: float = param(30.0, low=1.0, help="t-SNE's effective number of neighbours")
    iterations: int = param(750, low=251, help="t-SNE gradient steps (the first 250 exaggerated)")


def balanced_sample(y: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Sorted indices of about n rows, the same number from every class (as many as a class has, at most)."""
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(y.cpu())
    per = max(1, n // len(classes))
    out = []
    for c in classes.tolist():
        idx = (y.cpu() == c).nonzero().squeeze(1)
        out.append(idx[torch.randperm(len(idx), generator=g)[:per]])
    return torch.cat(out).sort().values


def neighbour_agreement(y2: torch.Tensor, labels: torch.Tensor, k: int = 10) -> float:
    """Fraction of points whose k nearest neighbours in the embedding are mostly of their own class."""
    d = torch.cdist(y2.float(), y2.float())
    d.fill_diagonal_(float("inf"))
    nn_idx = d.topk(min(k, len(labels) - 1), largest=False).indices
    same = (labels[nn_idx] == labels[:, None]).float().mean(1)
    return float((same > 0.5).float().mean())


@EVALUATIONS.register("embedding", EmbeddingParams)
def embedding(ctx, p: EmbeddingParams) -> dict:
    """t-SNE of frozen test features (class-balanced sample), saved for the report's picture"""
    _, _, test_f = ctx.features()
    labels = ctx.data.test_y
    rows = balanced_sample(labels, p.points, ctx.seed).to(test_f.device)
    feats = F.normalize(test_f[rows].float(), dim=1)
    y2 = tsne(feats, p.perplexity, p.iterations, ctx.seed)
    chosen = labels[rows]
    out = {"embedding_points": int(len(rows)), "embedding_neighbour_agreement": neighbour_agreement(y2, chosen)}
    if ctx.run_dir is not None:
        ctx.run_dir.write_json(ctx.run_dir.path / FILE, {
            "method": "t-SNE", "perplexity": p.perplexity, "iterations": p.iterations, "classes": list(ctx.data.classes),
            "x": [round(float(v), 3) for v in y2[:, 0]], "y": [round(float(v), 3) for v in y2[:, 1]],
            "label": [int(v) for v in chosen]})
        out["embedding_file"] = FILE
    return out


__all__ = ["FILE", "EmbeddingParams", "balanced_sample", "neighbour_agreement"]
