"""The FLOP floor: how far an epoch is from the chip's arithmetic limit.

The floor is the epoch's matmul and convolution FLOPs (forward and backward of one real training step, counted
by torch's FlopCounterMode, times the steps per epoch) at the chip's dense bf16 tensor rate. Elementwise work
(augmentation, normalisation, the optimiser) is not counted, so the floor is a lower bound no pipeline reaches:
the ratio epoch / floor says how much of the chip the engine leaves unused (launch gaps, memory-bound ops).
"""

from __future__ import annotations

from torch.utils.flop_counter import FlopCounterMode

# dense (not 2:4 sparse) bf16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets; matched in this order
# against torch.cuda.get_device_name (more specific names first)
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.4),
    ("H100 PCIe", 756.0),
    ("H100", 989.4),  # SXM5 ("NVIDIA H100 80GB HBM3")
    ("A100", 312.0),
    ("L40S", 362.1),
    ("L40", 181.0),  # before "L4", which its name contains
    ("RTX A6000", 154.8),
    ("L4", 121.0),
)


def peak_tflops(device_name: str) -> float | None:
    """The chip's dense bf16 rate by its name, or None where the table has no entry (a CPU, an unlisted GPU)."""
    for key, rate in PEAK_BF16_TFLOPS:
        if key in device_name:
            return rate
    return None


def count_flops(fn) -> int:
    """FLOPs of the matmuls and convolutions `fn` runs (its backward included when it calls backward)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def step_flops(trainer, views, labels, idx, step: int) -> int:
    """FLOPs of one real training step: forward, loss and backward (the optimiser's elementwise update adds none)."""
    return count_flops(lambda: trainer.optimize(views, labels, idx, step))


def floor(flops_per_step: int, steps: int, device_name: str, peak: float | None = None) -> dict:
    """The epoch's FLOPs and, where the chip's rate is known (or given), the floor in seconds."""
    rate = peak if peak is not None else peak_tflops(device_name)
    out = {"epoch_tflop": flops_per_step * steps / 1e12, "peak_bf16_tflops": rate}
    out["floor_epoch_s"] = out["epoch_tflop"] / rate if rate else None
    return out


def ratio(epoch_s: float, floor_s: float | None) -> float | None:
    return epoch_s / floor_s if floor_s else None
