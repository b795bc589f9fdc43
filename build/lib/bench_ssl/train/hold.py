"""`BENCH_SSL_HOLD=FILE`: every run waits after each mid-run checkpoint until FILE exists.

For tests and debugging of crash handling: a run held there is in a known state (a checkpoint written, no
result yet) for as long as needed, so a test kills, signals or races it at that point instead of hoping to
catch a short window on a loaded machine. A stop signal ends the wait (the run then stops as usual).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from . import interrupt

log = logging.getLogger("bench_ssl.train")
ENV = "BENCH_SSL_HOLD"


def hold_after_checkpoint(run_id: str, epoch: int) -> None:
    release = os.environ.get(ENV)
    if not release or Path(release).exists():
        return
    log.info("run %s holding after the checkpoint of epoch %d until %s exists", run_id, epoch, release)
    while not Path(release).exists() and interrupt.stop_requested() is None:
        time.sleep(0.05)
