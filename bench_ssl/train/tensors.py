"""The dataset as uint8 tensors on the training device, ready for batched GPU augmentation (or, for sets larger
than memory, streamed from its files batch by batch: `bench_ssl.data.stream`).

Images stay uint8 (4x smaller than float) and NHWC in memory, i.e. channels_last once viewed as NCHW,
which is the layout the convolutions want. Batches are gathered by index on the device: no DataLoader,
no worker processes, no host-to-device copy per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from ..data import class_balanced_subset, load_arrays, select_classes
from ..errors import ConfigError


@dataclass
class TensorData:
    train_x: torch.Tensor  # (N,3,H,W) uint8, channels_last memory (data.storage=stream: StreamedImages, indexed alike)
    train_y: torch.Tensor  # (N,) int64; -1 marks unlabeled images (STL-10)
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: torch.Tensor  # (1,3,1,1) float32
    std: torch.Tensor
    classes: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Float images in [0,1] -> standardised with the train set's channel statistics."""
        return (x - self.mean) / self.std

    def labeled_train(self) -> tuple[torch.Tensor, torch.Tensor]:
        keep = self.train_y >= 0
        if bool(keep.all()):
            return self.train_x, self.train_y
        return self.train_x[keep], self.train_y[keep]


def _to_device(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(device).permute(0, 3, 1, 2)


def load_tensors(data_cfg, device: torch.device) -> TensorData:
    """The dataset on `device`: decoded uint8 tensors (`memory`), or `StreamedImages` that read and decode the
    files as they are asked for (`stream`); labels, class selection and subsets are the same either way."""
    d = data_cfg
    if d.storage == "stream":
        return _streamed(d, device)
    arrays = load_arrays(d.root, format=d.format, image_size=d.image_size, cache_dir=d.cache_dir, download=d.download,
                         stl10_unlabeled=d.stl10_unlabeled, device=device)
    return _tensors(d, arrays, lambda x: _to_device(x, device), device)


def _streamed(d, device: torch.device) -> TensorData:
    from ..data.stream import StreamedImages, image_hw, sample_stats, scan_stream
    from ..data.decode import worker_count

    files, labels, n_train, classes = scan_stream(d.root)
    hw = image_hw(files, d.image_size)
    rows = np.arange(len(labels))
    arrays = SimpleNamespace(train_x=rows[:n_train], train_y=labels[:n_train], test_x=rows[n_train:],
                             test_y=labels[n_train:], classes=classes, mean=None, std=None)
    workers = min(8, worker_count()) if d.workers is None else d.workers
    data = _tensors(d, arrays, lambda r: StreamedImages(files, r, d.image_size, hw, device, d.on_corrupt, workers),
                    device)
    mean, std = sample_stats(files, rows[:n_train], d.image_size, hw, d.on_corrupt)  # all train images, as `memory`
    data.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    data.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return data


def _tensors(d, arrays, images, device: torch.device) -> TensorData:
    """Select classes and per-class subsets of `arrays` (images or row numbers), then `images(x)` each split."""
    train_x, train_y, test_x, test_y = arrays.train_x, arrays.train_y, arrays.test_x, arrays.test_y
    classes = list(arrays.classes)
    if d.classes:
        idx, train_y = select_classes(train_y, classes, list(d.classes))
        train_x = train_x[idx]
        idx, test_y = select_classes(test_y, classes, list(d.classes))
        test_x = test_x[idx]
        classes = list(d.classes)
    if d.train_per_class is not None:
        labeled = np.flatnonzero(train_y >= 0)
        idx = labeled[class_balanced_subset(train_y[labeled], d.train_per_class, d.subset_seed)]
        train_x, train_y = train_x[idx], train_y[idx]
    if d.test_per_class is not None:
        idx = class_balanced_subset(test_y, d.test_per_class, d.subset_seed)
        test_x, test_y = test_x[idx], test_y[idx]
    stats = [None if v is None else torch.tensor(v, dtype=torch.float32, device=device).view(1, 3, 1, 1)
             for v in (arrays.mean, arrays.std)]
    return TensorData(
        train_x=images(train_x),
        train_y=torch.from_numpy(train_y).long().to(device),
        test_x=images(test_x),
        test_y=torch.from_numpy(test_y).long().to(device),
        mean=stats[0],
        std=stats[1],
        classes=classes,
    )


def check_batch_size(batch_size: int, data: TensorData, data_cfg) -> None:
    n = data.train_x.shape[0]
    if batch_size > n:
        subset = f" (data.train_per_class={data_cfg.train_per_class} x {data.num_classes} classes)" if data_cfg.train_per_class else ""
        raise ConfigError(
            f"optim.batch_size: {batch_size} is larger than the training set of {n} images{subset}; "
            f"lower optim.batch_size to at most {n} or use more data"
        )
