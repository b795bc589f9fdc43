"""One module per reproduced paper figure, registered under its sweep's name (sweeps/<name>.yaml)."""

from __future__ import annotations

import copy

from . import aug_grid, batch_epochs, color_strength, loss_fn, moco_momentum, moco_queue, proj_head, supcon, temperature
from .base import DrawContext, GenericStudy, Match, PaperCell, Study, align_levels

STUDIES: dict[str, Study] = {m.STUDY.name: m.STUDY for m in (aug_grid, color_strength, proj_head, loss_fn, temperature,
                                                               batch_epochs, moco_momentum, moco_queue, supcon)}


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
