"""Learning rate as a pure function of the global step: linear warm-up, then cosine decay, constant, or step
decay (x0.1 at 60% and 80% of training: MoCo v1's 120 and 160 of 200 epochs, the schedule MoCo v2 replaced).

Being a function of the step (not a stateful scheduler) makes a resumed run land on exactly the same rates.
"""

from __future__ import annotations

import math


STEP_MILESTONES = (0.6, 0.8)  # fractions of all steps where the step schedule divides the rate by 10


def lr_at(step: int, total_steps: int, base_lr: float, warmup_steps: int, schedule: str = "cosine", min_lr: float = 0.0) -> float:
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    if schedule == "step":
        return base_lr * 0.1 ** sum(step >= m * total_steps for m in STEP_MILESTONES)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
