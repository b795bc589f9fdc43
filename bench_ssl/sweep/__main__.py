"""Run a sweep: `python -m bench_ssl.sweep SWEEP.yaml [--launcher local|submitit-local|slurm] [--dry-run] ...`."""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import BenchSSLError
from .driver import run_sweep
from .spec import LAUNCHERS, load_sweep

SLURM_FLAGS = {"partition": str, "time_min": int, "gpus_per_node": int, "cpus_per_task": int, "mem_gb": float,
               "account": str, "qos": str, "constraint": str, "array_parallelism": int}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench_ssl.sweep", description=__doc__.splitlines()[0])
    p.add_argument("sweep", help="sweep YAML, e.g. sweeps/smoke.yaml")
    p.add_argument("--launcher", choices=LAUNCHERS, help="where runs execute (default: the sweep file's, else local)")
    p.add_argument("--dry-run", action="store_true", help="print the runs and their status, run nothing")
    p.add_argument("--max-parallel", type=int, help="runs at once (local workers, or the Slurm array's parallelism)")
    p.add_argument("--runs-per-gpu", type=int, help="local launcher: concurrent runs packed on each GPU")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again (they are skipped otherwise)")
    p.add_argument("--profile", help="a named variant from the sweep file's profiles: section, e.g. quick (CPU size); "
                                     "--set profile=NAME does the same")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of every run's base config, e.g. --set data.root=PATH (repeatable)")
    slurm = p.add_argument_group("Slurm (override the sweep file's slurm: section)")
    for name, kind in SLURM_FLAGS.items():
        slurm.add_argument(f"--{name.replace('_', '-')}", dest=f"slurm_{name}", type=kind)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        profile, overrides = args.profile, []
        for item in args.overrides:  # `--set profile=quick` picks a profile rather than a run-config key
            key, _, value = item.partition("=")
            if key.strip() == "profile":
                profile = value.strip()
            else:
                overrides.append(item)
        spec = load_sweep(args.sweep, profile)
        if args.launcher:
            spec.launcher.name = args.launcher
        if args.max_parallel is not None:
            spec.launcher.max_parallel = args.max_parallel
        if args.runs_per_gpu is not None:
            spec.launcher.runs_per_gpu = args.runs_per_gpu
        for name in SLURM_FLAGS:
            value = getattr(args, f"slurm_{name}")
            if value is not None:
                setattr(spec.slurm, name, value)
        spec.launcher.check("--launcher/--max-parallel/--runs-per-gpu")
        spec.slurm.check("slurm")
        return run_sweep(spec, overrides, dry_run=args.dry_run, retry_failed=args.retry_failed)
    except BenchSSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
