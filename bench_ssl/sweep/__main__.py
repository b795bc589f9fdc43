"""Run a sweep: `python -m bench_ssl.sweep SWEEP.yaml [--launcher local|submitit-local|slurm] [--dry-run] ...`."""

from __future__ import annotations

import logging
import sys

from ..arguments import ArgumentParser
from ..errors import BenchSSLError
from ..named_files import resolve
from ..launch.cli import add_common_args, apply_slurm_flags, split_profile
from .spec import LAUNCHERS, load_sweep


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    p = ArgumentParser(prog=prog or "python -m bench_ssl.sweep", description=__doc__.splitlines()[0])
    p.add_argument("sweep", help="sweep YAML, e.g. sweeps/smoke.yaml, or a built-in sweep by name, e.g. aug_grid")
    p.add_argument("--launcher", choices=LAUNCHERS, help="where runs execute (default: the sweep file's, else local)")
    p.add_argument("--dry-run", action="store_true", help="print the runs and their status, run nothing")
    p.add_argument("--max-parallel", type=int, help="runs at once (local workers, or the Slurm array's parallelism)")
    p.add_argument("--runs-per-gpu", type=int, help="local launcher: concurrent runs packed on each GPU")
    p.add_argument("--fuse", help="train up to K runs that share model, data, batch size and epochs as one fused model "
                                  "(HFTA): K, auto or off (default: the sweep file's, else off)")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again (they are skipped otherwise)")
    p.add_argument("--yes", action="store_true", help="start without asking, even a GPU-sized sweep on a CPU")
    add_common_args(p, "sweep", extra_slurm={"array_parallelism": int})
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        profile, overrides = split_profile(args)
        spec = load_sweep(resolve(args.sweep, "sweep"), profile)
        flags = {"name": ("--launcher", args.launcher), "max_parallel": ("--max-parallel", args.max_parallel),
                 "runs_per_gpu": ("--runs-per-gpu", args.runs_per_gpu), "fuse": ("--fuse", args.fuse)}
        given = {field: flag for field, (flag, value) in flags.items() if value is not None}
        for field in given:
            setattr(spec.launcher, field, flags[field][1])
        spec.launcher.check("launcher", given)
        apply_slurm_flags(args, spec.slurm)
        from .driver import run_sweep  # the launchers and their imports: once the arguments are known

        return run_sweep(spec, overrides, dry_run=args.dry_run, retry_failed=args.retry_failed, yes=args.yes)
    except BenchSSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    from ..cli import guarded

    sys.exit(guarded(main))
