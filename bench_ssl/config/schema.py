"""The run config: the engine's own sections, typed, with the defaults of the SimCLR CIFAR-10 recipe.

What a component takes is not written here: `method`, `model` (backbone and head), `optim` (the optimizer),
`augment` (each op) and `eval` (each protocol) ask the registries for the chosen components' parameter
dataclasses, declared in the components' own files (see `sections`). Cross-section rules of a component live
in its params' `check(where, cfg)`; the few rules of the engine itself are in `RunConfig.check`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..loggers import LOGGERS
from ..params import choice, param, params_of
from ..registry import METHODS
from .sections import components

DEVICES = ("auto", "cpu", "cuda")
DATA_FORMATS = ("auto", "cifar10", "cifar100", "stl10", "imagefolder")
SCHEDULES = ("cosine", "constant", "step")
LR_SCALING = ("none", "linear", "sqrt")
STORAGES = ("memory", "stream")
ON_CORRUPT = ("error", "skip")


def many_of(registry: str, lists: tuple[str, ...], also: dict | None = None):
    """A mapping of entry name -> parameters, for the entries that the fields `lists` name (filled on load);
    `also` {entry: field}: that entry is used too whenever that field is set (the kNN monitor)."""
    return field(default_factory=dict, metadata={"many_of": registry, "lists": lists, "also": also or {}})


def later(f):
    """A field added after runs were stored: left out of the config (and the run id) at its default."""
    f.metadata = {**f.metadata, "omit_default": True}
    return f


class _Delegating:
    """`cfg.method.temperature` reads the chosen component's parameter (searched through nested choices).

    A section made in Python (`OptimConfig(name="sgd")`) gets its components' default parameters."""

    def __post_init__(self):
        from .sections import default_params

        default_params(self)

    def __getattr__(self, key):
        if key.startswith("__"):
            raise AttributeError(key)
        for f in dataclasses.fields(self):
            if f.metadata.get("params_of") or f.metadata.get("many_of"):
                value = object.__getattribute__(self, f.name)
                found = _find(value, key)
                if found is not _MISSING:
                    return found
        raise AttributeError(f"{type(self).__name__} has no {key!r}")


_MISSING = object()


def _find(value, key):
    if isinstance(value, dict):
        return value.get(key, _MISSING)
    if value is None or not dataclasses.is_dataclass(value):
        return _MISSING
    names = {f.name: f for f in dataclasses.fields(value)}
    if key in names:
        return getattr(value, key)
    for f in names.values():
        if f.metadata.get("params_of"):
            found = _find(getattr(value, f.name), key)
            if found is not _MISSING:
                return found
    return _MISSING


@dataclass
class DataConfig:
    """`root` empty: `$BENCH_SSL_DATA`, else CIFAR-10 in the user cache, downloaded there on first use (see
    `bench_ssl.data.location`); the resolved path is what the config (and so the run id) holds."""

    root: str = ""
    format: str = param("auto", choices=DATA_FORMATS)
    image_size: int | None = param(None, low=1)
    train_per_class: int | None = param(None, low=1)
    test_per_class: int | None = param(None, low=1)
    classes: list[str] | None = field(default=None, metadata={
        **param(None, nonempty=True).metadata, "omit_none": True, "help": "keep only these classes (by name), relabelled 0..k-1 in this order: a split of a "
                                   "dataset's classes (pretrain on 5 of CIFAR-10's, transfer to the other 5) or "
                                   "ImageNet-100 from ImageNet"})
    subset_seed: int = 0
    stl10_unlabeled: bool = False
    cache_dir: str | None = None
    download: bool = False
    storage: str = later(param("memory", choices=STORAGES, help="memory: decoded once into memory (and cached); "
                               "stream: an ImageFolder read file by file in background workers, for sets larger "
                               "than memory"))
    workers: int | None = field(default=None, metadata={**param(None, low=0).metadata, "omit_none": True,
                                "help": "stream: decoding worker processes (unset: up to 8, one per CPU)"})
    on_corrupt: str = later(param("error", choices=ON_CORRUPT, help="stream: an image that does not decode stops the "
                                  "run with its name (error), or is replaced by another image of its batch and "
                                  "counted in the log (skip)"))

    def check(self, where: str, cfg) -> None:
        if self.storage == "stream" and self.format not in ("auto", "imagefolder"):
            raise ConfigError(f"{where}.storage: stream reads ImageFolder trees (a folder, an uncompressed .tar or .tar "
                              f"shards), not {where}.format={self.format}; use {where}.storage=memory")


