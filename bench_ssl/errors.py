"""Errors that users see as one line: what is wrong, where, and how to fix it."""


def first_line(exc: BaseException) -> str:
    """A library's error message cut to its first line (its class name when it has no message)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class BenchSSLError(Exception):
    """Base class: the CLI prints these as a single `error: ...` line and exits non-zero."""


class ConfigError(BenchSSLError, ValueError):
    """A config key or value is invalid; raised before any work starts."""


class DatasetError(BenchSSLError, ValueError):
    """A dataset is missing, corrupt, or laid out in a way we do not read."""


class StoredFileError(BenchSSLError):
    """A file in a results folder is corrupt, written by another program, or unsafe to load; it is left as it is."""
