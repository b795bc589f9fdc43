"""(d) ours with data.storage=stream: the same images written as an ImageFolder of PNG files (lossless, so the
pixels are those held in memory), read batch by batch in DataLoader workers instead of indexed on the device.
The same step and augmentations as (b), so the two rows differ only in where the uint8 batch comes from."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..train import Trainer
from .protocol import timed


def write_image_folder(data, root: Path) -> None:
    """train/<class>/ and test/<class>/ PNGs of a TensorData's (memory) images."""
    for split in ("train", "test"):
        x = getattr(data, f"{split}_x").permute(0, 2, 3, 1).contiguous().cpu().numpy()
        y = getattr(data, f"{split}_y").cpu().numpy()
        for i, (img, label) in enumerate(zip(x, y)):
            folder = root / split / data.classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(img)).save(folder / f"{i:06d}.png", compress_level=1)


def stream_epoch(cfg, memory: Trainer, warmup: int, repeats: int) -> dict:
    """The engine's epoch on the streamed copy of `memory`'s images: seconds (median, all) and the workers used."""
    with tempfile.TemporaryDirectory(prefix="bench_ssl-stream-") as tmp:
        write_image_folder(memory.data, Path(tmp) / "images")
        streamed = copy.deepcopy(cfg)
        streamed.data.root, streamed.data.storage, streamed.data.format = str(Path(tmp) / "images"), "stream", "imagefolder"
        streamed.data.train_per_class = streamed.data.test_per_class = streamed.data.classes = None
        trainer = Trainer(streamed, "bench-stream", Path(tmp) / "run")
        state = {"step": 0}

        def epoch():
            _, state["step"] = trainer.train_epoch(0, state["step"])

        out = timed(epoch, trainer.device, warmup, repeats)
        out["workers"] = trainer.data.train_x.workers
        return out
