"""Value checks shared by the config sections: each names the key, the bad value and what is allowed."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable

from ..errors import ConfigError


def suggest(word: str, allowed: Iterable) -> str:
    """' (did you mean 'x'?)' when a close match exists, else ''."""
    close = difflib.get_close_matches(str(word), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_choice(key: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(
            f"{key}: {value!r} is not allowed{suggest(value, allowed)}; allowed: {', '.join(map(str, allowed))}"
        )


def check_int(key: str, value, low: int | None = None, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}: {value!r} is not an integer")
    _check_bounds(key, value, low, high, False, False)


def check_real(key: str, value, low=None, high=None, low_open=False, high_open=False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key}: {value!r} is not a finite number")
    _check_bounds(key, value, low, high, low_open, high_open)


def check_prob(key: str, value) -> None:
    check_real(key, value, low=0.0, high=1.0)


def check_range(key: str, value, low=None, high=None, low_open=False, high_open=False) -> None:
    """A (lo, hi) pair with lo <= hi, both inside the bounds."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError(f"{key}: {value!r} is not a [low, high] pair")
    for i, v in enumerate(value):
        check_real(f"{key}[{i}]", v, low, high, low_open, high_open)
    if value[0] > value[1]:
        raise ConfigError(f"{key}: {list(value)} has low > high; give [low, high] with low <= high")


def _check_bounds(key, value, low, high, low_open, high_open) -> None:
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ConfigError(f"{key}: {value!r} is out of range; allowed: {interval}")
