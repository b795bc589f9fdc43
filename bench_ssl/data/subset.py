"""Subsets of a dataset: class-balanced ones (the few-labels evaluations, e.g. 10 or 100 labels per class) and
a selection of its classes (data.classes)."""

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


def select_classes(y: np.ndarray, names: list[str], wanted: list[str], key: str = "data.classes") -> tuple[np.ndarray, np.ndarray]:
    """(indices into `y` of the images of the `wanted` classes, their labels renumbered 0..k-1 in `wanted`'s order).
    Unlabelled images (label < 0, STL-10's) are kept as they are: they may show any class."""
    from bench_ssl.errors import ConfigError
    from bench_ssl.params import suggest

    names = [str(n) for n in names]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ConfigError(f"{key}: {unknown[0]!r} is not a class of this dataset{suggest(unknown[0], names)}; its classes: "
                          f"{', '.join(names[:20])}{', ...' if len(names) > 20 else ''}")
    if len(set(wanted)) != len(wanted):
        twice = next(w for w in wanted if wanted.count(w) > 1)
        raise ConfigError(f"{key}: {twice!r} is listed twice; name each class once")
    new = np.full(len(names), -2, dtype=np.int64)  # -2: a class left out
    for i, w in enumerate(wanted):
        new[names.index(w)] = i
    y = np.asarray(y)
    relabelled = np.where(y >= 0, new[np.clip(y, 0, None)], y)
    idx = np.flatnonzero(relabelled != -2)
    return idx.astype(np.int64), relabelled[idx]
