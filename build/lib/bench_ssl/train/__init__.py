"""The training engine: data on the device, batched augmentation, the method's step, checkpoints, evaluation."""

from ..lazy import exports

__getattr__ = exports(__name__, {"load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
                                 "Trainer": "loop", "resolve_device": "loop", "train_and_evaluate": "loop",
                                 "TensorData": "tensors", "load_tensors": "tensors"})

__all__ = ["TensorData", "Trainer", "load_checkpoint", "load_tensors", "resolve_device", "save_checkpoint",
           "train_and_evaluate"]
