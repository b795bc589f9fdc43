"""Typed component parameters: one default and one check per parameter, declared together.

    @dataclass
    class MoCoParams:
        momentum: float = param(0.999, low=0.0, high=1.0, help="key encoder EMA; 0 = a plain copy")

`build(MoCoParams, {"momentum": 0.9}, "method")` converts the plain values (YAML, --set, kwargs) to the
declared types and applies each field's check; an impossible value is a ConfigError naming the key, the
value and what is allowed. A params class may add `check(self, where, cfg)` for rules that span fields or
config sections (cfg is the whole run config, or None outside one), and `inactive(self)` for the fields that
have no effect given the others (left out of the resolved config and the run id). A leaf module.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field

from .errors import ConfigError
from .registry import suggest

__all__ = ["Bounds", "build", "check_choice", "check_fields", "check_int", "check_prob", "check_range", "check_real",
           "choice", "convert", "inactive", "join_key", "param", "param_help", "params_of", "suggest", "type_hints"]


@dataclass(frozen=True)
class Bounds:
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None  # for str fields, or for each item of a list
    nonempty: bool = False  # lists and tuples of any length
    distinct: bool = False  # lists whose items name things done once each (evaluations, loggers)


def param(default, *, low=None, high=None, low_open=False, high_open=False, choices=None, nonempty=False,
          distinct=False, help=""):
    """A dataclass field with its default and its check (bounds for numbers, each item of a list or pair,
    `choices` for strings); `help` is shown by `python -m bench_ssl.registry`."""
    meta = {"bounds": Bounds(low, high, low_open, high_open, tuple(choices) if choices else None, nonempty,
                             distinct), "help": help}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def choice(default: str, registry: str, help: str = "", hint: str = ""):
    """A field that picks a component of `registry` by name; that component's parameters sit beside it in the
    same config section (method.loss: nt_logistic, method.semi_hard: true) and fill the `params_of` field.
    `hint` is added to the error for a name that is not in the registry."""
    return field(default=default, metadata={"registry": registry, "help": help, "hint": hint})


def params_of(selector: str):
    """The field that holds the parameters of the component chosen by the field `selector` (filled on load)."""
    return field(default=None, metadata={"params_of": selector}, compare=True)


def param_help(f: dataclasses.Field) -> str:
    return f.metadata.get("help", "")


# ------------------------------------------------------------------------------------------- checks
def check_choice(key: str, value, allowed, sep: str = ": ") -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(f"{key}{sep}{value!r} is not allowed{suggest(value, allowed)}; allowed: {', '.join(map(str, allowed))}")


def check_names(key: str, values, allowed) -> None:
    """A list naming some of `allowed`, each once (e.g. the tasks or optimizers a protocol runs)."""
    for v in values:
        check_choice(key, v, allowed)
    if len(set(values)) != len(values):
        raise ConfigError(f"{key}: {list(values)} names one twice; list each once")


def check_int(key: str, value, low: int | None = None, high: int | None = None, sep: str = ": ") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}{sep}{value!r} is not an integer")
    _check_bounds(key, value, low, high, False, False, sep)


def check_real(key: str, value, low=None, high=None, low_open=False, high_open=False, sep: str = ": ") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key}{sep}{value!r} is not a finite number")
    _check_bounds(key, value, low, high, low_open, high_open, sep)


def check_prob(key: str, value, sep: str = ": ") -> None:
    check_real(key, value, low=0.0, high=1.0, sep=sep)


def check_range(key: str, value, low=None, high=None, low_open=False, high_open=False, sep: str = ": ") -> None:
    """A (lo, hi) pair with lo <= hi, both inside the bounds."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError(f"{key}{sep}{value!r} is not a [low, high] pair")
    for i, v in enumerate(value):
        check_real(f"{key}[{i}]", v, low, high, low_open, high_open, sep)
    if value[0] > value[1]:
        raise ConfigError(f"{key}{sep}{list(value)} has low > high; give [low, high] with low <= high")


def _check_bounds(key, value, low, high, low_open, high_open, sep) -> None:
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ConfigError(f"{key}{sep}{value!r} is out of range; allowed: {interval}")


