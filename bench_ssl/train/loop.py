"""Pretrain one model and evaluate it: the engine every sweep, report and study calls.

The data sits on the device as uint8; each step gathers a batch by index, augments it there with
per-sample random parameters, and runs the method's loss under bf16 autocast in channels_last on CUDA.
In a run of several ranks (train.devices x train.nodes) every rank holds the data, takes its slice of each
global batch, augments it with its own random stream and steps through DistributedDataParallel; rank 0 alone
writes the run folder and evaluates.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
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
from ..distributed import all_reduce_max, all_reduce_sum, world
from ..errors import BenchSSLError, ConfigError
from ..eval import EVALUATIONS, EvalContext
from ..loggers import Loggers
from ..methods import build_method
from ..optim import build_optimizer, lr_at
from ..output import environment
from ..results.run_dir import RunDir
from . import interrupt
from .checkpoint import load_checkpoint, random_state, save_checkpoint
from .hold import hold_after_checkpoint
from .tensors import TensorData, check_batch_size, load_tensors

log = logging.getLogger("bench_ssl.train")


def resolve_device(name: str) -> torch.device:
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' was asked for but no CUDA GPU is visible; use device=auto or device=cpu")
    return torch.device("cuda", torch.cuda.current_device())


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank `rank`'s own random streams: the run's seed on rank 0 (a one-rank run is unchanged),
    a stable mix of both elsewhere."""
    if rank == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}/{rank}".encode()).digest()[:8], "little") >> 1


def group_views(pipelines: list) -> list[tuple[object, list[int]]]:
    """[(pipeline, view indices)]: views whose pipelines are configured alike, in first-use order."""
    groups: dict[str, tuple[object, list[int]]] = {}
    for k, pipeline in enumerate(pipelines):
        groups.setdefault(repr(pipeline), (pipeline, []))[1].append(k)
    return list(groups.values())


