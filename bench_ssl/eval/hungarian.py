"""The assignment problem (Kuhn-Munkres, O(n³) with potentials): which cluster is which class. Small and
exact, so the clustering evaluation needs no scipy at training time."""

from __future__ import annotations

import numpy as np


def max_assignment(score: np.ndarray) -> np.ndarray:
    """For a square (n, n) score matrix, the column assigned to each row that maximises the total score."""
    cost = -np.asarray(score, dtype=float)
    n = cost.shape[0]
    if cost.shape != (n, n):
        raise ValueError(f"max_assignment needs a square matrix, got {cost.shape}")
    inf = float("inf")
    u, v = np.zeros(n + 1), np.zeros(n + 1)  # potentials of rows and columns (1-based; 0 is the virtual start)
    match = np.zeros(n + 1, dtype=int)  # match[col] = the row that holds it
    way = np.zeros(n + 1, dtype=int)
    for row in range(1, n + 1):
        match[0] = row
        col0 = 0
        minv = np.full(n + 1, inf)
        used = np.zeros(n + 1, dtype=bool)
        while True:  # grow a shortest augmenting path from `row` until it reaches a free column
            used[col0] = True
            r0 = match[col0]
            delta, col1 = inf, 0
            for col in range(1, n + 1):
                if used[col]:
                    continue
                reduced = cost[r0 - 1, col - 1] - u[r0] - v[col]
                if reduced < minv[col]:
                    minv[col], way[col] = reduced, col0
                if minv[col] < delta:
                    delta, col1 = minv[col], col
            for col in range(n + 1):
                if used[col]:
                    u[match[col]] += delta
                    v[col] -= delta
                else:
                    minv[col] -= delta
            col0 = col1
            if match[col0] == 0:
                break
        while col0:  # flip the path
            col1 = way[col0]
            match[col0] = match[col1]
            col0 = col1
    out = np.zeros(n, dtype=int)
    for col in range(1, n + 1):
        out[match[col] - 1] = col - 1
    return out


__all__ = ["max_assignment"]
