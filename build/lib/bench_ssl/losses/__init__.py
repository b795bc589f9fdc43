"""Contrastive losses, one small function per file.

SimCLR's pair losses (`method.loss`: nt_xent, nt_logistic, margin_triplet) register in
`bench_ssl.registry.LOSSES` with their parameters; the other methods call their own loss directly, with the
parameters declared beside it: `infonce` (moco, memory_bank, end_to_end), `supcon` (supcon), `normalized_mse`
(byol), `negative_cosine` (simsiam).
"""

from ..registry import LOSSES
from .infonce import InfoNCEParams, infonce
from .margin_triplet import MarginTripletParams, margin_triplet
from .negative_cosine import negative_cosine
from .normalized_mse import normalized_mse
from .nt_logistic import NTLogisticParams, nt_logistic
from .nt_xent import NTXentParams, nt_xent
from .supcon import SupConParams, supcon

__all__ = ["LOSSES", "InfoNCEParams", "MarginTripletParams", "NTLogisticParams", "NTXentParams", "SupConParams",
           "infonce", "margin_triplet", "negative_cosine", "normalized_mse", "nt_logistic", "nt_xent", "supcon"]
