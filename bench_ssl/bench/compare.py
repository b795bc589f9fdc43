"""Side by side in one process: (a) the standard recipe, (b) our pipeline, (c) compute only, (d) ours streamed
from files (`stream.py`).

All three run the same training step (`Trainer.optimize`: the method's forward, loss, backward and
optimiser step, bf16 and channels_last on CUDA) on the same model; they differ only in where the views
come from: (a) PIL transforms in DataLoader workers, copied to the device; (b) uint8 data on the device,
augmented there in batches (the engine's own epoch); (c) views augmented ahead of time and kept on the
device, so the epoch is pure compute.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from ..config import load_config
from ..train import Trainer
from .flops import step_flops
from .protocol import peak_memory_gb, reset_peak, sync, timed
from .standard import standard_loader
from .stream import stream_epoch


def compare(cfg, workers: int, warmup: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_ssl-bench-") as tmp:
        trainer = Trainer(cfg, "bench", tmp)
        out = _compare(trainer, workers, warmup, repeats)
        streamed = stream_epoch(cfg, trainer, warmup, repeats)
        out.update({"stream_epoch_s": streamed["median_s"], "stream_workers": streamed["workers"],
                    "stream_images_per_s": out["images_per_epoch"] / streamed["median_s"],
                    "stream_over_ours": streamed["median_s"] / out["ours_epoch_s"]})
        out["all_epoch_s"]["stream"] = streamed["all_s"]
        for name, key in (("graph", "train.graph"), ("compile", "train.compile")):  # (b) with the step captured
            variant = load_config(cfg, [f"{key}=true"])
            other = Trainer(variant, f"bench-{name}", Path(tmp) / name, data=trainer.data)
            state = {"step": 0}

            def epoch():
                _, state["step"] = other.train_epoch(0, state["step"])

            timing = timed(epoch, other.device, warmup, repeats)
            out[f"{name}_epoch_s"] = timing["median_s"]
            out[f"{name}_images_per_s"] = out["images_per_epoch"] / timing["median_s"]
            out["all_epoch_s"][name] = timing["all_s"]
        out["graph_captured"] = trainer.device.type == "cuda"  # on a CPU train.graph steps eagerly
        return out


def _compare(trainer: Trainer, workers: int, warmup: int, repeats: int) -> dict:
    device, data, b = trainer.device, trainer.data, trainer.cfg.optim.batch_size
    steps = trainer.steps_per_epoch
    images = steps * b
    state = {"step": 0}
    out: dict = {"images_per_epoch": images, "steps_per_epoch": steps, "peak_memory_gb": {}}

    def optimize(views, labels, idx):
        loss, _ = trainer.optimize(views, labels, idx, state["step"])
        state["step"] += 1
        return loss

    # (b) ours: the engine's real epoch
    def ours_epoch():
        _, state["step"] = trainer.train_epoch(0, state["step"])

    reset_peak(device)
    ours = timed(ours_epoch, device, warmup, repeats)
    out["peak_memory_gb"]["ours"] = peak_memory_gb(device)

    # augmentation alone, to see its share of our epoch
    order = torch.randperm(data.train_x.shape[0], device=device)
    batches = [order[i * b:(i + 1) * b] for i in range(steps)]

    def augment_epoch():
        for idx in batches:
            trainer.make_views(idx)

    augment = timed(augment_epoch, device, 1, repeats)

    # (c) compute only: the same steps on views made ahead of time, already on the device
    ready = [(trainer.make_views(idx), data.train_y[idx], idx) for idx in batches]
    sync(device)
    out["flops_per_step"] = step_flops(trainer, *ready[0], state["step"])  # one real step, counted (flops.py)
    state["step"] += 1

    def compute_epoch():
        for views, labels, idx in ready:
            optimize(views, labels, idx)

    reset_peak(device)
    compute = timed(compute_epoch, device, warmup, repeats)
    out["peak_memory_gb"]["compute_only"] = peak_memory_gb(device)
    del ready

    # (a) the standard recipe: PIL in DataLoader workers, host-to-device copies every step
    images_np = data.train_x.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    labels_np = data.train_y.cpu().numpy()
    loader = standard_loader(images_np, labels_np, batch_size=b, workers=workers, strength=trainer.cfg.augment.color.strength,
                             mean=data.mean.flatten().tolist(), std=data.std.flatten().tolist(),
                             pin_memory=device.type == "cuda")
    memory_format = torch.channels_last if trainer.channels_last else torch.contiguous_format

    def standard_epoch():
        for v1, v2, y, idx in loader:
            views = [v.to(device, non_blocking=True).contiguous(memory_format=memory_format) for v in (v1, v2)]
            optimize(views, y.to(device, non_blocking=True), idx.to(device, non_blocking=True))

    reset_peak(device)
    standard = timed(standard_epoch, device, warmup, repeats)
    out["peak_memory_gb"]["standard"] = peak_memory_gb(device)
    del loader

    # evaluation at compute speed: features of the un-augmented sets, then the linear protocol
    sync(device)
    t0 = time.perf_counter()
    ctx = trainer.eval_context()
    ctx.features()
    sync(device)
    t1 = time.perf_counter()
    trainer.evaluate(["linear"], ctx)
    sync(device)
    t2 = time.perf_counter()

    out.update({
        "standard_epoch_s": standard["median_s"],
        "ours_epoch_s": ours["median_s"],
        "compute_only_epoch_s": compute["median_s"],
        "augmentation_epoch_s": augment["median_s"],
        "standard_images_per_s": images / standard["median_s"],
        "ours_images_per_s": images / ours["median_s"],
        "compute_only_images_per_s": images / compute["median_s"],
        "augmentation_share": augment["median_s"] / ours["median_s"],
        "standard_over_ours": standard["median_s"] / ours["median_s"],
        "ours_over_compute_only": ours["median_s"] / compute["median_s"],
        "eval_features_s": t1 - t0,
        "eval_linear_s": t2 - t1,
        "eval_s": t2 - t0,
        "all_epoch_s": {"standard": standard["all_s"], "ours": ours["all_s"], "compute_only": compute["all_s"],
                        "augmentation": augment["all_s"]},
    })
    return out
