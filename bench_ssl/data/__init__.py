"""Datasets as in-memory uint8 arrays: CIFAR-10/100, STL-10 and ImageFolder trees (folders or tars).

Everything is decoded once into NHWC uint8 arrays and cached on disk (`$BENCH_SSL_CACHE`, default
`~/.cache/bench_ssl`), so training code indexes arrays instead of reading files, and every run
after the first starts in about a second. Where data.root is not set, `location` says where the data is.
"""

from bench_ssl.lazy import exports

__getattr__ = exports(__name__, {"ArrayDataset": "arrays", "FORMATS": "detect", "detect_format": "detect",
                                 "load_arrays": "load", "class_balanced_subset": "subset", "select_classes": "subset"})

__all__ = ["ArrayDataset", "FORMATS", "load_arrays", "class_balanced_subset", "detect_format", "select_classes"]
