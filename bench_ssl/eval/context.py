"""What an evaluation protocol is given: the trained method, the data on its device, the run's config."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from .features import extract_features


@dataclass
class EvalContext:
    """Frozen-backbone features are extracted once, on first use, and shared by the protocols."""

    cfg: object  # the RunConfig
    method: torch.nn.Module
    data: object  # train.tensors.TensorData
    bf16: bool = False
    channels_last: bool = False
    run_dir: object = None  # results.RunDir of the run: where a protocol may leave a file (the embedding)
    _features: tuple | None = field(default=None, repr=False)
    features_time_s: float = 0.0  # the one extraction's wall time (0 while no protocol has asked for them)

    @property
    def seed(self) -> int:
        return self.cfg.seed

    def features(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(train features, train labels, test features) of the un-augmented, labelled images."""
        if self._features is None:
            t0 = time.perf_counter()
            train_x, train_y = self.data.labeled_train()
            kw = dict(batch_size=self.cfg.eval.batch_size, bf16=self.bf16, channels_last=self.channels_last)
            backbone = self.method.backbone
            self._features = (extract_features(backbone, train_x, self.data.normalize, **kw), train_y,
                              extract_features(backbone, self.data.test_x, self.data.normalize, **kw))
            if self._features[0].is_cuda:
                torch.cuda.synchronize(self._features[0].device)
            self.features_time_s = time.perf_counter() - t0
        return self._features
