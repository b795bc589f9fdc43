"""Lazy package exports (PEP 562), so `--help` of a command does not import torch, pandas or optuna."""

from __future__ import annotations

import importlib


def exports(package: str, names: dict[str, str]):
    """A module `__getattr__` that imports `names[attr]` (a submodule of `package`) on first use of `attr`."""

    def __getattr__(attr: str):
        if attr not in names:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        return getattr(importlib.import_module(f"{package}.{names[attr]}"), attr)

    return __getattr__
