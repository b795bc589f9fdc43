"""How a config section is read, checked and written when some of its keys belong to a chosen component.

A section is a dataclass. Three kinds of fields ask the registries (`bench_ssl.registry`) for their type:

- a *choice* (`method.name`, `model.backbone`, `model.head.type`, `optim.name`, SimCLR's `method.loss`)
  picks an entry; that entry's parameters sit flat beside it in the same mapping and are built into the
  companion `params_of` field;
- a *many-of* mapping (`augment`'s ops, `eval`'s protocols) holds one sub-mapping of parameters per entry
  named in its list fields (`augment.view1`/`view2`, `eval.protocols`);
- everything else is a plain typed field with its `param()` check, or a nested section.

Only what applies exists: a key that the chosen component does not take is an error naming the component
and what it takes, and `dump` writes only the parameters that apply (never an `inactive()` one).
"""

from __future__ import annotations

import dataclasses
import types
import typing

from ..errors import ConfigError
from ..params import check_fields, convert, type_hints
from ..registry import REGISTRIES, Entry, default_of, suggest


# ------------------------------------------------------------------------------------------ fields
def unoptional(tp):
    """X for `X | None`, else tp."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def is_section(tp) -> bool:
    return dataclasses.is_dataclass(unoptional(tp))


def registry_of(f: dataclasses.Field):
    kind = f.metadata.get("registry") or f.metadata.get("many_of")
    return REGISTRIES[kind] if kind else None


def selectors(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("registry")]


def many_of(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("many_of")]


def used_names(f: dataclasses.Field, get) -> list[str]:
    """The entries a many-of field holds, in order: those its lists name, then its `also` entries whose
    field is set; `get(field name)` reads a value (from a built section or a raw mapping)."""
    names = [n for lst in f.metadata["lists"] for n in (get(lst) or [])]
    names += [entry for entry, flag in f.metadata.get("also", {}).items() if get(flag)]
    return list(dict.fromkeys(names))


def list_fields(cls) -> set[str]:
    """The fields whose values name the entries of a many-of mapping (e.g. augment.view1)."""
    return {name for f in many_of(cls) for name in f.metadata["lists"]}


def companion(cls, selector: str) -> str:
    return next(f.name for f in dataclasses.fields(cls) if f.metadata.get("params_of") == selector)


def plain_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("params_of") and not f.metadata.get("many_of")]


# --------------------------------------------------------------------------------------- building
class _Taken:
    """What one flat mapping's keys may be: the section's own fields and the chosen entries' parameters."""

    def __init__(self, where: str):
        self.where = where
        self.own: list[str] = []  # fields of the section itself
        self.chosen: list[tuple[str, Entry, list[str]]] = []  # (registry kind, entry, its keys), outer choice first

    def names(self) -> list[str]:
        return [*self.own, *(k for _, _, keys in self.chosen for k in keys)]


