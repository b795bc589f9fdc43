"""Run one experiment: `python -m bench_ssl.run CONFIG.yaml [--set key=value ...]`, or `run(config)` from Python.

A run lives in its folder (`bench_ssl.results.RunDir`: `<output.root>/<name>/<run_id>/` with config.yaml,
metrics.jsonl, checkpoint.pt, log.txt, result.json). A finished run is not repeated; an interrupted one
resumes from its checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import traceback
from pathlib import Path

from .arguments import ArgumentParser
from .config import RunConfig, dump_yaml, load_config, run_id
from .distributed.launch import check_devices, spawn_ranks
from .distributed.group import env_world
from .errors import BenchSSLError
from .launch.preflight import check_device as resolve_device
from .launch.preflight import check_environment
from .named_files import resolve
from .results.lock import RunLock, RunLocked
from .results.run_dir import RunDir
from .train import interrupt

log = logging.getLogger("bench_ssl")


def run(config: str | Path | dict | RunConfig, overrides: list[str] = (), force: bool = False, on_epoch=None) -> dict:
    """Train and evaluate one config; return its result (the contents of result.json).

    Skips the work when the run already finished (unless `force`), resumes from a checkpoint when it
    was interrupted, and refuses (RunLocked) while another live process runs it. SIGTERM or Ctrl-C stop
    it at the next step with a checkpoint (Interrupted). A failure leaves its traceback in the run
    folder and is re-raised. `on_epoch(record)` sees each epoch's metrics (loss, lr, knn_top1 when
    evaluated); what it raises ends the run (see Trainer.run). With train.devices > 1 this process owns
    the run and starts its ranks (`bench_ssl.distributed.launch`); in a rank (torchrun's environment set)
    it joins the others (`run_rank`).
    """
    cfg = load_config(config, overrides)
    run_dir = RunDir.of(cfg)
    if env_world() is not None:
        return run_rank(cfg, run_dir, on_epoch)
    rid = run_dir.name  # run_id(cfg), or the name of the v1 folder that holds this very run
    if _finished(run_dir, force):  # final once written (atomically): no lock, no write, so an archived
        return run_dir.read_result()  # read-only results folder answers too
    check_environment(cfg)  # no dataset, no GPU: one error, and no run folder left behind
    if cfg.train.world_size > 1:
        check_devices(cfg)
    run_dir.mkdir()
    with RunLock(run_dir.path), _log_to(run_dir.log), interrupt.stop_on(signal.SIGTERM, signal.SIGINT):
        if _finished(run_dir, force):  # checked again under the lock: another process may just have finished it
            return run_dir.read_result()
        _start(cfg, run_dir, force)
        if cfg.train.world_size > 1:
            spawn_ranks(run_dir, cfg, cpu=resolve_device(cfg.device).type == "cpu")
            return run_dir.read_result()
        return _train(cfg, run_dir, on_epoch)


def run_rank(cfg: RunConfig, run_dir: RunDir, on_epoch=None) -> dict:
    """One rank of a run of several. Ranks started by `bench_ssl.run` find the folder owned by their parent;
    ranks started by torchrun or as Slurm tasks are their own owners: rank 0 claims the run (lock, config, log)
    and tells the others whether to train. Rank 0 returns the result, the others an empty dict."""
    import torch.distributed as dist

    from .distributed import finish, init_process_group, shutdown
    from .distributed.launch import OWNER, die_with_owner

    owned = os.environ.get(OWNER) == str(run_dir.path)  # started by bench_ssl.run, which holds the lock
    if owned:
        die_with_owner()
    w = init_process_group(resolve_device(cfg.device).type, cfg.train.dist_timeout_s)
    lock = None
    try:
        said = ["train"]
        if not owned:
            said = ["rank 0 failed before training (see its log)"]
            try:
                if w.main:
                    said[0], lock = _claim(cfg, run_dir)
            finally:  # also when rank 0's claim raised: the others must not wait for it
                dist.broadcast_object_list(said, src=0)
        if said[0] == "finished":
            return run_dir.read_result() if w.main else {}
        if said[0].startswith(LOCKED):
            raise RunLocked(said[0][len(LOCKED):])
        if said[0] != "train":
            raise BenchSSLError(said[0] if w.main else f"rank 0 did not start the run: {said[0]}")
        with _log_to(run_dir.log) if w.main else contextlib.nullcontext(), \
                interrupt.stop_on(signal.SIGTERM, signal.SIGINT):
            result = _train(cfg, run_dir, on_epoch if w.main else None)
        finish()
        return result
    finally:
        if lock is not None:
            lock.release()
        shutdown()


LOCKED = "locked: "


def _claim(cfg: RunConfig, run_dir: RunDir) -> tuple[str, RunLock | None]:
    """Rank 0 of self-started ranks: ('train', its lock), ('finished', None), or (why not, None)."""
    if _finished(run_dir, False):
        return "finished", None
    try:
        check_environment(cfg)
        run_dir.mkdir()
        lock = RunLock(run_dir.path)
        lock.acquire()
    except RunLocked as exc:
        return LOCKED + str(exc), None
    except BenchSSLError as exc:
        return str(exc), None
    if _finished(run_dir, False):
        lock.release()
        return "finished", None
    _start(cfg, run_dir, False)
    return "train", lock


def _finished(run_dir: RunDir, force: bool) -> bool:
    if run_dir.result.exists() and not force:
        log.info("run %s already finished: %s", run_dir.name, run_dir.result)
        return True
    return False


def _start(cfg: RunConfig, run_dir: RunDir, force: bool) -> None:
    """Under the run's lock: a clean folder with --force, the resolved config, no stale traceback."""
    if force:
        for child in run_dir.path.iterdir():
            if child.name not in (RunDir.LOCK, RunDir.LOG):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    log.info("run %s -> %s", run_dir.name, run_dir.path)
    run_dir.write_config(cfg)
    run_dir.traceback.unlink(missing_ok=True)


def _train(cfg: RunConfig, run_dir: RunDir, on_epoch) -> dict:
    """Train and evaluate here; a failure leaves its traceback in the run folder (rank 0's, in a run of several)."""
    from .train import train_and_evaluate  # torch: imported only when there is training to do

    rid = run_dir.name
    try:
        return train_and_evaluate(cfg, rid, run_dir, on_epoch)
    except interrupt.Interrupted as exc:
        log.info("%s", exc)
        raise
    except Exception as exc:
        if env_world() is None or env_world().main:
            with contextlib.suppress(BenchSSLError):  # a full disk may refuse the traceback too: the error still shows
                run_dir.write_traceback("".join(traceback.format_exception(exc)))
        if not isinstance(exc, BenchSSLError):  # those the caller reports in one line
            log.error("run %s failed: %s (traceback in %s)", rid, exc, run_dir.traceback)
        raise
    finally:
        interrupt.clear()


class _RunLogHandler(logging.FileHandler):
    """The run's log.txt. A write that fails (a full disk) disables it with one warning instead of printing a
    traceback for every later record; the error that matters is raised by the result's writes."""

    def handleError(self, record) -> None:
        if not getattr(self, "_failed", False):
            self._failed = True
            print(f"warning: cannot write {self.baseFilename} any more (disk full?); logging to it stops", file=sys.stderr)

    def emit(self, record) -> None:
        if not getattr(self, "_failed", False):
            super().emit(record)


@contextlib.contextmanager
def _log_to(path: Path):
    try:
        handler = _RunLogHandler(path)
    except OSError as exc:
        raise BenchSSLError(f"cannot write {path}: {exc.strerror or exc}; make the folder writable or point "
                            "output.root elsewhere") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("bench_ssl")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = ArgumentParser(prog=prog or "python -m bench_ssl.run", description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", help="YAML run config, e.g. configs/smoke.yaml, or a built-in config by name, e.g. smoke")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set method.temperature=0.2 (repeatable)")
    parser.add_argument("--force", action="store_true", help="delete any previous result and checkpoint of this run first")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and run id, run nothing")
    parser.add_argument("--list", nargs="*", metavar="KIND", help="list the components (methods, losses, augmentations, "
                        "backbones, heads, optimizers, evaluations, studies) with their parameters and defaults")
    args = parser.parse_args(argv)
    if args.list is not None:
        from . import registry

        return registry.main(args.list)
    if args.config is None:
        parser.error("the config is required (or --list)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        args.config = resolve(args.config, "config")
        if args.print_config:
            cfg = load_config(args.config, args.overrides)
            print(f"# run_id: {run_id(cfg)}\n{dump_yaml(cfg)}", end="")
            return 0
        result = run(args.config, args.overrides, force=args.force)
    except interrupt.Interrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 130
    except BenchSSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is kept; run the same command again to resume", file=sys.stderr)
        return 130
    if not result:  # a rank other than 0 of a run of several: rank 0 reports
        return 0
    summary = {k: result.get(k) for k in ("run_id", "knn_top1", "linear_top1", "linear_top5", "wall_time_s")}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    from .cli import guarded

    sys.exit(guarded(main))
