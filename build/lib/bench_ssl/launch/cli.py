"""Command-line pieces shared by `bench_ssl.sweep` and `bench_ssl.tune`: Slurm flags and `--set profile=NAME`.

Kept free of heavy imports so either command can use it without loading the other's driver."""

from __future__ import annotations

import argparse

SLURM_FLAGS = {"partition": str, "time_min": int, "gpus_per_node": int, "cpus_per_task": int, "mem_gb": float,
               "account": str, "qos": str, "constraint": str}


def add_common_args(p: argparse.ArgumentParser, what: str, extra_slurm: dict | None = None) -> None:
    """--profile, --set and the Slurm flags; `what` is "sweep" or "study" (for the help texts)."""
    p.add_argument("--profile", help=f"a named variant from the {what} file's profiles: section, e.g. quick (CPU "
                                     f"size); --set profile=NAME does the same")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of the base run config, e.g. --set data.root=PATH (repeatable)")
    slurm = p.add_argument_group(f"Slurm (override the {what} file's slurm: section)")
    for name, kind in {**SLURM_FLAGS, **(extra_slurm or {})}.items():
        slurm.add_argument(f"--{name.replace('_', '-')}", dest=f"slurm_{name}", type=kind)


def split_profile(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """(profile, run-config overrides): `--set profile=quick` picks a profile rather than a run-config key."""
    profile, overrides = args.profile, []
    for item in args.overrides:
        key, _, value = item.partition("=")
        if key.strip() == "profile":
            profile = value.strip()
        else:
            overrides.append(item)
    return profile, overrides


def apply_slurm_flags(args: argparse.Namespace, slurm) -> None:
    """Copy the Slurm flags given on the command line onto `slurm` (a SlurmOptions) and re-check it."""
    for name, value in vars(args).items():
        if name.startswith("slurm_") and value is not None:
            setattr(slurm, name[len("slurm_"):], value)
    slurm.check("slurm")
