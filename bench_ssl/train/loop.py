"""Pretrain one model and evaluate it: the engine every sweep, report and study calls.

The data sits on the device as uint8; each step gathers a batch by index, augments it there with
per-sample random parameters, and runs the method's loss under bf16 autocast in channels_last on CUDA.
"""

from __future__ import annotations

import contextlib
import logging
import math
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm import tqdm

from ..augment import build_pipeline, to_float
from ..config import RunConfig, to_dict
from ..errors import BenchSSLError, ConfigError
from ..eval import EVALUATIONS, EvalContext
from ..loggers import Loggers
from ..methods import build_method
from ..optim import build_optimizer, lr_at
from ..output import environment
from ..results.run_dir import RunDir
from . import interrupt
from .checkpoint import load_checkpoint, save_checkpoint
from .hold import hold_after_checkpoint
from .tensors import TensorData, check_batch_size, load_tensors

log = logging.getLogger("bench_ssl.train")


def resolve_device(name: str) -> torch.device:
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' was asked for but no CUDA GPU is visible; use device=auto or device=cpu")
    return torch.device("cuda", torch.cuda.current_device())


def group_views(pipelines: list) -> list[tuple[object, list[int]]]:
    """[(pipeline, view indices)]: views whose pipelines are configured alike, in first-use order."""
    groups: dict[str, tuple[object, list[int]]] = {}
    for k, pipeline in enumerate(pipelines):
        groups.setdefault(repr(pipeline), (pipeline, []))[1].append(k)
    return list(groups.values())


