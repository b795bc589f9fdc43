"""What the sweep driver prints: the run table of --dry-run, a live status line, the end summary."""

from __future__ import annotations

import json
import sys
import time

from .expand import _ABSENT, SweepRun


def format_table(runs: list[SweepRun], statuses: dict[str, str], varying: list[str], groups: dict | None = None) -> str:
    """One row per run: its id, each varying key's resolved value ('-' where the key does not apply to the run,
    e.g. method.queue_size for simclr), its status, and (with `groups`, run id -> name) its fused group."""
    header = ["run_id", *varying, "status", *(["fused"] if groups else [])]
    rows = [[r.run_id, *(_cell(r.value(k)) for k in varying), statuses[r.run_id],
             *([groups.get(r.run_id, "-")] if groups else [])] for r in runs]
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


def format_run(progress, left_s: float | None) -> list[str]:
    """epoch, loss, kNN, images/s and ETA of one running run (blank before its first epoch)."""
    p = progress
    return [f"{p.epoch}/{p.epochs}", "" if p.loss is None else f"{p.loss:.3f}", "" if p.knn is None else f"{p.knn:.3f}",
            "" if p.images_per_s is None else f"{p.images_per_s:.0f}", format_duration(left_s)]


RUN_COLUMNS = ["run", "epoch", "loss", "kNN", "img/s", "ETA"]


class LiveView:
    """The sweep's counts and ETA, and one row per running run (epoch, loss, kNN, images/s, ETA).

    On a terminal it is a table redrawn in place (rich); otherwise (a file, CI) plain lines: the counts when
    they change (or each minute) and a line per run and finished epoch."""

    def __init__(self, name: str, total: int, stream=sys.stderr):
        self.name, self.total, self.stream = name, total, stream
        self.live = None  # the rich display on a terminal; None: plain lines
        if stream.isatty():
            try:
                from rich.console import Console
                from rich.live import Live
            except ImportError:  # rich missing: plain lines
                pass
            else:
                self.live = Live(console=Console(file=stream), refresh_per_second=4, transient=False)
                self.live.start()
        self.last, self.last_time, self.epochs = "", 0.0, {}

    def headline(self, counts: dict[str, int], eta_s: float | None) -> str:
        return f"[{self.name}] {counts.get('done', 0)}/{self.total} done  {format_counts(counts)}  ETA {format_duration(eta_s)}"

    def update(self, counts: dict[str, int], eta_s: float | None, running: dict | None = None) -> None:
        """`running`: run label -> (RunProgress, seconds left or None)."""
        running = running or {}
        text = self.headline(counts, eta_s)
        if self.live is not None:
            from rich.console import Group
            from rich.table import Table
            from rich.text import Text

            table = Table(expand=False)
            for col in RUN_COLUMNS:
                table.add_column(col, justify="left" if col == "run" else "right")
            for label, (prog, left) in running.items():
                table.add_row(label, *format_run(prog, left))
            self.live.update(Group(Text(text), table) if running else Text(text), refresh=True)
            return
        for label, (prog, left) in running.items():
            if prog.epoch and self.epochs.get(label) != prog.epoch:
                self.epochs[label] = prog.epoch
                cells = format_run(prog, left)
                print(f"  {label}  epoch {cells[0]}  loss {cells[1]}" + (f"  kNN {cells[2]}" if cells[2] else "")
                      + f"  {cells[3]} img/s  ETA {cells[4]}", file=self.stream, flush=True)
        if text.split("ETA")[0] != self.last.split("ETA")[0] or time.time() - self.last_time > 60:
            print(text, file=self.stream, flush=True)
            self.last, self.last_time = text, time.time()

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