def build_section(cls, raw, where: str):
    """An instance of section (or params) class `cls` from a plain mapping; see the module docstring."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping of keys, got {raw!r}")
    taken = _Taken(where)
    obj = _build_flat(cls, raw, where, taken)
    stray = [k for k in raw if k not in taken.names() and k not in _many_names(obj)]
    if stray:
        raise ConfigError(unknown_key_message(stray[0], raw[stray[0]], obj, taken))
    return obj


def _many_names(obj) -> list[str]:
    return [name for f in many_of(type(obj)) for name in getattr(obj, f.name)]


def _build_flat(cls, raw: dict, where: str, taken: _Taken, chosen: bool = False):
    """cls's own fields from `raw`, then the parameters of each chosen entry from the same `raw` (`chosen`: cls is
    the params class of the entry last added to `taken`)."""
    hints = type_hints(cls)
    kwargs = {}
    keys = []
    for f in plain_fields(cls):
        keys.append(f.name)
        key = _join(where, f.name)
        if is_section(hints[f.name]):
            kwargs[f.name] = build_section(unoptional(hints[f.name]), raw.get(f.name), key)
        elif f.name in raw:
            kwargs[f.name] = convert(hints[f.name], raw[f.name], key)
    (taken.chosen[-1][2] if chosen else taken.own).extend(keys)
    obj = cls(**kwargs)
    check_fields(obj, where)
    for f in selectors(cls):
        name = getattr(obj, f.name)
        reg = registry_of(f)
        try:
            entry = reg.entry(name, _join(where, f.name))
        except ConfigError as exc:
            hint = f.metadata.get("hint")
            raise ConfigError(f"{exc} ({hint})" if hint else str(exc)) from None
        taken.chosen.append((reg.kind, entry, []))
        setattr(obj, companion(cls, f.name), _build_flat(entry.params, raw, where, taken, chosen=True))
    for f in many_of(cls):
        reg = registry_of(f)
        names = used_names(f, lambda name: getattr(obj, name))
        for lst in f.metadata["lists"]:
            for i, n in enumerate(getattr(obj, lst) or []):
                reg.entry(n, f"{_join(where, lst)}[{i}]")
        params = {}
        for n in names:
            params[n] = build_section(reg.entry(n).params, raw.get(n), _join(where, n))
        setattr(obj, f.name, params)
    return obj


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def unknown_key_message(key, value, obj, taken: _Taken) -> str:
    """`method.momentum: simclr takes no 'momentum'; simclr takes: loss, temperature, normalize (momentum is a
    parameter of moco)`, or `unknown key 'optim.lrr' (did you mean 'lr'?); allowed under optim: ...`."""
    where = taken.where
    full = _join(where, str(key))
    cls = type(obj)
    # an entry name of a many-of mapping that its lists do not name (augment.blur without blur in a view)
    for f in many_of(cls):
        reg = registry_of(f)
        if key in reg:
            lists = f.metadata["lists"]
            shown = ", ".join(f"{_join(where, lst)}: [{', '.join(getattr(obj, lst) or [])}]" for lst in lists)
            names = " nor ".join(_join(where, lst) for lst in lists)
            return (f"{full}: {key} is {'in neither' if len(lists) > 1 else 'not in'} {names} ({shown}); add it "
                    f"there or drop {full}")
    allowed = taken.names() + _many_names(obj)
    if taken.chosen:
        kind0, entry0, _ = taken.chosen[0]
        owners = [n for n, e in REGISTRIES[kind0].items_entries() if n != entry0.name and str(key) in known_keys(e.params)]
        for kind, _, _ in taken.chosen[1:]:
            owners += [f"{kind} {n}" for n in REGISTRIES[kind].takers(str(key))]
        if owners:
            who = _named(kind0, entry0.name)
            takes = [k for _, _, keys in taken.chosen for k in keys]
            return (f"{full}: {who} takes no {str(key)!r}{suggest(key, takes)}; {who} takes: {', '.join(takes) or 'nothing'}"
                    f" ({key} is a parameter of {', '.join(owners)}; got {value!r})")
    return f"unknown key {full!r}{suggest(key, allowed)}; allowed under {where or 'the top level'}: {', '.join(allowed)}"


def _named(kind: str, name: str) -> str:
    """Methods are called by their name alone (`simclr`), other components with their kind (`head none`)."""
    return name if kind == "method" else f"{kind} {name}"


# ---------------------------------------------------------------------------------------- writing
def dump(obj) -> dict:
    """The plain mapping of a built section: chosen parameters flattened beside their selector, many-of
    parameters under their entry names, inactive fields and absent optional sections left out."""
    out: dict = {}
    skip = set(_inactive(obj))
    for f in dataclasses.fields(obj):
        if f.name in skip:
            continue
        value = getattr(obj, f.name)
        if f.metadata.get("params_of"):
            if value is not None:
                out.update(dump(value))
        elif f.metadata.get("many_of"):
            for name, params in value.items():
                out[name] = dump(params)
        elif dataclasses.is_dataclass(value):
            out[f.name] = dump(value)
        elif value is None and f.metadata.get("omit_none"):
            continue
        elif f.metadata.get("omit_default") and value == f.default:  # a field added later: old run ids unchanged
            continue
        else:
            out[f.name] = _plain(value)
    return out


def _inactive(obj) -> tuple:
    hook = getattr(obj, "inactive", None)
    return tuple(hook()) if callable(hook) else ()


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def components(obj, where: str = ""):
    """(where, params) of every component's parameters inside a built section, depth first."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("params_of") and value is not None:
            yield where, value
            yield from components(value, where)
        elif f.metadata.get("many_of"):
            for name, params in value.items():
                yield _join(where, name), params
        elif dataclasses.is_dataclass(value):
            yield from components(value, _join(where, f.name))


