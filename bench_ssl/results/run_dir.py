"""A run's folder: where it is (the path rule), what it holds (the layout) and how it is written (atomically).

    <output.root>/<name>/<run_id>/
        config.yaml  metrics.jsonl  checkpoint.pt  lock  result.json  traceback.txt  pruned.json  trial.json
        log.txt  worker.log

The driver, the worker, Optuna trials, the tables and the reports all go through `RunDir`, so no other module
spells a file name. A folder written before run ids hashed only what applies (bench_ssl 0.1, "v1") keeps its old
name: `RunDir.of(cfg)` finds it by the run its config describes today, so an old finished run is not re-run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import BenchSSLError, StoredFileError
from ..output import atomic_write_json, atomic_write_text, read_jsonl, write_jsonl


@dataclass(frozen=True)
class RunDir:
    path: Path

    CONFIG = "config.yaml"
    METRICS = "metrics.jsonl"
    CHECKPOINT = "checkpoint.pt"
    LOCK = "lock"
    RESULT = "result.json"
    TRACEBACK = "traceback.txt"
    PRUNED = "pruned.json"  # written by bench_ssl.tune when an Optuna pruner stopped the run
    TRIAL = "trial.json"  # which trials of an Optuna study ran (or reused) this run
    LOG = "log.txt"
    WORKER_LOG = "worker.log"
    RANK_LOG = "rank{rank}.log"  # the output of rank 1, 2, ... of a run of several ranks (rank 0 writes log.txt)

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    # ------------------------------------------------------------------ the path rule
    @classmethod
    def of(cls, cfg, root: str | os.PathLike | None = None) -> RunDir:
        """The folder of run config `cfg`: <output.root>/<name>/<run_id>, or the v1 folder of the same run."""
        from ..config import run_id

        sweep_dir = Path(root if root is not None else cfg.output.root).expanduser().resolve() / cfg.name
        rid = run_id(cfg)
        new = sweep_dir / rid
        if not new.exists():
            old = legacy_folders(sweep_dir).get(rid)
            if old is not None:
                return cls(old)
        return cls(new)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sweep_dir(self) -> Path:
        return self.path.parent

    # ------------------------------------------------------------------ the layout
    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / self.METRICS

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def lock(self) -> Path:
        return self.path / self.LOCK

    @property
    def result(self) -> Path:
        return self.path / self.RESULT

    @property
    def traceback(self) -> Path:
        return self.path / self.TRACEBACK

    @property
    def pruned(self) -> Path:
        return self.path / self.PRUNED

    @property
    def trial(self) -> Path:
        return self.path / self.TRIAL

    @property
    def log(self) -> Path:
        return self.path / self.LOG

    @property
    def worker_log(self) -> Path:
        return self.path / self.WORKER_LOG

    def rank_log(self, rank: int) -> Path:
        return self.path / self.RANK_LOG.format(rank=rank)

    def exists(self) -> bool:
        return self.path.is_dir()

    def is_run(self) -> bool:
        """A run's folder (it has a config or a result)."""
        return self.config.exists() or self.result.exists()

    def mkdir(self) -> RunDir:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BenchSSLError(f"cannot create the run folder {self.path}: {exc.strerror or exc}; free disk space or "
                                "make it writable, or point output.root at another folder (--set output.root=DIR)") from None
        return self

    # ------------------------------------------------------------------ reading and writing
    def write_config(self, cfg) -> Path:
        from ..config import dump_yaml

        atomic_write_text(self.config, dump_yaml(cfg))
        return self.config

    def read_config_raw(self) -> dict | None:
        """config.yaml as written (None when absent or unreadable)."""
        try:
            raw = yaml.safe_load(self.config.read_text())
        except (FileNotFoundError, yaml.YAMLError, UnicodeDecodeError):
            return None
        return raw if isinstance(raw, dict) else None

    def read_config(self, raw: dict | None = None):
        """The run's config, validated (a v1 config translated); None when absent or no longer valid. `raw`: the
        mapping read_config_raw gave, if the caller has it."""
        from ..config import from_raw
        from ..errors import ConfigError

        raw = self.read_config_raw() if raw is None else raw
        if raw is None:
            return None
        try:
            return from_raw(raw)
        except (ConfigError, TypeError, ValueError):
            return None

    def resolved_config(self) -> dict | None:
        """The config as a plain mapping holding only what applies to the run (a v1 config translated, else
        as written)."""
        from ..config import legacy

        raw = self.read_config_raw()
        return None if raw is None else legacy.as_today(raw)

    def write_result(self, result: dict) -> None:
        atomic_write_json(self.result, result)

    def read_result(self) -> dict:
        """result.json; StoredFileError (one line: the file, what is wrong, the fix) when it is corrupt."""
        try:
            value = json.loads(self.result.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoredFileError(f"{self.result} is corrupt ({_why(exc)}); restore it from a backup, or move it aside "
                                  "(or re-run with --force) to run the run again") from None
        except OSError as exc:
            raise StoredFileError(f"cannot read {self.result}: {exc.strerror or exc}; fix its permissions") from None
        if not isinstance(value, dict):
            raise StoredFileError(f"{self.result} is corrupt (a JSON {type(value).__name__}, not a result); restore it "
                                  "from a backup, or move it aside (or re-run with --force) to run the run again")
        return value

    def move_aside(self, path: Path, why: str) -> Path:
        """Rename a file we will not use (never delete it: it may be someone's work) to `<name>.aside-<time>`."""
        aside = path.with_name(f"{path.name}.aside-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        try:
            os.rename(path, aside)
        except OSError as exc:
            raise StoredFileError(f"{path} {why}, and it cannot be moved aside ({exc.strerror or exc}); move or "
                                  "delete it yourself, then re-run") from None
        return aside

    def read_metrics(self) -> list[dict]:
        return read_jsonl(self.metrics)

    def write_metrics(self, records: list[dict]) -> None:
        write_jsonl(self.metrics, records)

    def write_traceback(self, text: str) -> None:
        atomic_write_text(self.traceback, text)

    def write_pruned(self, info: dict) -> None:
        atomic_write_json(self.pruned, info)

    def read_json(self, path: Path) -> dict | None:
        try:
            value = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None

    def write_json(self, path: Path, obj) -> None:
        atomic_write_json(path, obj)

    def status(self) -> str:
        from .status import run_status

        return run_status(self.path)


def _why(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return f"not UTF-8 text: {exc.reason} at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else str(exc)


_LEGACY_CACHE: dict[Path, tuple[tuple, dict]] = {}


def legacy_folders(sweep_dir: Path) -> dict[str, Path]:
    """run id today -> folder, for the v1 run folders of a sweep folder (a finished one first where two old
    folders hold the same run, e.g. two that differed only in a knob the method did not read)."""
    from ..config import legacy, run_id

    sweep_dir = Path(sweep_dir)
    try:
        children = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return {}
    stamp = tuple((p.name, _mtime(p / RunDir.CONFIG), (p / RunDir.RESULT).exists()) for p in children)
    cached = _LEGACY_CACHE.get(sweep_dir)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    found: dict[str, Path] = {}
    for child in children:
        run = RunDir(child)
        try:  # a cheap look first: a v1 dump names every knob of every method, today's configs never do
            text = run.config.read_text()
        except (OSError, UnicodeDecodeError):
            continue
        if "supcon_variant:" not in text or "bank_momentum:" not in text:
            continue
        raw = run.read_config_raw()
        if raw is None or not legacy.is_v1(raw):
            continue
        cfg = run.read_config(raw)
        if cfg is None:
            continue
        rid = run_id(cfg)
        if rid not in found or (run.result.exists() and not (found[rid] / RunDir.RESULT).exists()):
            found[rid] = child
    _LEGACY_CACHE[sweep_dir] = (stamp, found)
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


__all__ = ["RunDir", "legacy_folders"]
