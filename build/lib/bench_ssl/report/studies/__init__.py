"""One module per reproduced paper figure, registered under its sweep's name (sweeps/<name>.yaml) in
`bench_ssl.registry.STUDIES`."""

from __future__ import annotations

import copy

from ...registry import STUDIES
from .base import DrawContext, GenericStudy, Match, PaperCell, Study, align_levels


def find(*names: str | None) -> Study | None:
    """The study for the first name that has one; each name is also tried without profile suffixes
    (temperature_quick -> temperature)."""
    for name in names:
        while name:
            if name in STUDIES:
                return copy.copy(STUDIES[name])  # a study may be configured for one report
            name = name.rpartition("_")[0]
    return None


__all__ = ["STUDIES", "DrawContext", "GenericStudy", "Match", "PaperCell", "Study", "align_levels", "find"]
