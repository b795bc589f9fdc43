"""Frozen-backbone features of un-augmented images, in batches, on the training device."""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from ..augment import to_float


@torch.no_grad()
def extract_features(backbone: nn.Module, images_u8: torch.Tensor, normalize, batch_size: int = 1024,
                     bf16: bool = False, channels_last: bool = False) -> torch.Tensor:
    """(N,3,H,W) uint8 images (a tensor, or streamed images) -> (N, D) float32 features, with the backbone in eval
    mode (BN running stats)."""
    was_training = backbone.training
    backbone.eval()
    device = images_u8.device
    cast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    out = []
    n = images_u8.shape[0]
    if isinstance(images_u8, torch.Tensor):
        chunks = (images_u8[start:start + batch_size] for start in range(0, n, batch_size))
    else:  # data.storage=stream: read ahead in its workers
        chunks = images_u8.batches([range(start, min(n, start + batch_size)) for start in range(0, n, batch_size)])
    try:
        for chunk in chunks:
            x = normalize(to_float(chunk))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with cast:
                out.append(backbone(x).float())
    finally:
        backbone.train(was_training)
    return torch.cat(out)
