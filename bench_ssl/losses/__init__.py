"""Contrastive losses, one small function per file.

`LOSSES` names SimCLR's pair losses (`method.loss`, simclr only); the other methods call their own loss
directly: `infonce` (moco, memory_bank, end_to_end), `supcon` (supcon), `normalized_mse` (byol),
`negative_cosine` (simsiam).
"""

from .infonce import infonce
from .margin_triplet import margin_triplet
from .negative_cosine import negative_cosine
from .normalized_mse import normalized_mse
from .nt_logistic import nt_logistic
from .nt_xent import nt_xent
from .supcon import supcon

LOSSES = {"nt_xent": nt_xent, "nt_logistic": nt_logistic, "margin_triplet": margin_triplet}

__all__ = ["LOSSES", "infonce", "margin_triplet", "negative_cosine", "normalized_mse", "nt_logistic", "nt_xent",
           "supcon"]