class Trainer:
    def __init__(self, cfg: RunConfig, run_id: str, run_dir: RunDir | Path):
        self.cfg, self.run_id = cfg, run_id
        self.run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
        self.device = resolve_device(cfg.device)
        cuda = self.device.type == "cuda"
        self.bf16 = cfg.train.bf16 and cuda
        self.channels_last = cfg.train.channels_last and cuda
        torch.manual_seed(cfg.seed)
        t0 = time.time()
        self.data: TensorData = load_tensors(cfg.data, self.device)
        check_batch_size(cfg.optim.batch_size, self.data, cfg.data)
        for name in cfg.eval.protocols:  # a protocol the data cannot serve fails now, not after the pretraining
            check = getattr(EVALUATIONS[name], "check_data", None)
            if check is not None:
                check(cfg.eval.params[name], self.data, cfg)
        self.data_time_s = time.time() - t0
        self.method = build_method(cfg, self.data.train_x.shape[0], self.data.num_classes).to(self.device)
        self.method.bind_data(self.data.mean, self.data.std)
        if self.channels_last:
            self.method = self.method.to(memory_format=torch.channels_last)
        self.optimizer = build_optimizer(self.method, cfg.optim)
        self.generators = {
            "augment": torch.Generator(device=self.device).manual_seed(cfg.seed),
            "order": torch.Generator().manual_seed(cfg.seed),
        }
        a = cfg.augment
        views = [a.view1, a.view2] if a.view2 is not None else [a.view1]  # view2 is absent for one-view methods
        branches = [build_pipeline(v, {name: a.ops[name] for name in v}) for v in views]
        self.pipelines = [branches[i % 2] for i in range(self.method.n_views)]  # views alternate view1, view2
        self.view_groups = group_views(self.pipelines)
        self.step_fn = torch.compile(self.method.training_step) if cfg.train.compile else self.method.training_step
        # With compile, the augmentation's ~200 small launch-bound ops (parameters drawn eagerly, so the
        # random stream is unchanged) are fused too: uint8 -> float -> ops -> normalise in a few kernels.
        self.augment_fn = torch.compile(self.augment, dynamic=False) if cfg.train.compile else self.augment
        if cuda:
            torch.backends.cudnn.benchmark = True  # fixed shapes (drop_last): pick the fastest conv kernels once
        n, b = self.data.train_x.shape[0], cfg.optim.batch_size
        self.steps_per_epoch = n // b  # drop_last: every step sees a full batch of negatives
        self.total_steps = self.steps_per_epoch * cfg.optim.epochs
        self.warmup_steps = round(cfg.optim.warmup_epochs * self.steps_per_epoch)

    # ------------------------------------------------------------------ training
    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def save(self, progress: dict) -> None:
        save_checkpoint(self.run_dir, self.run_id, method=self.method, optimizer=self.optimizer,
                        generators=self.generators, progress=progress)

    def make_views(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Gather the batch (uint8, on the device) and augment it there: one view per pipeline.

        Views that share a pipeline (SimCLR's symmetric views) are augmented in one call on the batch
        repeated: every image still draws its own parameters, and the ops, which are launch-bound at
        these sizes, launch once instead of once per view.
        """
        x = self.data.train_x[idx]
        views: list = [None] * len(self.pipelines)
        for pipeline, members in self.view_groups:
            batch = x.repeat(len(members), 1, 1, 1) if len(members) > 1 else x
            params = pipeline.sample(batch.shape[0], batch.shape[-1], self.generators["augment"], batch.device)
            out = self.augment_fn(pipeline, batch, params)
            for k, view in zip(members, out.chunk(len(members))):
                views[k] = view
        return views

    def augment(self, pipeline, batch_uint8: torch.Tensor, params: list) -> torch.Tensor:
        """uint8 batch + drawn parameters -> normalised float views in the step's memory format."""
        out = self.data.normalize(pipeline.apply(to_float(batch_uint8), params))
        return out.contiguous(memory_format=torch.channels_last) if self.channels_last else out

    def optimize(self, views: list[torch.Tensor], labels: torch.Tensor, idx: torch.Tensor, step: int) -> tuple[torch.Tensor, float]:
        """One optimisation step at global step `step`: returns the (detached, float32) loss and the lr used."""
        o = self.cfg.optim
        lr = lr_at(step, self.total_steps, o.scaled_lr(), self.warmup_steps, schedule=o.schedule, min_lr=o.min_lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self.autocast():
            loss = self.step_fn(views, labels, idx)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.method.after_optimizer_step((step + 1) / self.total_steps)
        return loss.detach().float(), lr

    def train_epoch(self, epoch: int, step: int, resume: dict | None = None) -> tuple[dict, int]:
        """Train one epoch (from batch `resume['batch']` when resuming inside it); return its record and the step."""
        cfg, data = self.cfg, self.data
        b = cfg.optim.batch_size
        first = resume["batch"] if resume else 0
        if first:  # replay this epoch's permutation, then skip the batches already done
            self.generators["order"].set_state(resume["order_epoch_start"])
        order_start = self.generators["order"].get_state()
        order = torch.randperm(data.train_x.shape[0], generator=self.generators["order"]).to(self.device)
        self.method.train()
        loss_sum = torch.tensor(resume["partial"]["loss_sum"] if first else 0.0, device=self.device)
        done_before = resume["partial"]["seconds"] if first else 0.0
        show = sys.stderr.isatty() if cfg.output.progress is None else cfg.output.progress
        bar = tqdm(total=self.steps_per_epoch, initial=first, desc=f"epoch {epoch + 1}/{cfg.optim.epochs}",
                   leave=False, disable=not show, file=sys.stderr)
        self.sync()
        t0 = time.perf_counter()
        for i in range(first, self.steps_per_epoch):
            idx = order[i * b:(i + 1) * b]
            loss, lr = self.optimize(self.make_views(idx), data.train_y[idx], idx, step)
            loss_sum += loss
            step += 1
            if show and (i % 10 == 0 or i == self.steps_per_epoch - 1):
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.3g}")
            bar.update()
            if interrupt.stop_requested() is not None and i + 1 < self.steps_per_epoch:
                self.sync()
                partial = {"loss_sum": loss_sum.item(), "seconds": done_before + time.perf_counter() - t0}
                self.save({"epoch": epoch, "step": step, "batch": i + 1, "order_epoch_start": order_start, "partial": partial})
                bar.close()
                raise interrupt.Interrupted(
                    f"run {self.run_id} stopped by signal {interrupt.stop_requested()} in epoch {epoch + 1} after batch "
                    f"{i + 1}/{self.steps_per_epoch}; checkpoint saved, run the same config again to resume"
                )
        self.sync()
        seconds = done_before + time.perf_counter() - t0
        bar.close()
        mean_loss = loss_sum.item() / self.steps_per_epoch
        if not math.isfinite(mean_loss):
            raise BenchSSLError(
                f"training diverged: the loss is {mean_loss} in epoch {epoch + 1}; lower optim.lr or add warm-up (optim.warmup_epochs)"
            )
        images = self.steps_per_epoch * b
        record = {"epoch": epoch + 1, "step": step, "loss": mean_loss, "lr": lr, "epoch_s": seconds,
                  "images_per_s": images / seconds}
        return record, step

    # ---------------------------------------------------------------- evaluation
    def eval_context(self) -> EvalContext:
        """Features of the model as it is now, extracted on first use and shared by the protocols."""
        return EvalContext(self.cfg, self.method, self.data, bf16=self.bf16, channels_last=self.channels_last,
                           run_dir=self.run_dir)

    def evaluate(self, protocols: list[str], ctx: EvalContext | None = None) -> dict:
        """The metrics of each protocol (by name, in order), each with its own parameters (eval.<name>)."""
        ctx = ctx or self.eval_context()
        out: dict = {}
        for name in protocols:
            t0, shared = time.perf_counter(), ctx.features_time_s
            out.update(EVALUATIONS[name](ctx, self.cfg.eval.params[name]))
            self.sync()
            # each protocol's cost, for the README's table; the shared features are not charged to the first one
            out[f"{name}_time_s"] = time.perf_counter() - t0 - (ctx.features_time_s - shared)
        out["features_time_s"] = ctx.features_time_s
        return out

    # ---------------------------------------------------------------------- run
    def run(self, on_epoch=None) -> dict:
        """Train to the last epoch and evaluate. `on_epoch(record)` is called after each epoch's metrics
        (and checkpoint) are written; an exception it raises (e.g. an Optuna prune) ends the run there."""
        cfg, run_dir = self.cfg, self.run_dir
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t_start = time.time()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        resumed = load_checkpoint(run_dir, self.run_id, method=self.method, optimizer=self.optimizer,
                                  generators=self.generators)
        epoch, step = (resumed["epoch"], resumed["step"]) if resumed else (0, 0)
        if resumed:
            at = f" batch {resumed['batch']} of epoch {epoch + 1}" if resumed["batch"] else f" the end of epoch {epoch}"
            log.info("resumed %s from its checkpoint at%s", self.run_id, at)
        records = [r for r in run_dir.read_metrics() if r.get("epoch", 0) <= epoch]
        run_dir.write_metrics(records)  # forget epochs the checkpoint does not hold
        every = cfg.output.checkpoint_every
        mid_epoch = resumed if resumed and resumed["batch"] else None
        while epoch < cfg.optim.epochs:
            record, step = self.train_epoch(epoch, step, mid_epoch)
            mid_epoch = None
            epoch += 1
            if cfg.eval.knn_every and epoch % cfg.eval.knn_every == 0:
                record["knn_top1"] = self.evaluate(["knn"])["knn_top1"]
            records.append(record)
            run_dir.write_metrics(records)
            log.info("epoch %d/%d  loss %.4f  lr %.4g  %.1f s  %.0f img/s%s", epoch, cfg.optim.epochs, record["loss"],
                     record["lr"], record["epoch_s"], record["images_per_s"],
                     f"  knn {record['knn_top1']:.4f}" if "knn_top1" in record else "")
            if epoch == cfg.optim.epochs or (every and epoch % every == 0) or interrupt.stop_requested() is not None:
                self.save({"epoch": epoch, "step": step, "batch": 0})
                if epoch < cfg.optim.epochs:
                    hold_after_checkpoint(self.run_id, epoch)
            if on_epoch is not None:
                on_epoch(record)
            if interrupt.stop_requested() is not None and epoch < cfg.optim.epochs:
                raise interrupt.Interrupted(
                    f"run {self.run_id} stopped by signal {interrupt.stop_requested()} after epoch {epoch}; "
                    "checkpoint saved, run the same config again to resume"
                )
        train_time = time.time() - t_start

        t_eval = time.time()
        metrics = self.evaluate(cfg.eval.protocols)
        self.sync()
        eval_time = time.time() - t_eval
        log.info("%s", "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))
        return self.result(records, started=started, resumed=resumed, metrics=metrics, train_time=train_time,
                           eval_time=eval_time)

    def result(self, records: list[dict], *, started: str, resumed: dict | None, metrics: dict, train_time: float,
               eval_time: float) -> dict:
        cfg = self.cfg
        session = records[resumed["epoch"]:] if resumed else records
        # the first epoch of a session pays for warm-up and compilation; a run that crashed in its evaluation
        # resumes with no epoch left, and its timings are those of the earlier session
        timed = session[1:] or session or records[1:] or records
        peak_gpu = torch.cuda.max_memory_allocated(self.device) / 2**30 if self.device.type == "cuda" else None
        return {
            "run_id": self.run_id,
            "name": cfg.name,
            "status": "done",
            "method": cfg.method.name,
            "backbone": cfg.model.backbone,
            "epochs": cfg.optim.epochs,
            "seed": cfg.seed,
            "protocols": list(cfg.eval.protocols),
            **metrics,  # each protocol's, e.g. knn_top1, linear_top1, linear_top5, linear_weight_decay
            "final_loss": records[-1]["loss"],
            "epoch_time_s": statistics.median(r["epoch_s"] for r in timed),
            "images_per_s": statistics.median(r["images_per_s"] for r in timed),
            "train_time_s": train_time,
            "eval_time_s": eval_time,
            "data_time_s": self.data_time_s,
            "peak_gpu_mem_gb": peak_gpu,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "num_train": int(self.data.train_x.shape[0]),
            "num_test": int(self.data.test_x.shape[0]),
            "resumed_from_epoch": resumed["epoch"] if resumed else None,
            "started_at": started,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **environment(self.device),
            "config": to_dict(cfg),
        }


def train_and_evaluate(cfg: RunConfig, run_id: str, run_dir: RunDir | Path, on_epoch=None) -> dict:
    """Train (resuming from a checkpoint if one exists), evaluate, write result.json; return the result."""
    t0 = time.time()
    trainer = Trainer(cfg, run_id, run_dir)
    loggers = Loggers(cfg, run_id, trainer.run_dir)

    def each_epoch(record: dict) -> None:
        loggers.log_epoch(record)
        if on_epoch is not None:
            on_epoch(record)

    try:
        result = trainer.run(each_epoch)
        loggers.log_final(result)
    finally:
        loggers.close()
    result["wall_time_s"] = time.time() - t0
    trainer.run_dir.write_result(result)
    if not cfg.output.keep_checkpoint:
        trainer.run_dir.checkpoint.unlink(missing_ok=True)
    return result