class Trainer:
    def __init__(self, cfg: RunConfig, run_id: str, run_dir: RunDir | Path, data: TensorData | None = None):
        """`data`: the dataset already loaded for this config (runs trained together share one copy)."""
        self.cfg, self.run_id = cfg, run_id
        self.run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
        self.device = resolve_device(cfg.device)
        self.world = world()
        cuda = self.device.type == "cuda"
        self.bf16 = cfg.train.bf16 and cuda
        self.channels_last = cfg.train.channels_last and cuda
        if self.world.size != cfg.train.world_size:
            raise ConfigError(f"train.devices x train.nodes is {cfg.train.world_size} but this process is rank "
                              f"{self.world.rank} of {self.world.size}; start the run with python -m bench_ssl.run")
        if self.world.distributed and cfg.model.sync_bn and not cuda:
            raise ConfigError("model.sync_bn: torch's SyncBatchNorm runs on GPUs only; on CPU ranks each rank "
                              "normalises its own part of the batch: set model.sync_bn=false")
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        t0 = time.time()
        self.data: TensorData = load_tensors(cfg.data, self.device) if data is None else data
        check_batch_size(cfg.optim.batch_size, self.data, cfg.data)
        for name in cfg.eval.protocols:  # a protocol the data cannot serve fails now, not after the pretraining
            check = getattr(EVALUATIONS[name], "check_data", None)
            if check is not None:
                check(cfg.eval.params[name], self.data, cfg)
        self.data_time_s = time.time() - t0
        self.method = build_method(cfg, self.data.train_x.shape[0], self.data.num_classes).to(self.device)
        self.method.bind_data(self.data.mean, self.data.std)
        if self.world.distributed and cfg.model.sync_bn:
            self.method = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.method)
        if self.channels_last:
            self.method = self.method.to(memory_format=torch.channels_last)
        self.optimizer = build_optimizer(self.method, cfg.optim)
        # the batch order is the run's (the same on every rank); the augmentations are each rank's own
        seed = rank_seed(cfg.seed, self.world.rank)
        self.generators = {
            "augment": torch.Generator(device=self.device).manual_seed(seed),
            "order": torch.Generator().manual_seed(cfg.seed),
        }
        self.local_batch = cfg.optim.batch_size // self.world.size
        model = self.method.training_step
        if self.world.distributed:
            torch.manual_seed(seed)  # each rank's own draws from torch's global stream from here on
            # buffers stay per rank: queues and memory banks are kept equal by the methods' own gathers, and
            # broadcasting them every step would move megabytes for nothing
            ddp = torch.nn.parallel.DistributedDataParallel
            per_rank = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(ddp).parameters
                        else {"broadcast_buffers": False})  # the name before torch 2.14
            model = ddp(self.method, device_ids=[self.device.index] if cuda else None, **per_rank)
        a = cfg.augment
        views = [a.view1, a.view2] if a.view2 is not None else [a.view1]  # view2 is absent for one-view methods
        branches = [build_pipeline(v, {name: a.ops[name] for name in v}) for v in views]
        self.pipelines = [branches[i % 2] for i in range(self.method.n_views)]  # views alternate view1, view2
        self.view_groups = group_views(self.pipelines)
        # With compile, the augmentation's ~200 small launch-bound ops (parameters drawn eagerly, so the
        # random stream is unchanged) are fused too: uint8 -> float -> ops -> normalise in a few kernels. With
        # train.graph on CUDA the compiled step and augmentation also replay as CUDA graphs (reduce-overhead:
        # static input buffers, a warm-up before capture), so a step costs a few launches instead of hundreds.
        mode = None
        if cfg.train.graph:
            if cuda:
                mode = "reduce-overhead"
            else:
                log.info("train.graph: CUDA graphs need a GPU; run %s steps eagerly on %s", run_id, self.device)
        compiled = cfg.train.compile or mode is not None
        self.step_fn = torch.compile(model, mode=mode) if compiled else model
        self.augment_fn = torch.compile(self.augment, dynamic=False, mode=mode) if compiled else self.augment
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
        """Rank 0 writes the checkpoint, with every rank's random streams (all ranks must call this)."""
        ranks = None
        if self.world.distributed:
            ranks = [None] * self.world.size
            torch.distributed.all_gather_object(ranks, random_state(self.generators))
        if self.world.main:
            save_checkpoint(self.run_dir, self.run_id, method=self.method, optimizer=self.optimizer,
                            generators=self.generators, progress=progress, ranks=ranks)

    def load(self) -> dict | None:
        """The checkpoint's progress (None: start from scratch), restored on every rank. Rank 0 looks first (and
        may move a foreign file aside); the others load it only once rank 0 has accepted it."""
        kw = dict(method=self.method, optimizer=self.optimizer, generators=self.generators)
        resumed = load_checkpoint(self.run_dir, self.run_id, **kw) if self.world.main else None
        if self.world.distributed:
            found = [resumed is not None]
            torch.distributed.broadcast_object_list(found, src=0)
            if found[0] and not self.world.main:
                resumed = load_checkpoint(self.run_dir, self.run_id, rank=self.world.rank, **kw)
        return resumed

    def stop_requested(self) -> bool:
        """Whether any rank was asked to stop: all ranks stop at the same step."""
        asked = interrupt.stop_requested() is not None
        if not self.world.distributed:
            return asked
        return bool(all_reduce_max(torch.tensor([int(asked)], device=self.device)).item())

    @staticmethod
    def stop_signal() -> str:
        sig = interrupt.stop_requested()
        return str(sig) if sig is not None else "(on another rank)"

    def make_views(self, idx: torch.Tensor, x: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Gather the batch (uint8, on the device; this rank's part of it) and augment it there: one view per pipeline.

        Views that share a pipeline (SimCLR's symmetric views) are augmented in one call on the batch
        repeated: every image still draws its own parameters, and the ops, which are launch-bound at
        these sizes, launch once instead of once per view.
        """
        x = self.data.train_x[idx] if x is None else x  # x: the batch already read (data.storage=stream)
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

    def set_lr(self, step: int) -> float:
        """The schedule's learning rate at global step `step`, set on every parameter group."""
        o = self.cfg.optim
        lr = lr_at(step, self.total_steps, o.scaled_lr(), self.warmup_steps, schedule=o.schedule, min_lr=o.min_lr)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def optimize(self, views: list[torch.Tensor], labels: torch.Tensor, idx: torch.Tensor, step: int) -> tuple[torch.Tensor, float]:
        """One optimisation step at global step `step`: returns the (detached, float32) loss and the lr used."""
        lr = self.set_lr(step)
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
        show = (sys.stderr.isatty() if cfg.output.progress is None else cfg.output.progress) and self.world.main
        bar = tqdm(total=self.steps_per_epoch, initial=first, desc=f"epoch {epoch + 1}/{cfg.optim.epochs}",
                   leave=False, disable=not show, file=sys.stderr)
        self.sync()
        t0 = time.perf_counter()
        mine = slice(self.world.rank * self.local_batch, (self.world.rank + 1) * self.local_batch)
        streamed = not isinstance(data.train_x, torch.Tensor)  # the files are read ahead, batch by batch
        if streamed:
            ahead = iter(data.train_x.batches([order[i * b:(i + 1) * b][mine] for i in range(first, self.steps_per_epoch)],
                                              pin=self.device.type == "cuda"))
        for i in range(first, self.steps_per_epoch):
            idx = order[i * b:(i + 1) * b][mine]
            x = next(ahead) if streamed else None
            loss, lr = self.optimize(self.make_views(idx, x), data.train_y[idx], idx, step)
            loss_sum += loss
            step += 1
            if show and (i % 10 == 0 or i == self.steps_per_epoch - 1):
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.3g}")
            bar.update()
            if self.stop_requested() and i + 1 < self.steps_per_epoch:
                self.sync()
                # the ranks' mean, from which every rank resumes: their mean is then the batch's again
                partial = {"loss_sum": all_reduce_sum(loss_sum.clone()).item() / self.world.size,
                           "seconds": done_before + time.perf_counter() - t0}
                self.save({"epoch": epoch, "step": step, "batch": i + 1, "order_epoch_start": order_start, "partial": partial})
                bar.close()
                raise interrupt.Interrupted(
                    f"run {self.run_id} stopped by signal {self.stop_signal()} in epoch {epoch + 1} after batch "
                    f"{i + 1}/{self.steps_per_epoch}; checkpoint saved, run the same config again to resume"
                )
        self.sync()
        seconds = done_before + time.perf_counter() - t0
        bar.close()
        # each rank's loss is the mean over its own anchors; their mean is the whole batch's
        mean_loss = all_reduce_sum(loss_sum).item() / self.world.size / self.steps_per_epoch
        if not math.isfinite(mean_loss):
            raise BenchSSLError(
                f"training diverged: the loss is {mean_loss} in epoch {epoch + 1}; lower optim.lr or add warm-up (optim.warmup_epochs)"
            )
        images = self.steps_per_epoch * b
        record = {"epoch": epoch + 1, "step": step, "loss": mean_loss, "lr": lr, "epoch_s": seconds,
                  "images_per_s": images / seconds}
        if streamed:
            skipped = data.train_x.take_skipped()
            if skipped:
                record["skipped_images"] = len(skipped)
                log.warning("epoch %d: %d unreadable image(s) replaced by another image of their batch "
                            "(data.on_corrupt=skip), e.g. %s", epoch + 1, len(skipped), skipped[0])
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
        resumed = self.load()
        epoch, step = (resumed["epoch"], resumed["step"]) if resumed else (0, 0)
        main = self.world.main
        if resumed and main:
            at = f" batch {resumed['batch']} of epoch {epoch + 1}" if resumed["batch"] else f" the end of epoch {epoch}"
            log.info("resumed %s from its checkpoint at%s", self.run_id, at)
        records = [r for r in run_dir.read_metrics() if r.get("epoch", 0) <= epoch]
        if main:
            run_dir.write_metrics(records)  # forget epochs the checkpoint does not hold
        every = cfg.output.checkpoint_every
        mid_epoch = resumed if resumed and resumed["batch"] else None
        while epoch < cfg.optim.epochs:
            record, step = self.train_epoch(epoch, step, mid_epoch)
            mid_epoch = None
            epoch += 1
            if main:  # the other ranks go on to the next step's collectives and wait there
                if cfg.eval.knn_every and epoch % cfg.eval.knn_every == 0:
                    record["knn_top1"] = self.evaluate(["knn"])["knn_top1"]
                records.append(record)
                run_dir.write_metrics(records)
                log.info("epoch %d/%d  loss %.4f  lr %.4g  %.1f s  %.0f img/s%s", epoch, cfg.optim.epochs,
                         record["loss"], record["lr"], record["epoch_s"], record["images_per_s"],
                         f"  knn {record['knn_top1']:.4f}" if "knn_top1" in record else "")
            stop = self.stop_requested()
            if epoch == cfg.optim.epochs or (every and epoch % every == 0) or stop:
                self.save({"epoch": epoch, "step": step, "batch": 0})
                if epoch < cfg.optim.epochs:
                    if main:
                        hold_after_checkpoint(self.run_id, epoch)
                    stop = self.stop_requested()  # a signal that ended the hold
            if on_epoch is not None and main:
                on_epoch(record)
            if stop and epoch < cfg.optim.epochs:
                raise interrupt.Interrupted(
                    f"run {self.run_id} stopped by signal {self.stop_signal()} after epoch {epoch}; "
                    "checkpoint saved, run the same config again to resume"
                )
        train_time = time.time() - t_start
        if not main:
            return {}  # rank 0 evaluates and writes the result

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
        if not trainer.world.main:
            return result
        loggers.log_final(result)
    finally:
        loggers.close()
    result["wall_time_s"] = time.time() - t0
    trainer.run_dir.write_result(result)
    if not cfg.output.keep_checkpoint:
        trainer.run_dir.checkpoint.unlink(missing_ok=True)
    return result
