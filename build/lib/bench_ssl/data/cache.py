"""On-disk cache of decoded arrays, so only the first run pays for decoding.

One uncompressed .npz per (source, format, image_size, stl10_unlabeled, cache version); the file
name hashes that identity, and the metadata inside also records a fingerprint (size and mtime of
every source file read), so a changed source is re-decoded and overwrites its old entry instead
of piling up. Writes go to a temp file in the same folder, then `os.replace`: a killed run never
leaves a half-written cache, and a corrupt one is ignored and rebuilt.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import time

import numpy as np

from bench_ssl.data.arrays import ArrayDataset
from bench_ssl.data.location import cache_home
from bench_ssl.errors import BenchSSLError
from bench_ssl.output import atomic_open

VERSION = 1  # bump when decoding changes what arrays a source produces
ARRAYS = ("train_x", "train_y", "test_x", "test_y")
log = logging.getLogger("bench_ssl.data")


def default_dir() -> str:
    return cache_home()


def fingerprint(files: list[str]) -> str:
    """Hash of (path, size, mtime) of every file read: cheap, and changes on any edit or touch."""
    h = hashlib.sha256()
    for path in files:
        st = os.stat(path)
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_path(cache_dir: str, identity: dict) -> str:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(identity["source"].rstrip("/\\")))
    return os.path.join(cache_dir, f"{identity['format']}-{stem}-{digest}.npz")


def load(path: str, identity: dict, source_fp: str) -> ArrayDataset | None:
    """The cached dataset, or None if absent, stale (source changed) or unreadable."""
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta["identity"] != identity or meta["fingerprint"] != source_fp:
                log.info("source %s changed since it was cached; decoding it again", identity["source"])
                return None
            arrays = {k: z[k] for k in ARRAYS}
        for k in ARRAYS:
            if list(arrays[k].shape) != meta["shapes"][k] or arrays[k].dtype.str != meta["dtypes"][k]:
                raise ValueError(f"{k} is {arrays[k].dtype} {arrays[k].shape}, metadata says otherwise")
        return ArrayDataset(
            **arrays,
            classes=list(meta["classes"]),
            mean=tuple(meta["mean"]),
            std=tuple(meta["std"]),
            source=identity["source"],
            format=identity["format"],
        )
    except Exception as e:  # BadZipFile, EOFError, KeyError, ValueError...: treat any damage alike
        log.warning("ignoring unreadable cache file %s (%s: %s); rebuilding it", path, type(e).__name__, e)
        return None


def save(path: str, ds: ArrayDataset, identity: dict, source_fp: str) -> None:
    """Write atomically; a failure (read-only dir, full disk) only costs a warning, never the run."""
    arrays = {k: getattr(ds, k) for k in ARRAYS}
    meta = {
        "identity": identity,
        "fingerprint": source_fp,
        "classes": ds.classes,
        "mean": ds.mean,
        "std": ds.std,
        "shapes": {k: list(a.shape) for k, a in arrays.items()},
        "dtypes": {k: a.dtype.str for k, a in arrays.items()},
    }
    folder, name = os.path.split(path)
    try:
        os.makedirs(folder, exist_ok=True)
        _remove_stale_temps(folder, name)  # atomic_open's temp files of runs killed mid-write
        with atomic_open(path) as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
    except (OSError, BenchSSLError) as e:
        log.warning("could not write dataset cache %s (%s); the next run will decode again", path, e)


def _remove_stale_temps(folder: str, name: str, max_age_s: float = 3600.0) -> None:
    """Temp files of runs killed mid-write (younger ones may belong to a run still writing)."""
    for tmp in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.*.tmp")):
        try:
            if time.time() - os.path.getmtime(tmp) > max_age_s:
                os.remove(tmp)
        except OSError:
            pass
