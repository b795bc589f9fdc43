"""MoCo's dictionary: a FIFO queue of the K most recent keys, filled by a wrapping pointer."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class KeyQueue(nn.Module):
    """`keys` (K, D) and `ptr` are buffers, so the queue is in the method's state_dict and a resumed run
    continues with the same negatives. It starts with random unit vectors, as MoCo's code does."""

    def __init__(self, size: int, dim: int):
        super().__init__()
        self.register_buffer("keys", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def push(self, k: torch.Tensor) -> None:
        """Overwrite the oldest rows with the batch `k` (N, D) and advance the pointer by N, modulo K.

        Index arithmetic stays on the device: no host sync per step.
        """
        size = self.keys.shape[0]
        if k.shape[0] > size:
            raise ValueError(f"a batch of {k.shape[0]} keys does not fit a queue of {size}")
        rows = (self.ptr + torch.arange(k.shape[0], device=self.keys.device)) % size
        self.keys.index_copy_(0, rows, k.detach().to(self.keys.dtype))
        self.ptr.copy_((self.ptr + k.shape[0]) % size)