def _check_value(key: str, tp, value, b: Bounds, sep: str) -> None:
    if value is None:
        return
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        tp = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is not Ellipsis:  # a [low, high] pair
        check_range(key, value, b.low, b.high, b.low_open, b.high_open, sep)
    elif origin in (list, tuple):
        if b.nonempty and not value:
            raise ConfigError(f"{key}{sep}{list(value)!r} is empty; give at least one value")
        twice = first_repeat(value) if b.distinct else None
        if twice is not None:
            raise ConfigError(f"{key}{sep}{twice[0]!r} is listed twice in {list(value)!r}; list each once")
        for i, item in enumerate(value):
            _check_scalar(f"{key}[{i}]", args[0], item, b, sep)
    else:
        _check_scalar(key, tp, value, b, sep)


def first_repeat(values) -> tuple | None:
    """`(value,)` for the first value listed a second time (a tuple, as the value may itself be None), else None;
    values may be lists or mappings: compared as JSON."""
    import json

    seen = set()
    for value in values:
        text = json.dumps(value, sort_keys=True, default=str)
        if text in seen:
            return (value,)
        seen.add(text)
    return None


def _check_scalar(key, tp, value, b: Bounds, sep) -> None:
    if b.choices is not None:
        check_choice(key, value, b.choices, sep)
    elif tp is int:
        check_int(key, value, b.low, b.high, sep)
    elif tp is float:
        check_real(key, value, b.low, b.high, b.low_open, b.high_open, sep)


def check_fields(obj, where: str, sep: str = ": ") -> None:
    """Each field's declared check; `where` is the key prefix ("method" -> "method.momentum")."""
    hints = type_hints(type(obj))
    for f in dataclasses.fields(obj):
        bounds = f.metadata.get("bounds")
        if bounds is not None:
            _check_value(_key(where, f.name, sep), hints[f.name], getattr(obj, f.name), bounds, sep)


def _key(where: str, name: str, sep: str = ": ") -> str:
    """The key of field `name` under `where`: "method" -> "method.momentum"; a prefix that ends in a colon
    ("augmentation 'flip': ", the keyword style of build_op) -> "augmentation 'flip': p"."""
    if sep == ": " and not where.endswith(": "):
        return f"{where}.{name}" if where else name
    return f"{where}{name}"


join_key = _key


def inactive(obj) -> set[str]:
    """Fields of `obj` that have no effect given its other values (its `inactive()` hook)."""
    hook = getattr(obj, "inactive", None)
    return set(hook()) if callable(hook) else set()


# ------------------------------------------------------------------------------------- conversion
def type_hints(cls) -> dict:
    return typing.get_type_hints(cls)


def build(cls, raw: dict | None, where: str, *, sep: str = ": ", hook: bool = True, owner: str = ""):
    """An instance of the params dataclass `cls` from plain values: unknown keys, wrong types and values that
    fail a field's check are ConfigErrors; `hook` also runs its `check(where, None)`; `owner` names the
    component in messages ("backbone convnet")."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping of keys, got {raw!r}")
    hints = type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("params_of")]
    kwargs = {}
    for key, value in raw.items():
        if key not in names:
            allowed = f"allowed under {where or 'the top level'}: {', '.join(names)}" if names else \
                f"{owner or cls.__name__} takes no parameters"
            raise ConfigError(f"unknown key {_key(where, str(key), sep)!r}{suggest(key, names)}; {allowed}")
        kwargs[key] = convert(hints[key], value, _key(where, key, sep))
    obj = cls(**kwargs)
    check_fields(obj, where, sep)
    if hook and callable(getattr(obj, "check", None)):
        obj.check(where, None)
    return obj


def convert(tp, value, path: str):
    """A plain value (from YAML, --set or Python) as type `tp`, or a ConfigError naming `path`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return convert(inner, value, path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            text = value.strip().lstrip("[").rstrip("]") if isinstance(value, str) else None  # a bracket left out
            items = [v.strip() for v in text.split(",")] if text is not None else [str(value)]
            example = f"[{', '.join(items)}]"  # what was meant, in YAML's list form
            raise ConfigError(f"{path}: expected a list, got {value!r}; write it as a YAML list in brackets: "
                              f"{example} (on the command line quoted: --set {path}='{example}')")
        if origin is tuple and len(args) == 2 and args[1] is not Ellipsis:
            if len(value) != 2:
                raise ConfigError(f"{path}: expected a [low, high] pair, got {value!r}")
            return tuple(convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        items = [convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, str):
            try:
                value = float(value)  # YAML reads 1e-6 (no dot) as a string
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if tp is typing.Any or tp is object:
        return value
    raise TypeError(f"unsupported parameter type {tp} at {path}")