# -------------------------------------------------------------------------------- keys of a schema
def known_keys(cls) -> dict[str, object]:
    """Every key a section may hold for some choice of its components -> its type (a section class for
    nested sections): the section's own fields, every entry's parameters, and `<entry>.<param>` of many-of."""
    hints = type_hints(cls)
    out: dict[str, object] = {}
    for f in plain_fields(cls):
        out[f.name] = unoptional(hints[f.name]) if is_section(hints[f.name]) else hints[f.name]
    for f in selectors(cls):
        for _, entry in registry_of(f).items_entries():
            for k, tp in known_keys(entry.params).items():
                out.setdefault(k, tp)
    for f in many_of(cls):
        for name, entry in registry_of(f).items_entries():
            out[name] = entry.params
    return out


def allowed_keys(cls, raw: dict) -> set[str] | None:
    """The keys `raw` may hold given the components it chooses (defaults where it chooses none), or None when
    a choice names no entry (left for the loader to report)."""
    out = {f.name for f in plain_fields(cls)}
    for f in selectors(cls):
        reg = registry_of(f)
        name = raw.get(f.name, default_of(f))
        if name not in reg:
            return None
        sub = allowed_keys(reg.entry(name).params, raw)
        if sub is None:
            return None
        out |= sub
    defaults = {g.name: default_of(g) for g in dataclasses.fields(cls)}
    for f in many_of(cls):
        def get(name):
            value = raw.get(name, defaults[name])
            return value if not isinstance(value, (str, dict)) else None
        try:
            out |= set(used_names(f, get))
        except TypeError:  # a list field that is not a list: the loader reports it
            return None
    return out


def default_params(obj) -> None:
    """Fill a section made in Python with its components' default parameters (a valid choice only)."""
    for f in selectors(type(obj)):
        target = companion(type(obj), f.name)
        reg, name = registry_of(f), getattr(obj, f.name)
        if getattr(obj, target) is None and name in reg:
            setattr(obj, target, build_section(reg.entry(name).params, {}, ""))
    for f in many_of(type(obj)):
        reg, have = registry_of(f), getattr(obj, f.name)
        for name in used_names(f, lambda n: getattr(obj, n)):
            if name not in have and name in reg:
                have[name] = build_section(reg.entry(name).params, {}, "")


def chosen_classes(cls, raw: dict) -> list:
    """The params classes a flat mapping of `cls` chooses (defaults where it chooses none), nested choices too."""
    out = []
    for f in selectors(cls):
        reg = registry_of(f)
        name = raw.get(f.name, default_of(f))
        if name in reg:
            sub = reg.entry(name).params
            out += [sub, *chosen_classes(sub, raw)]
    return out


def registry_keys(cls) -> set[str]:
    """Keys of `cls` that belong to some entry of its registries (those a switch of component may drop)."""
    own = {f.name for f in plain_fields(cls)}
    return {k for k in known_keys(cls) if k not in own}


def switch_fields(cls) -> set[str]:
    """Fields of a flat mapping of `cls` that choose components: its selectors (those of any entry's
    parameters too, e.g. simclr's `loss`) and the lists of its many-of mappings."""
    out = {f.name for f in selectors(cls)} | list_fields(cls)
    for f in selectors(cls):
        for _, entry in registry_of(f).items_entries():
            out |= switch_fields(entry.params)
    return out
