"""The results store: run folders, their status and locks, and aggregation into pandas tables."""

from .lock import RunLock, RunLocked, owner_alive
from .status import STATUSES, failure_summary, run_status

__all__ = ["STATUSES", "RunLock", "RunLocked", "failure_summary", "owner_alive", "run_status"]
