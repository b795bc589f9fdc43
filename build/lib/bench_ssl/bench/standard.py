"""The standard recipe we measure against: per-image PIL transforms in DataLoader worker processes,
batches copied to the device each step (SimCLR's CIFAR augmentations, as in most public code)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T


def simclr_transform(size: int, strength: float, mean, std) -> T.Compose:
    s = strength
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.08, 1.0)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.ToTensor(),
        T.Normalize(mean, std),
    ])


class TwoViews(Dataset):
    """uint8 NHWC images -> (view1, view2, label, index), each view drawn independently."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        img = Image.fromarray(self.images[i])
        return self.transform(img), self.transform(img), int(self.labels[i]), i


def standard_loader(images: np.ndarray, labels: np.ndarray, *, batch_size: int, workers: int, strength: float,
                    mean, std, pin_memory: bool) -> DataLoader:
    dataset = TwoViews(images, labels, simclr_transform(images.shape[1], strength, mean, std))
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=workers,
                      pin_memory=pin_memory, persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
