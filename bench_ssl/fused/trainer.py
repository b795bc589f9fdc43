"""K runs trained together as one fused model (`layers`), each still its own run.

Every run keeps what makes it itself: its seed (initial weights, data order, augmentations, and torch's global
stream, swapped in around its own draws), its method's loss and hyperparameters, its optimizer over its own
weights (learning rate and schedule, weight decay, LARS trust ratios on its own blocks), its EMA key encoder and
queue, its folder, metrics, checkpoints and result. Only the encoders' forward and backward run fused. A run
whose loss diverges fails alone (its folder says so) and the others go on; the checkpoints are those of runs
trained apart, so a fused group resumes fused or apart.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from datetime import datetime, timezone

import torch

from ..train import interrupt
from ..train.hold import hold_after_checkpoint
from ..train.loop import Trainer, resolve_device
from ..train.tensors import load_tensors
from .layers import NotFusable, fuse, split, stack_inputs, tie, tie_grads

log = logging.getLogger("bench_ssl.fused")


def fusion_key(cfg) -> tuple | None:
    """Runs with equal keys can train fused; None for a run that cannot (its method has no fused form, it trains
    over several ranks, or compiles its step). What may differ: seed, augmentations, loss and method
    hyperparameters, learning rate and schedule, weight decay, optimizer settings, evaluation, output."""
    from ..config import to_dict

    cls = cfg.method_class
    if not cls.fusable or cfg.train.world_size > 1 or cfg.train.compile or cfg.train.graph:
        return None
    d = to_dict(cfg)
    m = cfg.method.params
    bn = (m.shuffle_bn, m.bn_splits if m.shuffle_bn else None) if hasattr(m, "shuffle_bn") else None  # MoCo's BN layers
    return (cls.n_views, cls.fused_encoders, bn, repr(d["model"]), repr(d["data"]), cfg.optim.batch_size,
            cfg.optim.epochs, cfg.device, repr(d["train"]))


def check_fusable(cfgs: list) -> None:
    keys = [fusion_key(c) for c in cfgs]
    if None in keys:
        c = cfgs[keys.index(None)]
        raise NotFusable(f"run {c.name} cannot train fused: method {c.method.name} has no fused form, or it trains "
                         "over several ranks (train.devices) or compiles its step (train.compile, train.graph)")
    if len(set(keys)) > 1:
        raise NotFusable("runs train fused only with the same model, data, batch size, epochs, optimizer, device and "
                         "train settings (and methods with the same encoders)")


class FusedTrainer:
    def __init__(self, cfgs: list, run_ids: list[str], run_dirs: list):
        check_fusable(cfgs)
        device = resolve_device(cfgs[0].device)
        data = load_tensors(cfgs[0].data, device)  # one copy for all
        self.trainers, self.rng = [], []
        for cfg, rid, rd in zip(cfgs, run_ids, run_dirs):
            self.trainers.append(Trainer(cfg, rid, rd, data=data))
            self.rng.append(_rng_state())  # each run's global stream, as it stands after building its model
        self.k = len(self.trainers)
        methods = [t.method for t in self.trainers]
        self.sources = {name: [m.encoders()[name] for m in methods] for name in methods[0].encoders()}
        self.fused = {}
        for name, sources in self.sources.items():
            fused = fuse(sources)
            fused.requires_grad_(any(p.requires_grad for p in sources[0].parameters()))
            if self.trainers[0].channels_last:
                fused = fused.to(memory_format=torch.channels_last)
            tie(fused, sources)
            self.fused[name] = fused
        self.alive = list(range(self.k))

    # ----------------------------------------------------------------------------------------- a step
    @contextlib.contextmanager
    def own_rng(self, k: int):
        """Run k's draws from torch's global stream come from its own stream, as if it ran alone."""
        _set_rng_state(self.rng[k])
        try:
            yield
        finally:
            self.rng[k] = _rng_state()

    def step(self, batches: list[torch.Tensor], step: int) -> dict[int, torch.Tensor]:
        """One optimiser step of every live run on its own batch; their detached float32 losses."""
        ts, alive = self.trainers, self.alive
        views, labels, inputs = {}, {}, {}
        for k in alive:
            t, idx = ts[k], batches[k]
            views[k], labels[k] = t.make_views(idx), t.data.train_y[idx]
            with self.own_rng(k):
                inputs[k] = t.method.fused_inputs(views[k], labels[k], idx)
        for k in alive:
            ts[k].set_lr(step)
        filler = inputs[alive[0]]
        with ts[0].autocast():
            encoded = {}
            for name, fused in self.fused.items():
                x = stack_inputs([(inputs[k] if k in inputs else {n: torch.zeros_like(v) for n, v in filler.items()})[name]
                                  for k in range(self.k)])
                trains = any(p.requires_grad for p in fused.parameters())
                with contextlib.nullcontext() if trains else torch.no_grad():
                    encoded[name] = split(fused(x), self.k)
            losses = {}
            for k in alive:
                with self.own_rng(k):
                    losses[k] = ts[k].method.fused_loss({n: e[k] for n, e in encoded.items()}, views[k], labels[k],
                                                        batches[k])
        for fused in self.fused.values():
            fused.zero_grad(set_to_none=True)
        sum(losses.values()).backward()  # each run's weights get the gradient of its own loss only
        for name, fused in self.fused.items():
            tie_grads(fused, self.sources[name])
        for k in alive:
            ts[k].optimizer.step()
            ts[k].method.after_optimizer_step((step + 1) / ts[k].total_steps)
        return {k: loss.detach().float() for k, loss in losses.items()}

    # --------------------------------------------------------------------------------------- an epoch
    def save(self, k: int, progress: dict) -> None:
        with self.own_rng(k):  # the run's own global stream goes into its checkpoint
            self.trainers[k].save(progress)

    def train_epoch(self, epoch: int, step: int, resume: dict | None) -> tuple[dict[int, dict], int]:
        ts, first = self.trainers, resume["batch"] if resume else 0
        b, steps = ts[0].cfg.optim.batch_size, ts[0].steps_per_epoch
        orders, starts = [], []
        for k, t in enumerate(ts):
            g = t.generators["order"]
            if first:
                g.set_state(resume["order_epoch_start"][k])
            starts.append(g.get_state())
            orders.append(torch.randperm(t.data.train_x.shape[0], generator=g).to(t.device))
        for fused in self.fused.values():
            fused.train()
        for t in ts:
            t.method.train()
        sums = {k: torch.tensor(resume["partial"]["loss_sum"][k] if first else 0.0, device=ts[0].device)
                for k in self.alive}
        done_before = resume["partial"]["seconds"] if first else 0.0
        ts[0].sync()
        t0 = time.perf_counter()
        for i in range(first, steps):
            losses = self.step([o[i * b:(i + 1) * b] for o in orders], step)
            for k, loss in losses.items():
                sums[k] += loss
            step += 1
            if interrupt.stop_requested() is not None and i + 1 < steps:
                ts[0].sync()
                partial = {"seconds": done_before + time.perf_counter() - t0}
                for k in self.alive:
                    self.save(k, {"epoch": epoch, "step": step, "batch": i + 1, "order_epoch_start": starts[k],
                                  "partial": {**partial, "loss_sum": sums[k].item()}})
                raise interrupt.Interrupted(
                    f"runs {', '.join(ts[k].run_id for k in self.alive)} stopped by signal {interrupt.stop_requested()} "
                    f"in epoch {epoch + 1} after batch {i + 1}/{steps}; checkpoints saved, run them again to resume")
        ts[0].sync()
        seconds = done_before + time.perf_counter() - t0
        records = {}
        for k in list(self.alive):
            mean = sums[k].item() / steps
            if not math.isfinite(mean):
                self.fail(k, f"training diverged: the loss is {mean} in epoch {epoch + 1}; lower optim.lr or add "
                             "warm-up (optim.warmup_epochs)")
                continue
            records[k] = {"epoch": epoch + 1, "step": step, "loss": mean, "lr": ts[k].optimizer.param_groups[0]["lr"],
                          "epoch_s": seconds, "images_per_s": steps * b * self.k / seconds, "fused_runs": self.k}
        return records, step

    def fail(self, k: int, why: str) -> None:
        """Run k stops here and its folder says why; the others go on (its block of the fused model idles)."""
        t = self.trainers[k]
        log.error("run %s failed: %s (the %d other fused runs go on)", t.run_id, why, len(self.alive) - 1)
        t.run_dir.write_traceback(f"BenchSSLError: {why}\n")
        self.alive.remove(k)

    # ----------------------------------------------------------------------------------------- a run
    def load(self) -> dict | None:
        """Every run's checkpoint restored; their common progress (all at the same point), or None."""
        found = []
        for k, t in enumerate(self.trainers):
            with self.own_rng(k):
                found.append(t.load())
        if all(p is None for p in found):
            return None
        points = {None if p is None else (p["epoch"], p["batch"]) for p in found}
        if len(points) > 1:
            raise NotFusable(f"the runs stopped at different points (epoch, batch: {sorted(points, key=str)}); run "
                             "them apart to resume them")
        progress = dict(found[0])
        if progress["batch"]:
            progress["order_epoch_start"] = [p["order_epoch_start"] for p in found]
            progress["partial"] = {"seconds": found[0]["partial"]["seconds"],
                                   "loss_sum": [p["partial"]["loss_sum"] for p in found]}
        return progress

    def run(self, loggers: list) -> list[dict | None]:
        """Train every run to its last epoch and evaluate it; each run's result (None for one that failed)."""
        ts = self.trainers
        cfg = ts[0].cfg
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t_start = time.time()
        resumed = self.load()
        epoch, step = (resumed["epoch"], resumed["step"]) if resumed else (0, 0)
        if resumed:
            log.info("resumed %d fused runs from their checkpoints at epoch %d, batch %d", self.k, epoch, resumed["batch"])
        records = {}
        for k, t in enumerate(ts):
            records[k] = [r for r in t.run_dir.read_metrics() if r.get("epoch", 0) <= epoch]
            t.run_dir.write_metrics(records[k])
        mid_epoch = resumed if resumed and resumed["batch"] else None
        while epoch < cfg.optim.epochs and self.alive:
            epoch_records, step = self.train_epoch(epoch, step, mid_epoch)
            mid_epoch = None
            epoch += 1
            for k, record in epoch_records.items():
                t = ts[k]
                if t.cfg.eval.knn_every and epoch % t.cfg.eval.knn_every == 0:
                    record["knn_top1"] = t.evaluate(["knn"])["knn_top1"]
                records[k].append(record)
                t.run_dir.write_metrics(records[k])
                loggers[k].log_epoch(record)
                log.info("run %s epoch %d/%d  loss %.4f  lr %.4g%s", t.run_id, epoch, cfg.optim.epochs, record["loss"],
                         record["lr"], f"  knn {record['knn_top1']:.4f}" if "knn_top1" in record else "")
            if not self.alive:
                break
            every = [ts[k].cfg.output.checkpoint_every for k in self.alive]
            stop = interrupt.stop_requested() is not None
            if epoch == cfg.optim.epochs or stop or any(e and epoch % e == 0 for e in every):
                for k in self.alive:
                    self.save(k, {"epoch": epoch, "step": step, "batch": 0})
                if epoch < cfg.optim.epochs:
                    hold_after_checkpoint(",".join(ts[k].run_id for k in self.alive), epoch)
            if interrupt.stop_requested() is not None and epoch < cfg.optim.epochs:
                raise interrupt.Interrupted(f"runs {', '.join(ts[k].run_id for k in self.alive)} stopped by signal "
                                            f"{interrupt.stop_requested()} after epoch {epoch}; checkpoints saved, run "
                                            "them again to resume")
        train_time = time.time() - t_start
        results: list[dict | None] = [None] * self.k
        for k in self.alive:
            t = ts[k]
            t_eval = time.time()
            metrics = t.evaluate(t.cfg.eval.protocols)
            result = t.result(records[k], started=started, resumed=resumed, metrics=metrics, train_time=train_time,
                              eval_time=time.time() - t_eval)
            result["fused_with"] = [ts[j].run_id for j in range(self.k) if j != k]
            results[k] = result
        return results


def _rng_state() -> tuple:
    return torch.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None


def _set_rng_state(state: tuple) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])


__all__ = ["FusedTrainer", "NotFusable", "check_fusable", "fusion_key"]
