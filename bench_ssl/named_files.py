"""Built-in sweeps, studies and configs by name: `bench-ssl sweep aug_grid` finds the file shipped in the package
(`bench_ssl/files/sweeps/aug_grid.yaml`, the repository's `sweeps/`), so an installed package runs the studies
from any folder. A path that exists is always taken as it is."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError
from .params import suggest

FILES = Path(__file__).parent / "files"
FOLDERS = {"sweep": "sweeps", "study": "sweeps", "config": "configs"}


def names(kind: str) -> list[str]:
    """The built-in files of `kind`: sweeps and studies share a folder, and a study is the file that looks like one."""
    files = sorted((FILES / FOLDERS[kind]).glob("*.yaml"))
    if kind in ("sweep", "study"):
        files = [p for p in files if _is_study(p) == (kind == "study")]
    return [p.stem for p in files]


def _is_study(path: Path) -> bool:
    from .config.load import read_yaml
    from .config.spec_file import file_kind

    try:
        return file_kind(read_yaml(path))[0] == "study"
    except ConfigError:  # unreadable: listed with the sweeps, whose loader then says what is wrong
        return False


def resolve(arg: str, kind: str) -> str:
    """`arg` if it is an existing path, else the packaged file of that name (with or without .yaml)."""
    path = Path(arg)
    if path.exists() or len(path.parts) > 1:
        return arg  # a path (a missing one gets the loader's own error)
    stem = path.name[:-5] if path.name.endswith(".yaml") else path.name
    packaged = FILES / FOLDERS[kind] / f"{stem}.yaml"
    if packaged.is_file():
        return str(packaged)
    if path.suffix in (".yaml", ".yml"):
        return arg
    known = names(kind)
    raise ConfigError(f"no {kind} file {arg!r} here and no built-in {kind} of that name{suggest(stem, known)}; "
                      f"built-in: {', '.join(known)} (or give a path)")
