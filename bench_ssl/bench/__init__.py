"""Speed benchmark: the standard DataLoader recipe vs our on-device pipeline vs compute only, and packing."""

from .compare import compare
from .packing import packing

__all__ = ["compare", "packing"]
