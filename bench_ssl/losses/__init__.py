"""Contrastive losses, one small function per file, plus a registry so configs name them."""

from .margin_triplet import margin_triplet
from .nt_logistic import nt_logistic
from .nt_xent import nt_xent

LOSSES = {"nt_xent": nt_xent, "nt_logistic": nt_logistic, "margin_triplet": margin_triplet}

__all__ = ["LOSSES", "margin_triplet", "nt_logistic", "nt_xent"]
