"""`sweep.json` in a sweep folder: every run the sweep expands to, so runs not started yet still show up
in tables and reports (as pending) and a report knows the full shape of the figure it draws."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..config import to_dict
from ..output import atomic_write_json

MANIFEST = "sweep.json"


def write_manifest(sweep_dir: Path, spec, runs, varying: list[str], command: dict | None = None) -> None:
    """Written when it says something new: re-running a sweep unchanged (also from a read-only archive) writes nothing.
    `command`: the command line that launched it (see launch.command), kept from an earlier write when not given."""
    old = read_manifest(sweep_dir)
    manifest = {
        "name": spec.name,
        "file": str(spec.path) if spec.path else None,
        "description": spec.description,
        "varying": varying,
        "runs": [_entry(r) for r in runs],
    }
    command = command or (old or {}).get("command")
    if command:
        manifest["command"] = command
    if old is not None and {k: v for k, v in old.items() if k != "written_at"} == json.loads(json.dumps(manifest)):
        return
    manifest["written_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    atomic_write_json(Path(sweep_dir) / MANIFEST, manifest)


def _entry(run) -> dict:
    entry = {"run_id": run.run_id, "params": run.params, "config": to_dict(run.config)}
    folder = getattr(run, "run_dir", None)
    if folder is not None and folder.name != run.run_id:
        entry["folder"] = folder.name  # a run written by bench_ssl 0.1 keeps its folder (see RunDir.of)
    return entry


def read_manifest(sweep_dir: Path) -> dict | None:
    try:
        value = json.loads((Path(sweep_dir) / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
