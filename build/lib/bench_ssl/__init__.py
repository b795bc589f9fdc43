"""bench_ssl: benchmark self-supervised contrastive learning (SimCLR, MoCo, SupCon, ...) on one GPU or a cluster."""

from .lazy import exports

__version__ = "0.1.0"
__getattr__ = exports(__name__, {"load_backbone": "export"})
