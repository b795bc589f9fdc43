"""`sweep.json` in a sweep folder: every run the sweep expands to, so runs not started yet still show up
in tables and reports (as pending) and a report knows the full shape of the figure it draws."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..config import to_dict
from ..output import atomic_write_json

MANIFEST = "sweep.json"


def write_manifest(sweep_dir: Path, spec, runs, varying: list[str]) -> None:
    atomic_write_json(Path(sweep_dir) / MANIFEST, {
        "name": spec.name,
        "file": str(spec.path) if spec.path else None,
        "description": spec.description,
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "varying": varying,
        "runs": [{"run_id": r.run_id, "params": r.params, "config": to_dict(r.config)} for r in runs],
    })


def read_manifest(sweep_dir: Path) -> dict | None:
    try:
        return json.loads((Path(sweep_dir) / MANIFEST).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
