"""Speed benchmark: the standard DataLoader recipe vs our on-device pipeline vs compute only, and packing."""

from ..lazy import exports

__getattr__ = exports(__name__, {"compare": "compare", "packing": "packing"})

__all__ = ["compare", "packing"]
