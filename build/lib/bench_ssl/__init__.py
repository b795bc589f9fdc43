"""bench_ssl: benchmark self-supervised contrastive learning (SimCLR, MoCo, SupCon, ...) on one GPU or a cluster."""

__version__ = "0.1.0"
