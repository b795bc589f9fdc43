"""Class-balanced subsets: the few-labels linear/kNN evaluations (e.g. 10 or 100 labels per class)."""

from __future__ import annotations

import numpy as np

from bench_ssl.errors import DatasetError


def class_balanced_subset(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted int64 indices into `y` with exactly `per_class` examples of every class.

    Negative labels (STL-10 unlabeled images) are not a class and are never picked. The same
    (y, per_class, seed) always gives the same indices; a class with too few examples is an error
    rather than a silently unbalanced subset.
    """
    y = np.asarray(y)
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise DatasetError(f"per_class must be a positive integer, got {per_class!r}")
    rng = np.random.default_rng(seed)
    picked = []
    for cls in np.unique(y[y >= 0]):
        idx = np.flatnonzero(y == cls)
        if len(idx) < per_class:
            raise DatasetError(
                f"class {int(cls)} has only {len(idx)} labelled examples, fewer than per_class={per_class}; "
                "lower the per-class count"
            )
        picked.append(rng.choice(idx, size=per_class, replace=False))
    if not picked:
        raise DatasetError("no labelled examples (all labels are negative) for a class-balanced subset")
    return np.sort(np.concatenate(picked)).astype(np.int64)
