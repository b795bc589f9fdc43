"""`bench-ssl COMMAND ...` (also `python -m bench_ssl`): one entry point for every command.

Each command's module is imported only when it is chosen, and builds its parser before importing torch,
pandas or optuna, so `--help` answers at once."""

from __future__ import annotations

import importlib
import sys

from . import __version__

COMMANDS = {  # name -> (module with main(argv), what it does)
    "run": ("bench_ssl.run", "train and evaluate one config (a path or a built-in name, e.g. smoke)"),
    "sweep": ("bench_ssl.sweep.__main__", "run a sweep of runs (e.g. aug_grid, or sweeps/aug_grid.yaml)"),
    "fused": ("bench_ssl.fused.__main__", "train several configs as one fused model, each still its own run"),
    "tune": ("bench_ssl.tune.__main__", "run an Optuna study (e.g. tune_smoke)"),
    "report": ("bench_ssl.report.__main__", "HTML/PDF report of a sweep beside the paper's numbers"),
    "results": ("bench_ssl.results.__main__", "a table of the results of a sweep or results folder"),
    "bench": ("bench_ssl.bench.__main__", "speed benchmark: the standard recipe vs ours vs compute only"),
    "export": ("bench_ssl.export", "write a finished run's backbone as a plain torchvision state_dict"),
}
EXTRAS = {"matplotlib": "report", "seaborn": "report", "scipy": "report", "pyarrow": "report", "optuna": "tune",
          "cmaes": "tune", "tensorboard": "loggers", "wandb": "loggers", "mlflow": "loggers"}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: bench-ssl COMMAND [ARGS...]   (bench-ssl COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "  --version  print the version"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"bench_ssl {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        from .registry import suggest

        print(f"error: unknown command {name!r}{suggest(name, list(COMMANDS))}; commands: {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    return call(COMMANDS[name][0], rest, prog=f"bench-ssl {name}")


def call(module: str, argv: list[str], prog: str | None = None) -> int:
    return guarded(lambda: importlib.import_module(module).main(argv, prog=prog))


def guarded(fn) -> int:
    """`fn()`; a missing optional dependency is one line naming the extra to install, and so is a malformed
    setting in the environment (checked before anything starts)."""
    from .errors import BenchSSLError
    from .results.lock import heartbeat_s, stale_after_s

    try:
        heartbeat_s(), stale_after_s()
    except BenchSSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return fn()
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in EXTRAS:
            raise
        print(f"error: this needs {top}, which comes with the [{EXTRAS[top]}] extra: pip install "
              f"'bench_ssl[{EXTRAS[top]}]'", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
