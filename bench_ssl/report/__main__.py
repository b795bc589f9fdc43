"""Report of one sweep: `python -m bench_ssl.report RESULTS_SWEEP_DIR [--out reports/] [--format html,pdf]`;
with two or more folders of one study (e.g. its quick and its GPU profile), a comparison cell by cell."""

from __future__ import annotations

import sys

from ..arguments import ArgumentParser
from ..errors import BenchSSLError
from . import FORMATS, METRICS, parse_formats, write_comparison, write_report


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    p = ArgumentParser(prog=prog or "python -m bench_ssl.report", description=__doc__.splitlines()[0])
    p.add_argument("sweep_dirs", nargs="+", metavar="sweep_dir",
                   help="a sweep's results folder, e.g. results/temperature_quick (partial sweeps too); two or more "
                        "folders of one study are compared cell by cell")
    p.add_argument("--out", default="reports", help="folder for <sweep>.html / <sweep>.pdf (default: reports/)")
    p.add_argument("--format", default=",".join(FORMATS), help="html, pdf or html,pdf (default); add png for the figure alone")
    p.add_argument("--metric", choices=tuple(METRICS), help="what 'ours' is (default: linear_top1, else knn_top1)")
    args = p.parse_args(argv)
    try:
        formats = parse_formats(args.format)
        if len(args.sweep_dirs) == 1:
            written = write_report(args.sweep_dirs[0], args.out, formats, args.metric)
        else:
            written = write_comparison(args.sweep_dirs, args.out, formats, args.metric)
    except BenchSSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for fmt in formats:
        print(written[fmt])
    for problem in written.get("unreadable", []):  # marked in the report; the other runs are reported as usual
        print(f"warning: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from ..cli import guarded

    sys.exit(guarded(main))
