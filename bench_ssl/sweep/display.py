"""What the sweep driver prints: the run table of --dry-run, a live status line, the end summary."""

from __future__ import annotations

import json
import sys
import time

from .expand import _ABSENT, SweepRun


def format_table(runs: list[SweepRun], statuses: dict[str, str], varying: list[str]) -> str:
    """One row per run: its id, each varying key's resolved value ('-' where the key does not apply to the run,
    e.g. method.queue_size for simclr), its status."""
    header = ["run_id", *varying, "status"]
    rows = [[r.run_id, *(_cell(r.value(k)) for k in varying), statuses[r.run_id]] for r in runs]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _cell(value) -> str:
    if value is _ABSENT:
        return "-"
    return value if isinstance(value, str) else json.dumps(value)


def format_counts(counts: dict[str, int]) -> str:
    shown = ("done", "running", "failed", "pending")
    extra = [k for k in counts if k not in shown and counts[k]]  # pruned, corrupt: only when there are some
    return "  ".join(f"{k} {counts.get(k, 0)}" for k in (*shown, *extra))


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class LiveLine:
    """One status line: redrawn in place on a terminal, printed on change (or each minute) otherwise."""

    def __init__(self, name: str, total: int, stream=sys.stderr):
        self.name, self.total, self.stream = name, total, stream
        self.tty = stream.isatty()
        self.last, self.last_time = "", 0.0

    def update(self, counts: dict[str, int], eta_s: float | None) -> None:
        text = f"[{self.name}] {counts.get('done', 0)}/{self.total} done  {format_counts(counts)}  ETA {format_duration(eta_s)}"
        if self.tty:
            self.stream.write("\r" + text.ljust(len(self.last)))
            self.stream.flush()
            self.last = text
        elif text.split("ETA")[0] != self.last.split("ETA")[0] or time.time() - self.last_time > 60:
            print(text, file=self.stream, flush=True)
            self.last, self.last_time = text, time.time()

    def close(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()
