"""Self-supervised methods, one file each over a shared base, chosen by name (`method.name`)."""

# registration order is the order `method.name`'s allowed values are listed in
from . import simclr, moco, memory_bank, end_to_end, supcon, supervised, byol, simsiam  # noqa: F401, I001
from .base import METHODS, Method, build_method, register

__all__ = ["METHODS", "Method", "build_method", "register"]
