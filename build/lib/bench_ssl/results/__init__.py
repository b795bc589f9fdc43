"""The results store: run folders, their status and locks, and aggregation into pandas tables.

`bench_ssl.results.load(path) -> DataFrame` is the entry point for analysis (pandas is imported on first use).
"""

from ..lazy import exports
from .lock import RunLock, RunLocked, owner_alive
from .manifest import read_manifest, write_manifest
from .run_dir import RunDir
from .status import STATUSES, failure_summary, run_status

__getattr__ = exports(__name__, {"flatten": "table", "load": "table"})

__all__ = ["STATUSES", "RunDir", "RunLock", "RunLocked", "failure_summary", "flatten", "load", "owner_alive",
           "read_manifest", "run_status", "write_manifest"]
