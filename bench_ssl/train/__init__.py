"""The training engine: data on the device, batched augmentation, the method's step, checkpoints, evaluation."""

from .checkpoint import load_checkpoint, save_checkpoint
from .loop import Trainer, resolve_device, train_and_evaluate
from .tensors import TensorData, load_tensors

__all__ = ["TensorData", "Trainer", "load_checkpoint", "load_tensors", "resolve_device", "save_checkpoint",
           "train_and_evaluate"]
