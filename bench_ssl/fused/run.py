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
from ..results.lock import RunLock, RunLocked
from ..results.run_dir import RunDir
from ..train import interrupt

log = logging.getLogger("bench_ssl.fused")


def run_fused(configs: list, overrides: list[str] = (), force: bool = False) -> list[dict]:
    """Train and evaluate `configs` as one fused model; their results, in order. A run that failed has
    {"run_id", "status": "failed"} (its folder holds its traceback); one that another live process holds has
    {"run_id", "status": "running elsewhere"} and is left to it; the others train fused (one left trains alone)."""
    from ..run import _finished, _log_to, _start, _train as train_alone

    cfgs = [load_config(c, overrides) for c in configs]
    dirs = [RunDir.of(c) for c in cfgs]
    if len({d.path for d in dirs}) < len(dirs):
        raise BenchSSLError("the same run is named twice; give each config once")
    results: list[dict | None] = [d.read_result() if _finished(d, force) else None for d in dirs]
    todo = [i for i, r in enumerate(results) if r is None]
    for i in todo:
        check_environment(cfgs[i])
    with contextlib.ExitStack() as stack:
        mine = []
        for i in todo:
            dirs[i].mkdir()
            try:
                stack.enter_context(RunLock(dirs[i].path))
            except RunLocked as exc:
                log.info("%s", exc)
                results[i] = {"run_id": dirs[i].name, "status": "running elsewhere"}
                continue
            if _finished(dirs[i], force):  # checked again under the lock: another process may just have finished it
                results[i] = dirs[i].read_result()
            else:
                mine.append(i)
        if not mine:
            return results
        for i in mine:
            stack.enter_context(_log_to(dirs[i].log))
        stack.enter_context(interrupt.stop_on(signal.SIGTERM, signal.SIGINT))
        for i in mine:
            _start(cfgs[i], dirs[i], force)
        if len(mine) == 1:
            results[mine[0]] = train_alone(cfgs[mine[0]], dirs[mine[0]], None)
            return results
        for i, result in zip(mine, _train([cfgs[i] for i in mine], [dirs[i] for i in mine])):
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
