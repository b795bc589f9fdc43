"""Run several configs fused: `python -m bench_ssl.fused CONFIG CONFIG ... [--set key=value ...]`, or
`run_fused(configs)` from Python. Each run keeps its own folder, lock, log and result, as `bench_ssl.run` gives it;
finished runs are skipped, and a single run left is run alone."""

from __future__ import annotations

import contextlib
import logging
import signal
import time
import traceback

from ..config import load_config
from ..errors import BenchSSLError
from ..launch.preflight import check_environment
from ..results.lock import RunLock
from ..results.run_dir import RunDir
from ..train import interrupt

log = logging.getLogger("bench_ssl.fused")


def run_fused(configs: list, overrides: list[str] = (), force: bool = False) -> list[dict]:
    """Train and evaluate `configs` as one fused model; their results, in order (a failed run's raises nothing:
    its folder holds its traceback, and its entry is {"run_id": ..., "status": "failed"})."""
    from ..run import _finished, _log_to, _start, run

    cfgs = [load_config(c, overrides) for c in configs]
    dirs = [RunDir.of(c) for c in cfgs]
    if len({d.path for d in dirs}) < len(dirs):
        raise BenchSSLError("the same run is named twice; give each config once")
    todo = [i for i, d in enumerate(dirs) if not _finished(d, force)]
    results: list[dict | None] = [None if i in todo else d.read_result() for i, d in enumerate(dirs)]
    if len(todo) == 1:
        results[todo[0]] = run(cfgs[todo[0]], force=force)
    elif todo:
        for i in todo:
            check_environment(cfgs[i])
        with contextlib.ExitStack() as stack:
            for i in todo:
                dirs[i].mkdir()
                stack.enter_context(RunLock(dirs[i].path))
            for i in todo:
                stack.enter_context(_log_to(dirs[i].log))
            stack.enter_context(interrupt.stop_on(signal.SIGTERM, signal.SIGINT))
            for i in todo:
                _start(cfgs[i], dirs[i], force)
            for i, result in zip(todo, _train([cfgs[i] for i in todo], [dirs[i] for i in todo])):
                results[i] = result if result is not None else {"run_id": dirs[i].name, "status": "failed"}
    return results


def _train(cfgs: list, dirs: list) -> list[dict | None]:
    from ..loggers import Loggers
    from .trainer import FusedTrainer

    t0 = time.time()
    try:
        trainer = FusedTrainer(cfgs, [d.name for d in dirs], dirs)
        loggers = [Loggers(c, d.name, d) for c, d in zip(cfgs, dirs)]
        try:
            results = trainer.run(loggers)
            for lg, result in zip(loggers, results):
                if result is not None:
                    lg.log_final(result)
        finally:
            for lg in loggers:
                lg.close()
    except interrupt.Interrupted as exc:
        log.info("%s", exc)
        raise
    except Exception as exc:
        with contextlib.suppress(BenchSSLError):
            for d in dirs:
                d.write_traceback("".join(traceback.format_exception(exc)))
        raise
    finally:
        interrupt.clear()
    for cfg, d, result in zip(cfgs, dirs, results):
        if result is not None:
            result["wall_time_s"] = time.time() - t0
            d.write_result(result)
            if not cfg.output.keep_checkpoint:
                d.checkpoint.unlink(missing_ok=True)
    return results
