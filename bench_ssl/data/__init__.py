"""Datasets as in-memory uint8 arrays: CIFAR-10/100, STL-10 and ImageFolder trees (folders or tars).

Everything is decoded once into NHWC uint8 arrays and cached on disk (`$BENCH_SSL_CACHE`, default
`~/.cache/bench_ssl`), so training code indexes arrays instead of reading files, and every run
after the first starts in about a second.
"""

from bench_ssl.data.arrays import ArrayDataset
from bench_ssl.data.detect import FORMATS, detect_format
from bench_ssl.data.load import load_arrays
from bench_ssl.data.subset import class_balanced_subset

__all__ = ["ArrayDataset", "FORMATS", "load_arrays", "class_balanced_subset", "detect_format"]