@dataclass
class AugmentConfig(_Delegating):
    """Which ops each branch applies (in order), and the parameters of each op listed.

    `view1: [crop, color]`, `view2: [crop]` is the asymmetric protocol of SimCLR Fig. 5. Methods with one view
    (supervised, memory_bank) use view1 only: view2 does not apply to them."""

    view1: list[str] = param(["crop", "flip", "color"])
    view2: list[str] | None = field(default_factory=lambda: ["crop", "flip", "color"], metadata={"omit_none": True})
    ops: dict = many_of("augmentation", ("view1", "view2"))


@dataclass
class HeadConfig(_Delegating):
    type: str = choice("mlp", "head", help="none | linear | mlp: the projection head g(.)")
    params: object = params_of("type")


@dataclass
class ModelConfig(_Delegating):
    backbone: str = choice("resnet18", "backbone")
    head: HeadConfig | None = field(default_factory=HeadConfig, metadata={"omit_none": True})
    sync_bn: bool = later(param(False, help="with several ranks, BatchNorm over the whole batch (SyncBN) instead of "
                                             "each rank's part"))
    params: object = params_of("backbone")

    def check(self, where: str, cfg) -> None:
        if self.sync_bn and getattr(cfg.method.params, "shuffle_bn", False):
            raise ConfigError(f"{where}.sync_bn: true would undo {cfg.method.name}'s shuffling BN, which keeps BN "
                              "statistics per GPU on purpose; set method.shuffle_bn=false or model.sync_bn=false")


@dataclass
class MethodConfig(_Delegating):
    """The method (`name`) and the parameters it takes, declared in its file under bench_ssl/methods/."""

    name: str = choice("simclr", "method")
    params: object = params_of("name")


@dataclass
class OptimConfig(_Delegating):
    name: str = choice("lars", "optimizer")
    lr: float = param(1.0, low=0.0, low_open=True)
    lr_scaling: str = param("none", choices=LR_SCALING, help="linear: lr * batch/256, sqrt: lr * sqrt(batch)")
    batch_size: int = param(512, low=2)
    epochs: int = param(20, low=1)
    weight_decay: float = param(1e-6, low=0.0)
    warmup_epochs: float = param(2.0, low=0.0)
    schedule: str = param("cosine", choices=SCHEDULES)
    min_lr: float = param(0.0, low=0.0)
    exclude_bias_bn: bool = param(True, help="no weight decay and no LARS adaptation for biases and BN")
    params: object = params_of("name")

    def check(self, where: str, cfg) -> None:
        if self.warmup_epochs > self.epochs:
            raise ConfigError(f"{where}.warmup_epochs: {self.warmup_epochs!r} is out of range; allowed: [0.0, "
                              f"{float(self.epochs)}] (at most optim.epochs)")

    def scaled_lr(self) -> float:
        if self.lr_scaling == "linear":
            return self.lr * self.batch_size / 256
        if self.lr_scaling == "sqrt":
            return self.lr * self.batch_size**0.5
        return self.lr


