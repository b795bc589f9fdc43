"""`python -m bench_ssl.fused CONFIG CONFIG ... [--set key=value ...]`: train the configs as one fused model."""

from __future__ import annotations

import json
import logging
import sys

from ..arguments import ArgumentParser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from ..errors import BenchSSLError
    from ..named_files import resolve
    from ..train import interrupt
    from .run import run_fused

    parser = ArgumentParser(prog=prog or "python -m bench_ssl.fused", description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="run configs (the config.yaml of run folders, or any run config)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a value in every config (repeatable)")
    parser.add_argument("--force", action="store_true", help="start every run over")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        results = run_fused([resolve(c, "config") for c in args.configs], args.overrides, force=args.force)
    except interrupt.Interrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 130
    except BenchSSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in results:
        print(json.dumps({k: r.get(k) for k in ("run_id", "status", "knn_top1", "linear_top1")}))
    return 1 if any(r.get("status") in ("failed", "running elsewhere") for r in results) else 0


if __name__ == "__main__":
    from ..cli import guarded

    sys.exit(guarded(main))
