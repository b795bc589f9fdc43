"""Exact t-SNE (van der Maaten & Hinton 2008) in torch, on the training device: perplexity-matched Gaussian
affinities found by bisection (all rows at once), Student-t similarities in 2-D, early exaggeration, momentum
and per-coordinate gains, as in the reference implementation. O(N²), which is what a picture of a thousand or
two test images needs; no extra dependency."""

from __future__ import annotations

import math

import torch


def affinities(x: torch.Tensor, perplexity: float, steps: int = 64) -> torch.Tensor:
    """Symmetric P (N, N), sum 1: (P_j|i + P_i|j) / 2N of the conditional rows."""
    p = conditional(x, perplexity, steps)
    return ((p + p.T) / (2 * x.shape[0])).clamp_min(1e-12)


def conditional(x: torch.Tensor, perplexity: float, steps: int = 64) -> torch.Tensor:
    """P_j|i (N, N), rows summing to 1: each row's Gaussian bandwidth chosen so its entropy is log(perplexity)."""
    n = x.shape[0]
    d2 = torch.cdist(x, x).pow(2)
    d2.fill_diagonal_(float("inf"))
    target = math.log(min(perplexity, n - 1))
    lo = torch.full((n, 1), 1e-20, device=x.device, dtype=x.dtype)
    hi = torch.full((n, 1), 1e20, device=x.device, dtype=x.dtype)
    beta = torch.ones(n, 1, device=x.device, dtype=x.dtype)
    finite = d2[torch.isfinite(d2)]
    scale = finite.median() if finite.numel() else torch.tensor(1.0)
    d2 = d2 / scale.clamp_min(1e-12)
    for _ in range(steps):
        logits = -d2 * beta
        p = torch.softmax(logits, 1)
        entropy = -(p * torch.log(p.clamp_min(1e-30))).sum(1, keepdim=True)
        too_flat = entropy > target  # too wide: raise beta
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(hi < 1e19, (lo + hi) / 2, beta * 2)
    return torch.softmax(-d2 * beta, 1)


def tsne(x: torch.Tensor, perplexity: float = 30.0, iterations: int = 750, seed: int = 0,
         pca_dim: int = 50) -> torch.Tensor:
    """(N, D) -> (N, 2)."""
    x = x.double()
    x = x - x.mean(0)
    if x.shape[1] > pca_dim:  # as the reference: PCA first, for speed and to drop noise
        _, _, v = torch.linalg.svd(x, full_matrices=False)
        x = x @ v[:pca_dim].T
    n = x.shape[0]
    p = affinities(x, perplexity)
    g = torch.Generator(device="cpu").manual_seed(seed)
    y = (1e-4 * torch.randn(n, 2, generator=g, dtype=torch.float64)).to(x.device)
    velocity, gains = torch.zeros_like(y), torch.ones_like(y)
    lr = max(n / 12 / 4, 50.0)
    for it in range(iterations):
        exaggeration = 12.0 if it < 250 else 1.0
        momentum = 0.5 if it < 250 else 0.8
        diff = y[:, None, :] - y[None, :, :]
        w = 1 / (1 + diff.pow(2).sum(-1))
        w.fill_diagonal_(0)
        q = (w / w.sum()).clamp_min(1e-12)
        grad = 4 * (((exaggeration * p - q) * w)[:, :, None] * diff).sum(1)
        same = torch.sign(grad) == torch.sign(velocity)
        gains = torch.where(same, gains * 0.8, gains + 0.2).clamp_min(0.01)
        velocity = momentum * velocity - lr * gains * grad
        y = y + velocity
        y = y - y.mean(0)
    return y.float()


def kl_divergence(p: torch.Tensor, y: torch.Tensor) -> float:
    """KL(P || Q) of an embedding: what t-SNE minimises."""
    diff = y.double()[:, None, :] - y.double()[None, :, :]
    w = 1 / (1 + diff.pow(2).sum(-1))
    w.fill_diagonal_(0)
    q = (w / w.sum()).clamp_min(1e-12)
    p = p.double()
    return float((p * torch.log(p / q)).sum())


__all__ = ["affinities", "conditional", "kl_divergence", "tsne"]