@dataclass
class TrainConfig:
    """How the step runs on the hardware; bf16 and channels_last apply on CUDA only.

    `devices` x `nodes` ranks train one run with DDP (see `bench_ssl.distributed`): optim.batch_size stays the
    global batch, split evenly over the ranks."""

    bf16: bool = True
    channels_last: bool = True
    compile: bool = False
    graph: bool = later(param(False, help="CUDA: the step (augmentation apply, forward, loss, backward) captured as "
                                          "CUDA graphs by torch.compile(mode='reduce-overhead'); on a CPU it steps "
                                          "eagerly and says so in one line"))
    devices: int = later(param(1, low=1, help="ranks (GPUs, or CPU processes) per node training this one run"))
    nodes: int = later(param(1, low=1, help="nodes, each running `devices` ranks (Slurm: one task per rank)"))
    dist_timeout_s: float = later(param(300.0, low=0.0, low_open=True,
                                        help="seconds a rank waits for the others to join before it fails"))

    @property
    def world_size(self) -> int:
        return self.devices * self.nodes

    def check(self, where: str, cfg) -> None:
        if self.graph and self.world_size > 1:
            raise ConfigError(f"{where}.graph: capturing the step of a run over {self.world_size} ranks is not supported "
                              f"yet; set {where}.graph=false or {where}.devices=1")
        b = cfg.optim.batch_size
        if b % self.world_size:
            lower, upper = b // self.world_size * self.world_size, (b // self.world_size + 1) * self.world_size
            raise ConfigError(
                f"optim.batch_size: {b} does not split evenly over {self.world_size} ranks ({where}.devices "
                f"{self.devices} x {where}.nodes {self.nodes}); use a multiple of {self.world_size}, e.g. "
                f"{lower or upper} or {upper}")


@dataclass
class EvalConfig(_Delegating):
    """The evaluations run on the final model (`protocols`, by name) and the kNN monitor during training."""

    protocols: list[str] = param(["knn", "linear"], distinct=True, help="evaluations of the final backbone, in order")
    knn_every: int = param(0, low=0, help="epochs between kNN evaluations during training; 0: only at the end")
    batch_size: int = param(1024, low=1, help="images per batch when extracting features")
    params: dict = many_of("evaluation", ("protocols",), also={"knn": "knn_every"})


@dataclass
class OutputConfig:
    """Where and how results are written; not part of the run id."""

    root: str = "results"
    checkpoint_every: int = param(5, low=0, help="epochs; 0: only at the end")
    keep_checkpoint: bool = True
    progress: bool | None = None  # a progress bar; None: when stderr is a terminal
    loggers: list[str] = param([], choices=tuple(LOGGERS), distinct=True,
                               help="experiment trackers that get each epoch's metrics and the config")

    def check(self, where: str, cfg) -> None:
        from ..loggers import check_available

        check_available(self.loggers)


@dataclass
class RunConfig:
    name: str = "default"
    seed: int = param(0, low=0)
    device: str = param("auto", choices=DEVICES)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    @property
    def method_class(self):
        return METHODS[self.method.name]

    def resolve(self) -> None:
        """Drop what does not apply to this run given its method: view2 (and the ops only it lists) for
        one-view methods, the head for methods without one."""
        cls = self.method_class
        if cls.n_views < 2:
            self.augment.view2 = None
        used = set(self.augment.view1) | set(self.augment.view2 or [])
        self.augment.ops = {k: v for k, v in self.augment.ops.items() if k in used}
        if not cls.uses_head:
            self.model.head = None

    def check(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            raise ConfigError(f"name: {self.name!r} is not a valid folder name; use letters, digits, '.', '_' and '-'")
        sections = [("data", self.data), ("model", self.model), ("optim", self.optim), ("train", self.train),
                    ("output", self.output)]
        for where, params in [*sections, *components(self)]:
            hook = getattr(params, "check", None)
            if callable(hook):
                hook(where, self)
        if self.method_class.needs_labels and self.data.stl10_unlabeled:
            raise ConfigError(
                f"data.stl10_unlabeled: true adds unlabeled images, but method.name={self.method.name!r} needs a label "
                f"for every training image; set data.stl10_unlabeled=false"
            )


# Keys that say where things go rather than what is computed: left out of the run id.
NOT_HASHED = ("name", "output", "data.cache_dir", "data.download", "data.workers", "train.dist_timeout_s")

__all__ = ["AugmentConfig", "DataConfig", "EvalConfig", "HeadConfig", "MethodConfig", "ModelConfig", "NOT_HASHED",
           "OptimConfig", "OutputConfig", "RunConfig", "TrainConfig"]
