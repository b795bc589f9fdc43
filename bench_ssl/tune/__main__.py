"""Run an Optuna study: `python -m bench_ssl.tune STUDY.yaml [--n-trials N] [--workers W] [--launcher local|slurm] ...`."""

from __future__ import annotations

import logging
import sys

from ..arguments import ArgumentParser
from ..errors import BenchSSLError
from ..named_files import resolve
from ..launch.cli import add_common_args, apply_slurm_flags, split_profile
from .spec import LAUNCHERS, load_study_spec


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    p = ArgumentParser(prog=prog or "python -m bench_ssl.tune", description=__doc__.splitlines()[0])
    p.add_argument("study", help="study YAML, e.g. sweeps/tune_smoke.yaml, or a built-in study by name")
    p.add_argument("--n-trials", type=int, help="trials the study should have in all (finished ones count; "
                                                "default: the study file's budget.n_trials)")
    p.add_argument("--workers", type=int, help="workers sharing the study (local processes or Slurm jobs)")
    p.add_argument("--launcher", choices=LAUNCHERS, help="where workers run (default: the study file's, else local)")
    p.add_argument("--storage", help="journal | journal:PATH | FILE.db | an RDB URL (default: sqlite "
                                     "<output.root>/<study>/study.db; the journal with --launcher slurm)")
    add_common_args(p, "study")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        profile, overrides = split_profile(args)
        spec = load_study_spec(resolve(args.study, "study"), profile)
        apply_slurm_flags(args, spec.slurm)
        if args.n_trials is not None and args.n_trials < 1:
            raise BenchSSLError(f"--n-trials: {args.n_trials} must be >= 1")
        if args.workers is not None and args.workers < 1:
            raise BenchSSLError(f"--workers: {args.workers} must be >= 1")
        from .driver import tune  # optuna: imported once the arguments are known

        return tune(spec, overrides, n_trials=args.n_trials, workers=args.workers, launcher=args.launcher,
                    storage=args.storage)
    except BenchSSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    from ..cli import guarded

    sys.exit(guarded(main))
