"""Jigsaw puzzles (Noroozi & Favaro 2016): the image cut into grid x grid tiles, the tiles shuffled by one of P
fixed permutations, a shared tile encoder (the backbone, on each tile alone), and a classifier on the
concatenated tile features names the permutation.

The permutation set is chosen as in the paper, greedily, each new permutation the one farthest (in Hamming
distance) from those already chosen, here maximising the minimum distance; from every permutation when there
are at most 9 tiles, else from 20,000 random candidates; fixed by `permutation_seed`, not by the run's seed, so
every run solves the same task. Simplified at CIFAR resolution: the default grid is 4 x 4 tiles of 8 pixels
(3 x 3, the paper's, needs an image size divisible by 3, e.g. data.image_size=36); tiles are cut `gap` pixels
smaller than their cell at a random offset (the paper: 64 of 75 pixels) and zero-padded back; no colour
jitter per tile; the tile features are the backbone's pooled output (the paper's fc6 of AlexNet)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from ..params import param
from ..registry import METHODS
from .base import Method
from .tiles import cut_tiles, encode

CANDIDATES = 20_000  # random candidates for more than 9 tiles (16! is too many to enumerate)


@dataclass
class JigsawParams:
    grid: int = param(4, low=2, high=8, help="tiles per side (grid x grid tiles); must divide the image size")
    permutations: int = param(100, low=2, help="P: the classes, permutations of maximal Hamming distance")
    gap: int = param(1, low=0, help="pixels a tile is cut smaller than its cell, at a random offset")
    hidden_dim: int = param(512, low=1, help="width of the classifier's hidden layer")
    permutation_seed: int = param(0, help="which permutation set (fixed across runs; not the run's seed)")

    def check(self, where: str, cfg) -> None:
        tiles = self.grid * self.grid
        if tiles <= 9 and self.permutations > math.factorial(tiles):
            raise ConfigError(f"{where}.permutations: {self.permutations} is more than the {math.factorial(tiles)} "
                              f"orders of {tiles} tiles; use at most {math.factorial(tiles)}")
        size = getattr(getattr(cfg, "data", None), "image_size", None)
        if size:
            from .tiles import cell_size

            cell_size(size, self.grid, f"{where}.grid")


def hamming_permutations(n: int, count: int, seed: int = 0) -> np.ndarray:
    """(count, n) distinct permutations of range(n), chosen greedily to maximise the minimum pairwise Hamming
    distance; the first is the identity."""
    rng = np.random.default_rng(seed)
    if n <= 9:
        pool = np.array(list(itertools.permutations(range(n))), dtype=np.int8)
    else:
        pool = np.unique(np.array([rng.permutation(n) for _ in range(CANDIDATES)], dtype=np.int8), axis=0)
        pool = np.concatenate([np.arange(n, dtype=np.int8)[None], pool])
    if count > len(pool):
        raise ConfigError(f"method.permutations: {count} is more than the {len(pool)} candidates; use fewer")
    chosen = [0 if n > 9 else int(np.flatnonzero((pool == np.arange(n)).all(1))[0])]
    nearest = (pool != pool[chosen[0]]).sum(1)  # each candidate's distance to the closest chosen one
    for _ in range(count - 1):
        best = np.flatnonzero(nearest == nearest.max())
        pick = int(best[rng.integers(len(best))])
        chosen.append(pick)
        nearest = np.minimum(nearest, (pool != pool[pick]).sum(1))
    return pool[chosen].astype(np.int64)


def min_hamming(perms: np.ndarray) -> int:
    d = (perms[:, None, :] != perms[None, :, :]).sum(2)
    return int(d[~np.eye(len(perms), dtype=bool)].min())


def shuffle_tiles(tiles: torch.Tensor, perms: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """tiles (B, T, ...) -> position i of image b holds tile perms[labels[b], i]."""
    order = perms[labels]  # (B, T)
    index = order.view(*order.shape, *([1] * (tiles.dim() - 2))).expand_as(tiles)
    return tiles.gather(1, index)


@METHODS.register("jigsaw", JigsawParams)
class Jigsaw(Method):
    """Name which of P fixed permutations shuffled the image's tiles (shared tile encoder)"""

    n_views = 1
    uses_head = False  # the permutation classifier replaces the head

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        p = self.params
        tiles = p.grid * p.grid
        self.register_buffer("perms", torch.from_numpy(hamming_permutations(tiles, p.permutations, p.permutation_seed)))
        self.classifier = nn.Sequential(nn.Linear(tiles * self.backbone.out_dim, p.hidden_dim), nn.ReLU(inplace=True),
                                        nn.Linear(p.hidden_dim, p.permutations))

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        x = views[0]
        b = x.shape[0]
        tiles = cut_tiles(x, self.params.grid, self.params.gap, "method.grid")
        target = torch.randint(0, self.params.permutations, (b,), device=x.device)
        shuffled = shuffle_tiles(tiles, self.perms, target)
        t = shuffled.shape[1]
        feats = encode(self.backbone, shuffled.flatten(0, 1), "method.grid").view(b, t * self.backbone.out_dim)
        return F.cross_entropy(self.classifier(feats).float(), target)
