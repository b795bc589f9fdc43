"""Self-supervised methods, one file each over a shared base, chosen by name (`method.name`)."""

from . import simclr  # noqa: F401  (registers itself)
from .base import METHODS, Method, build_method, register

__all__ = ["METHODS", "Method", "build_method", "register"]
