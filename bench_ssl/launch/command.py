"""The command line that recreates a sweep's or a study's runs, recorded when it is launched (in sweep.json), so
a report's "Reproduce" is exact: the file, the profile, every --set, and the data location when it came from
$BENCH_SSL_DATA (the runs hold the resolved path; the variable is what the command needs elsewhere)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from ..data.location import ENV


def launch_command(tool: str, spec, overrides: list[str]) -> dict:
    """{"argv": [...], "cwd": ..., "env": {...}} of `python -m bench_ssl.<tool>` for `spec` with `overrides`."""
    argv = ["python", "-m", f"bench_ssl.{tool}", str(spec.path) if spec.path else spec.name]
    if getattr(spec, "profile", None):
        argv += ["--profile", spec.profile]
    for item in overrides:
        argv += ["--set", item]
    env = {}
    if os.environ.get(ENV) and not any(o.partition("=")[0].strip() == "data.root" for o in overrides):
        env[ENV] = str(Path(os.environ[ENV]).resolve())
    return {"argv": argv, "cwd": os.getcwd(), "env": env}


def shell_line(command: dict) -> str:
    """The recorded command as one shell line, run from the folder it was launched in."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in command.get("env", {}).items())
    line = " ".join(shlex.quote(a) for a in command["argv"])
    return f"cd {shlex.quote(command['cwd'])} && {env + ' ' if env else ''}{line}"
