"""Published numbers the reports compare against: one CSV per paper table or figure, copied verbatim from
the papers' text or figure labels (see data/README.md). `load(name)` returns one as a DataFrame."""

from __future__ import annotations

from importlib import resources

import pandas as pd


def names() -> list[str]:
    """The packaged tables, e.g. ['moco_fig3_mechanisms_vs_K', 'simclr_fig5_aug_pairs', ...]."""
    return sorted(p.name[:-4] for p in resources.files(__package__).joinpath("data").iterdir() if p.name.endswith(".csv"))


def load(name: str) -> pd.DataFrame:
    """The published table `name` (without .csv); every row has `confidence` and `source` columns."""
    path = resources.files(__package__).joinpath("data", f"{name}.csv")
    if not path.is_file():
        raise FileNotFoundError(f"no published table {name!r}; packaged: {', '.join(names())}")
    with path.open() as f:
        return pd.read_csv(f, dtype=str, keep_default_na=False)


__all__ = ["load", "names"]
