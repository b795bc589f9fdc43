"""Several runs of a sweep trained as one fused model (HFTA): `layers` fuses K networks into one, `trainer` trains
K runs through it, each still its own run, and `run` is the command (`python -m bench_ssl.fused CONFIG ...`)."""

from ..lazy import exports

__getattr__ = exports(__name__, {"FusedTrainer": "trainer", "NotFusable": "layers", "fusion_key": "trainer",
                                 "fuse": "layers", "run_fused": "run"})

__all__ = ["FusedTrainer", "NotFusable", "fuse", "fusion_key", "run_fused"]
