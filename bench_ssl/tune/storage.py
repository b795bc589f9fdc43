"""Where a study lives: a SQLite file by default, Optuna's journal file (safe on NFS) or any RDB URL.

Storage strings (study file `storage:` or `--storage`):
    (none)                     sqlite:///<output.root>/<study>/study.db   (the journal with --launcher slurm)
    journal                    <output.root>/<study>/study.journal, Optuna's JournalFileBackend
    journal:PATH               a journal file elsewhere (PATH relative to the current directory)
    PATH.db | PATH.sqlite      a SQLite file
    PATH.journal | PATH.log    a journal file
    sqlite:///..., postgresql://..., mysql://...   an RDB URL, as Optuna takes it
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError

STUDY_JSON = "study.json"
JOURNAL_PREFIX = "journal:"


def storage_url(choice: str | None, study_dir: Path, launcher: str = "local") -> str:
    """The canonical storage string for `choice` (None: the default for `launcher`), absolute paths."""
    study_dir = Path(study_dir)
    if choice is None:
        choice = "journal" if launcher == "slurm" else "sqlite"
    if choice == "sqlite":
        return f"sqlite:///{study_dir / 'study.db'}"
    if choice == "journal":
        return f"{JOURNAL_PREFIX}{study_dir / 'study.journal'}"
    if choice.startswith(JOURNAL_PREFIX):
        path = choice[len(JOURNAL_PREFIX):]
        if path.startswith("//"):  # journal:///abs/path
            path = path[2:]
        if not path:
            raise ConfigError("storage: journal: needs a file, e.g. journal:/shared/studies/x.journal (or just `journal`)")
        return f"{JOURNAL_PREFIX}{Path(path).expanduser().resolve()}"
    if "://" in choice:
        if choice.startswith("sqlite:///") and not choice.startswith("sqlite:////"):
            path = Path(choice[len("sqlite:///"):])  # relative SQLite path: make it absolute for the workers
            return f"sqlite:///{path.expanduser().resolve()}"
        return choice
    path = Path(choice).expanduser().resolve()
    if path.suffix in (".db", ".sqlite", ".sqlite3"):
        return f"sqlite:///{path}"
    if path.suffix in (".journal", ".log", ".jsonl"):
        return f"{JOURNAL_PREFIX}{path}"
    raise ConfigError(f"storage: {choice!r} is not a storage; use `journal`, journal:PATH, a .db/.journal file, or an "
                      f"RDB URL such as sqlite:///study.db or postgresql://user@host/db")


def storage_file(url: str) -> Path | None:
    """The file behind a SQLite or journal storage (None for a database server)."""
    if url.startswith(JOURNAL_PREFIX):
        return Path(url[len(JOURNAL_PREFIX):])
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return None


def open_storage(url: str):
    """An Optuna storage object for a canonical storage string."""
    import optuna

    if url.startswith(JOURNAL_PREFIX):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url[len(JOURNAL_PREFIX):])
        path.parent.mkdir(parents=True, exist_ok=True)
        # the default lock (a symlink) works on every NFS version
        return JournalStorage(JournalFileBackend(str(path)))
    engine_kwargs = {}
    sqlite = url.startswith("sqlite:")
    if sqlite:
        file = storage_file(url)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        # several local workers write to one file; pysqlite's own BEGIN is replaced by _write_locked's
        engine_kwargs = {"connect_args": {"timeout": 120, "isolation_level": None}}
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except ImportError as exc:  # e.g. a database driver that is not installed
        raise ConfigError(f"storage {url}: {exc}") from None
    if sqlite:
        _write_locked(storage.engine)
    return storage


def _write_locked(engine) -> None:
    """Every transaction on this SQLite engine starts with BEGIN IMMEDIATE, i.e. holds the file's write lock from
    its first read. Optuna claims a waiting trial (a retry) by reading its state and then setting it RUNNING;
    SQLite ignores the row lock Optuna asks for, so two workers asking at once both claimed it, ran the same
    trial, and the second crashed on telling a trial the first had completed. Transactions are short: workers
    wait their turn (the 120 s busy timeout) instead."""
    from sqlalchemy import event

    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))


def write_study_json(study_dir: Path, info: dict) -> None:
    from ..output import atomic_write_json

    atomic_write_json(Path(study_dir) / STUDY_JSON, info)


def read_study_json(study_dir: Path) -> dict | None:
    try:
        return json.loads((Path(study_dir) / STUDY_JSON).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def open_study(study_dir: str | Path):
    """The Optuna study whose results folder is `study_dir` (storage read from its study.json)."""
    import optuna

    info = read_study_json(Path(study_dir))
    if info is None:
        raise FileNotFoundError(f"{study_dir} has no {STUDY_JSON}: not the folder of a bench_ssl.tune study")
    return optuna.load_study(study_name=info["name"], storage=open_storage(info["storage"]))
