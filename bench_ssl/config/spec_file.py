"""What sweep files and study files share: a base run config, `set` overrides, named profiles.

Both are YAML mappings with a fixed set of top-level keys; `base` is a run config (a path relative to the
file, or an inline mapping); a profile (`--profile quick`) overlays the file: the keys in `merged` are
merged key by key, any other key it gives replaces the file's, and its results go to `<name>_<profile>`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import ConfigError
from ..params import suggest
from .layers import apply_layer
from .load import check_key, read_yaml


def read_spec(source: str | Path | dict, kind: str, top_level: tuple, example: str, profile: str | None = None,
              merged: tuple = ("set",)) -> tuple[dict, Path | None, str]:
    """Load a `kind` file ("sweep", "study") or dict, check its top-level keys and apply `profile`.

    Returns (raw mapping with `name` resolved, the file's path or None, the `where` prefix of errors)."""
    if isinstance(source, dict):
        raw, path = source, None
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"{kind} file {path} does not exist; pass a {kind} YAML such as {example}")
        raw = read_yaml(path)
    where = f"{kind} {path}" if path else kind
    if path is not None:
        refuse_other_kind(raw, path, kind)
    for key in raw:
        if key not in top_level:
            raise ConfigError(f"{where}: unknown key {key!r}{suggest(key, top_level)}; allowed: {', '.join(top_level)}")
    if profile is not None:
        profile_keys = tuple(k for k in top_level if k not in ("base", "profiles"))
        raw = _apply_profile(raw, profile, where, kind, profile_keys, merged)
    raw = {**raw, "name": raw.get("name") or (path.stem if path else None)}
    if not raw["name"]:
        raise ConfigError(f"{where}: give the {kind} a `name:` (its results folder)")
    return raw, path, where


COMMANDS = {"config": "run", "sweep": "sweep", "study": "tune"}
MARKS = {"study": ("space", "budget", "objective", "sampler", "pruner"), "sweep": ("grid", "zip", "derived", "exclude"),
         "config": ("data", "augment", "model", "method", "optim", "train", "eval", "output")}


def file_kind(raw: dict) -> tuple[str | None, list[str]]:
    """What a YAML mapping looks like: ("study" | "sweep" | "config" | None, the top-level keys that tell)."""
    for kind, marks in MARKS.items():
        found = [k for k in marks if k in raw]
        if found:
            return kind, found
    if "base" in raw:
        return "sweep", ["base"]
    return None, []


def refuse_other_kind(raw: dict, path: Path, kind: str) -> None:
    """A sweep file given to `run`, a run config or a study given to `sweep`...: say what it is and which
    command takes it, instead of an unknown-key error about its first key."""
    found, keys = file_kind(raw)
    if found is None or found == kind or (kind == "sweep" and found == "config" and "base" in raw):
        return
    article = {"config": "a run config", "sweep": "a sweep file", "study": "an Optuna study file"}
    tell = ", ".join(f"{k}:" for k in keys)
    raise ConfigError(f"{path} is {article[found]} (it has {tell}), not {article[kind]}; run it with "
                      f"`bench-ssl {COMMANDS[found]} {path}` (python -m bench_ssl.{COMMANDS[found]})")


def profile_names(raw: dict, where: str) -> tuple[str, ...]:
    return tuple(mapping(raw.get("profiles"), f"{where}: profiles"))


def _apply_profile(raw: dict, profile: str, where: str, kind: str, profile_keys: tuple, merged: tuple) -> dict:
    profiles = mapping(raw.get("profiles"), f"{where}: profiles")
    if profile not in profiles:
        known = ", ".join(profiles) or "none defined"
        raise ConfigError(f"{where}: no profile {profile!r}{suggest(profile, profiles)}; profiles: {known}")
    overlay = mapping(profiles[profile], f"{where}: profiles.{profile}")
    for key in overlay:
        if key not in profile_keys:
            raise ConfigError(f"{where}: profiles.{profile}: unknown key {key!r}{suggest(key, profile_keys)}; "
                              f"allowed: {', '.join(profile_keys)}")
    out = dict(raw)  # `profiles` stays: the spec lists the profiles it has
    out["name"] = overlay.get("name") or f"{raw.get('name') or kind}_{profile}"
    for key in merged:
        if key in overlay or key in raw:
            out[key] = {**mapping(raw.get(key), f"{where}: {key}"), **mapping(overlay.get(key), f"{where}: profiles.{profile}.{key}")}
    out.update({k: v for k, v in overlay.items() if k not in ("name", *merged)})
    return out


def read_base(raw: dict, path: Path | None, where: str, kind: str) -> dict:
    """The base run config with the file's `set` applied (a private copy)."""
    base = raw.get("base")
    if base is None:
        raise ConfigError(f"{where}: `base:` is missing; give a run config path (e.g. ../configs/smoke.yaml) or a mapping")
    if isinstance(base, dict):
        out = yaml.safe_load(yaml.safe_dump(base))
    else:
        base_path = Path(base)
        if not base_path.is_absolute() and path is not None:
            base_path = path.parent / base_path
        if not base_path.is_file():
            raise ConfigError(f"{where}: base config {base_path} does not exist; paths are relative to the {kind} file")
        out = read_yaml(base_path)
    settings = mapping(raw.get("set"), f"{where}: set")
    for key in settings:
        check_key(key, f"{where}: set: ")
    try:
        return apply_layer(out, settings)  # one layer over the base: a component it switches drops the base's knobs
    except ConfigError as exc:
        raise ConfigError(f"{where}: set: {exc}") from None


def mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {value!r}")
    return dict(value)


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
