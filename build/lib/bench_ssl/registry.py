"""One registry per kind of component, filled by a decorator in each component's own file.

    @METHODS.register("moco", MoCoParams)
    class MoCo(Method): ...

A registry knows its entries' names, their typed parameters (a dataclass declared next to the code that
reads them) and one line of doc, and suggests the nearest name on a typo. It imports its package lazily,
on first use, so config loading asks the registries for parameter types without importing every
implementation by hand, and a new component is one new file (every module of the package is imported).
This module is a leaf: it imports nothing of bench_ssl but the error type.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass

from .errors import ConfigError


@dataclass
class NoParams:
    """A component without parameters."""


@dataclass(frozen=True)
class Entry:
    name: str
    obj: object  # the class or function that implements the component
    params: type  # its parameters: a dataclass (NoParams when it takes none)
    doc: str  # one line

    def param_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.params) if not f.metadata.get("params_of")]


def _first_line(obj) -> str:
    """The first sentence of the object's docstring (else its module's)."""
    doc = inspect.getdoc(obj) or inspect.getdoc(inspect.getmodule(obj)) or ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return re.split(r"(?<!Fig\.)(?<!Sec\.)(?<!Eq\.)(?<=\.)\s+(?=[A-Z`(])", paragraph)[0].rstrip(".")


class Registry:
    """Named components of one kind (`kind` is what messages call them, `package` where they live)."""

    def __init__(self, kind: str, package: str, plural: str = ""):
        self.kind, self.package, self.plural = kind, package, plural or f"{kind}s"
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    # ------------------------------------------------------------------ filling
    def register(self, name: str, params: type | None = None, doc: str | None = None):
        """Decorator: make `obj` selectable by `name`; `params` is the dataclass of its parameters."""
        if params is not None and not dataclasses.is_dataclass(params):
            raise TypeError(f"{self.kind} {name!r}: params must be a dataclass, got {params!r}")

        def wrap(obj):
            old = self._entries.get(name)
            if old is not None and _qualname(old.obj) != _qualname(obj):
                raise ValueError(f"{self.kind} {name!r} is registered twice: {_qualname(old.obj)} and {_qualname(obj)}")
            try:
                obj.name = name  # a class, a function or an object: it knows the name it is chosen by
            except (AttributeError, TypeError):
                pass
            self._entries[name] = Entry(name, obj, params or NoParams, doc or _first_line(obj))
            return obj

        return wrap

    def remove(self, name: str) -> None:
        """Forget an entry (tests that register a component of their own clean up with this)."""
        self._entries.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # before importing: the modules register into this very registry
        package = importlib.import_module(self.package)
        for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
            importlib.import_module(f"{self.package}.{module}")

    # ------------------------------------------------------------------ asking
    def names(self) -> tuple[str, ...]:
        self._load()
        return tuple(self._entries)

    def entry(self, name, key: str = "") -> Entry:
        """The entry called `name`; else a ConfigError naming `key`, the nearest name and every name."""
        self._load()
        if name not in self._entries:
            what = f"{key}: {name!r} is not allowed" if key else f"unknown {self.kind} {name!r}"
            raise ConfigError(f"{what}{suggest(name, self._entries)}; allowed: {', '.join(self._entries)}")
        return self._entries[name]

    def takers(self, param: str) -> list[str]:
        """The entries that take a parameter called `param`."""
        return [n for n, e in self.items_entries() if param in e.param_names()]

    def items_entries(self) -> list[tuple[str, Entry]]:
        self._load()
        return list(self._entries.items())

    def items(self):
        return [(n, e.obj) for n, e in self.items_entries()]

    def __getitem__(self, name: str):
        return self.entry(name).obj

    def __contains__(self, name) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def describe(self) -> str:
        """Every entry with its parameters and defaults, and its line of doc."""
        lines = [f"{self.plural}:"]
        for name, e in self.items_entries():
            params = ", ".join(f"{f.name}={default_of(f)!r}" for f in dataclasses.fields(e.params)
                               if not f.metadata.get("params_of"))
            lines.append(f"  {name}({params})" + (f"  {e.doc}" if e.doc else ""))
        return "\n".join(lines)


def default_of(f: dataclasses.Field):
    """The default value of a dataclass field (None when it has none)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"


def suggest(word, allowed) -> str:
    """' (did you mean 'x'?)' when a close match exists, else ''."""
    close = difflib.get_close_matches(str(word), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


METHODS = Registry("method", "bench_ssl.methods")
LOSSES = Registry("loss", "bench_ssl.losses", "losses")  # SimCLR's pair losses (method.loss)
AUGMENTATIONS = Registry("augmentation", "bench_ssl.augment")
BACKBONES = Registry("backbone", "bench_ssl.models")
HEADS = Registry("head", "bench_ssl.models")
OPTIMIZERS = Registry("optimizer", "bench_ssl.optim")
EVALUATIONS = Registry("evaluation", "bench_ssl.eval")
STUDIES = Registry("study", "bench_ssl.report.studies", "studies")

REGISTRIES = {r.kind: r for r in (METHODS, LOSSES, AUGMENTATIONS, BACKBONES, HEADS, OPTIMIZERS, EVALUATIONS, STUDIES)}


def main(argv: list[str] | None = None) -> int:
    """`python -m bench_ssl.registry [KIND ...]`: list the components, their parameters and defaults."""
    import sys

    from bench_ssl.registry import REGISTRIES as registries  # the module the components register into (not __main__)

    kinds = (sys.argv[1:] if argv is None else argv) or list(registries)
    plural = {r.plural: k for k, r in registries.items()}  # methods, losses, ..., studies
    for kind in kinds:
        reg = registries.get(plural.get(kind, kind))
        if reg is None:
            print(f"error: no registry {kind!r}{suggest(kind, plural)}; registries: {', '.join(plural)}", file=sys.stderr)
            return 2
        print(reg.describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
