"""The dataset as uint8 tensors on the training device, ready for batched GPU augmentation.

Images stay uint8 (4x smaller than float) and NHWC in memory, i.e. channels_last once viewed as NCHW,
which is the layout the convolutions want. Batches are gathered by index on the device: no DataLoader,
no worker processes, no host-to-device copy per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import class_balanced_subset, load_arrays, select_classes
from ..errors import ConfigError


@dataclass
class TensorData:
    train_x: torch.Tensor  # (N,3,H,W) uint8, channels_last memory
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
    d = data_cfg
    arrays = load_arrays(d.root, format=d.format, image_size=d.image_size, cache_dir=d.cache_dir, download=d.download,
                         stl10_unlabeled=d.stl10_unlabeled)
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
    return TensorData(
        train_x=_to_device(train_x, device),
        train_y=torch.from_numpy(train_y).long().to(device),
        test_x=_to_device(test_x, device),
        test_y=torch.from_numpy(test_y).long().to(device),
        mean=torch.tensor(arrays.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1),
        std=torch.tensor(arrays.std, dtype=torch.float32, device=device).view(1, 3, 1, 1),
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
