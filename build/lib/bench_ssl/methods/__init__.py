"""Self-supervised methods, one file each, registered by name (`method.name`) with the parameters they take."""

from ..registry import METHODS
from .base import Method, build_method

__all__ = ["METHODS", "Method", "build_method"]
