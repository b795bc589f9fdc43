"""The run config: typed dataclasses with the defaults of the SimCLR CIFAR-10 recipe.

Each section validates its own values (`check`), so an impossible value is rejected at load time with
the key path, the bad value and what is allowed. Cross-section checks live in `RunConfig.check`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ..augment import AUGMENTATIONS
from ..errors import ConfigError
from ..losses import LOSSES
from ..methods import METHODS
from ..models import BACKBONES
from .checks import (
    check_choice,
    check_int,
    check_prob,
    check_range,
    check_real,
)

HEADS = ("none", "linear", "mlp")
OPTIMIZERS = ("sgd", "lars", "adamw")
SCHEDULES = ("cosine", "constant")
LR_SCALING = ("none", "linear", "sqrt")
LINEAR_SOLVERS = ("lbfgs", "sgd")
DEVICES = ("auto", "cpu", "cuda")
DATA_FORMATS = ("auto", "cifar10", "cifar100", "stl10", "imagefolder")


@dataclass
class DataConfig:
    root: str = ""
    format: str = "auto"
    image_size: int | None = None
    train_per_class: int | None = None
    test_per_class: int | None = None
    subset_seed: int = 0
    stl10_unlabeled: bool = False
    cache_dir: str | None = None
    download: bool = False

    def check(self, p: str) -> None:
        if not self.root:
            raise ConfigError(f"{p}.root is empty; set it to a dataset folder or .tar.gz, e.g. --set {p}.root=../shared/datasets/cifar10-jpg.tar.gz")
        check_choice(f"{p}.format", self.format, DATA_FORMATS)
        for name in ("image_size", "train_per_class", "test_per_class"):
            value = getattr(self, name)
            if value is not None:
                check_int(f"{p}.{name}", value, low=1)


@dataclass
class CropParams:
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)

    def check(self, p: str) -> None:
        check_range(f"{p}.scale", self.scale, low=0.0, high=1.0, low_open=True)
        check_range(f"{p}.ratio", self.ratio, low=0.0, low_open=True)


@dataclass
class FlipParams:
    p: float = 0.5

    def check(self, p: str) -> None:
        check_prob(f"{p}.p", self.p)


@dataclass
class ColorParams:
    strength: float = 0.5
    p: float = 0.8
    gray_p: float = 0.2
    random_order: bool = True

    def check(self, p: str) -> None:
        check_real(f"{p}.strength", self.strength, low=0.0)
        check_prob(f"{p}.p", self.p)
        check_prob(f"{p}.gray_p", self.gray_p)


@dataclass
class BlurParams:
    p: float = 0.5
    sigma: tuple[float, float] = (0.1, 2.0)
    kernel_frac: float = 0.1

    def check(self, p: str) -> None:
        check_prob(f"{p}.p", self.p)
        check_range(f"{p}.sigma", self.sigma, low=0.0, low_open=True)
        check_real(f"{p}.kernel_frac", self.kernel_frac, low=0.0, high=1.0, low_open=True)


@dataclass
class CutoutParams:
    p: float = 1.0
    size: float = 0.5
    fill: float = 0.0

    def check(self, p: str) -> None:
        check_prob(f"{p}.p", self.p)
        check_real(f"{p}.size", self.size, low=0.0, high=1.0, low_open=True)
        check_real(f"{p}.fill", self.fill, low=0.0, high=1.0)


@dataclass
class SobelParams:
    p: float = 1.0

    def check(self, p: str) -> None:
        check_prob(f"{p}.p", self.p)


@dataclass
class NoiseParams:
    p: float = 1.0
    std: float = 0.1

    def check(self, p: str) -> None:
        check_prob(f"{p}.p", self.p)
        check_real(f"{p}.std", self.std, low=0.0)


@dataclass
class RotateParams:
    p: float = 1.0
    angles: tuple[int, ...] = (0, 90, 180, 270)

    def check(self, p: str) -> None:
        check_prob(f"{p}.p", self.p)
        if not self.angles:
            raise ConfigError(f"{p}.angles is empty; give some of 0, 90, 180, 270")
        for i, a in enumerate(self.angles):
            check_choice(f"{p}.angles[{i}]", a, (0, 90, 180, 270))


@dataclass
class SolarizeParams:
    p: float = 0.2
    threshold: float = 0.5

    def check(self, p: str) -> None:
        check_prob(f"{p}.p", self.p)
        check_real(f"{p}.threshold", self.threshold, low=0.0, high=1.0)


@dataclass
class AugmentConfig:
    """Which ops each branch applies (in order) and the parameters of every op.

    `view1: [crop, color]`, `view2: [crop]` is the asymmetric protocol of SimCLR Fig. 5.
    """

    view1: list[str] = field(default_factory=lambda: ["crop", "flip", "color"])
    view2: list[str] = field(default_factory=lambda: ["crop", "flip", "color"])
    crop: CropParams = field(default_factory=CropParams)
    flip: FlipParams = field(default_factory=FlipParams)
    color: ColorParams = field(default_factory=ColorParams)
    blur: BlurParams = field(default_factory=BlurParams)
    cutout: CutoutParams = field(default_factory=CutoutParams)
    sobel: SobelParams = field(default_factory=SobelParams)
    noise: NoiseParams = field(default_factory=NoiseParams)
    rotate: RotateParams = field(default_factory=RotateParams)
    solarize: SolarizeParams = field(default_factory=SolarizeParams)

    def check(self, p: str) -> None:
        for view in ("view1", "view2"):
            for i, name in enumerate(getattr(self, view)):
                check_choice(f"{p}.{view}[{i}]", name, tuple(AUGMENTATIONS))
        for name in AUGMENTATIONS:
            getattr(self, name).check(f"{p}.{name}")

    def op_params(self, name: str) -> dict:
        return asdict(getattr(self, name))


@dataclass
class HeadConfig:
    type: str = "mlp"
    hidden_dim: int | None = None  # None: the backbone's feature dimension
    out_dim: int = 128
    layers: int = 2
    batch_norm: bool = True

    def check(self, p: str) -> None:
        check_choice(f"{p}.type", self.type, HEADS)
        check_int(f"{p}.out_dim", self.out_dim, low=1)
        check_int(f"{p}.layers", self.layers, low=2 if self.type == "mlp" else 1)
        if self.hidden_dim is not None:
            check_int(f"{p}.hidden_dim", self.hidden_dim, low=1)


@dataclass
class ModelConfig:
    backbone: str = "resnet18"
    cifar_stem: bool = True
    head: HeadConfig = field(default_factory=HeadConfig)

    def check(self, p: str) -> None:
        check_choice(f"{p}.backbone", self.backbone, tuple(BACKBONES))
        self.head.check(f"{p}.head")


@dataclass
class MethodConfig:
    """The method (`name`) and its knobs; each knob is read only by the methods named in its comment."""

    name: str = "simclr"
    loss: str = "nt_xent"  # simclr only: its pair loss (the others have their own: infonce, supcon, ...)
    temperature: float = 0.5  # simclr, moco, memory_bank, end_to_end, supcon (papers: 0.5, 0.07 v1 / 0.2 v2, 0.07, 0.1)
    normalize: bool = True  # L2-normalise projections (and stored keys) before dot products
    margin: float = 0.5  # simclr margin_triplet
    semi_hard: bool = False  # simclr nt_logistic / margin_triplet
    momentum: float = 0.999  # moco: key encoder theta_k <- m theta_k + (1 - m) theta_q; 0 = plain copy
    queue_size: int = 4096  # moco: K keys in the queue (a multiple of optim.batch_size; paper: 65536)
    shuffle_bn: bool = True  # moco: shuffling BN, emulated with bn_splits BN sub-batches
    bn_splits: int = 8  # moco with shuffle_bn: BN sub-batches ("GPUs"); divides optim.batch_size
    num_negatives: int | None = None  # memory_bank: K negatives per step; None: queue_size, so one K sweeps both
    bank_momentum: float = 0.5  # memory_bank: v <- normalize(b v + (1 - b) q) when the image is seen
    supcon_variant: str = "out"  # supcon: out = L_out^sup, in = L_in^sup
    predictor_hidden_dim: int | None = None  # byol, simsiam: None = the projector's hidden width (byol), out_dim/4 (simsiam)
    target_momentum: float = 0.99  # byol: base tau of the target network (paper: 0.996 for 1000 epochs)
    target_schedule: str = "cosine"  # byol: cosine = tau to 1 over training, constant = tau fixed

    SUPCON_VARIANTS = ("out", "in")  # class constants, not config keys
    TARGET_SCHEDULES = ("cosine", "constant")

    def check(self, p: str) -> None:
        check_choice(f"{p}.name", self.name, tuple(METHODS))
        try:
            check_choice(f"{p}.loss", self.loss, tuple(LOSSES))
        except ConfigError as exc:
            others = ", ".join(n for n in METHODS if n != "simclr")
            raise ConfigError(f"{exc} (simclr's losses; the other methods bring their own: method.name: {others})") from None
        if self.name != "simclr" and self.loss != "nt_xent":
            raise ConfigError(
                f"{p}.loss: {self.loss!r} applies only to method.name=simclr, not {self.name!r} (which has its own loss); "
                f"drop {p}.loss or use method.name=simclr"
            )
        check_real(f"{p}.temperature", self.temperature, low=0.0, low_open=True)
        check_real(f"{p}.margin", self.margin, low=0.0)
        check_real(f"{p}.momentum", self.momentum, low=0.0, high=1.0)
        check_int(f"{p}.queue_size", self.queue_size, low=1)
        check_int(f"{p}.bn_splits", self.bn_splits, low=1)
        if self.num_negatives is not None:
            check_int(f"{p}.num_negatives", self.num_negatives, low=1)
        check_real(f"{p}.bank_momentum", self.bank_momentum, low=0.0, high=1.0)
        check_choice(f"{p}.supcon_variant", self.supcon_variant, self.SUPCON_VARIANTS)
        if self.predictor_hidden_dim is not None:
            check_int(f"{p}.predictor_hidden_dim", self.predictor_hidden_dim, low=1)
        check_real(f"{p}.target_momentum", self.target_momentum, low=0.0, high=1.0)
        check_choice(f"{p}.target_schedule", self.target_schedule, self.TARGET_SCHEDULES)


@dataclass
class OptimConfig:
    name: str = "lars"
    lr: float = 1.0
    lr_scaling: str = "none"  # linear: lr * batch/256, sqrt: lr * sqrt(batch)
    batch_size: int = 512
    epochs: int = 20
    weight_decay: float = 1e-6
    momentum: float = 0.9
    lars_eta: float = 0.001
    warmup_epochs: float = 2.0
    schedule: str = "cosine"
    min_lr: float = 0.0
    exclude_bias_bn: bool = True
    betas: tuple[float, float] = (0.9, 0.999)

    def check(self, p: str) -> None:
        check_choice(f"{p}.name", self.name, OPTIMIZERS)
        check_real(f"{p}.lr", self.lr, low=0.0, low_open=True)
        check_choice(f"{p}.lr_scaling", self.lr_scaling, LR_SCALING)
        check_int(f"{p}.batch_size", self.batch_size, low=2)
        check_int(f"{p}.epochs", self.epochs, low=1)
        check_real(f"{p}.weight_decay", self.weight_decay, low=0.0)
        check_real(f"{p}.momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        check_real(f"{p}.lars_eta", self.lars_eta, low=0.0, low_open=True)
        check_real(f"{p}.warmup_epochs", self.warmup_epochs, low=0.0, high=float(self.epochs))
        check_choice(f"{p}.schedule", self.schedule, SCHEDULES)
        check_real(f"{p}.min_lr", self.min_lr, low=0.0)
        check_range(f"{p}.betas", self.betas, low=0.0, high=1.0, high_open=True)

    def scaled_lr(self) -> float:
        if self.lr_scaling == "linear":
            return self.lr * self.batch_size / 256
        if self.lr_scaling == "sqrt":
            return self.lr * self.batch_size**0.5
        return self.lr


@dataclass
class TrainConfig:
    """How the step runs on the hardware; bf16 and channels_last apply on CUDA only."""

    bf16: bool = True
    channels_last: bool = True
    compile: bool = False

    def check(self, p: str) -> None:
        pass


@dataclass
class EvalConfig:
    knn_k: int = 200
    knn_t: float = 0.1
    knn_every: int = 0  # epochs between kNN evaluations during training; 0: only at the end
    linear: bool = True
    linear_solver: str = "lbfgs"
    linear_wd: list[float] = field(default_factory=lambda: [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    linear_max_iter: int = 200
    linear_epochs: int = 100  # sgd solver only
    holdout: float = 0.1  # fraction of the train set used to choose the weight decay
    batch_size: int = 1024

    def check(self, p: str) -> None:
        check_int(f"{p}.knn_k", self.knn_k, low=1)
        check_real(f"{p}.knn_t", self.knn_t, low=0.0, low_open=True)
        check_int(f"{p}.knn_every", self.knn_every, low=0)
        check_choice(f"{p}.linear_solver", self.linear_solver, LINEAR_SOLVERS)
        if not self.linear_wd:
            raise ConfigError(f"{p}.linear_wd is empty; give at least one weight decay, e.g. [0.0, 1e-4]")
        for i, wd in enumerate(self.linear_wd):
            check_real(f"{p}.linear_wd[{i}]", wd, low=0.0)
        check_int(f"{p}.linear_max_iter", self.linear_max_iter, low=1)
        check_int(f"{p}.linear_epochs", self.linear_epochs, low=1)
        check_real(f"{p}.holdout", self.holdout, low=0.0, high=0.5, low_open=True)
        check_int(f"{p}.batch_size", self.batch_size, low=1)


@dataclass
class OutputConfig:
    """Where and how results are written; not part of the run id."""

    root: str = "results"
    checkpoint_every: int = 5  # epochs; 0: only at the end
    keep_checkpoint: bool = True
    progress: bool | None = None  # a progress bar; None: when stderr is a terminal

    def check(self, p: str) -> None:
        check_int(f"{p}.checkpoint_every", self.checkpoint_every, low=0)


@dataclass
class RunConfig:
    name: str = "default"
    seed: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def check(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            raise ConfigError(f"name: {self.name!r} is not a valid folder name; use letters, digits, '.', '_' and '-'")
        check_int("seed", self.seed, low=0)
        check_choice("device", self.device, DEVICES)
        for section in ("data", "augment", "model", "method", "optim", "train", "eval", "output"):
            getattr(self, section).check(section)
        # what the method needs from the batch and the data (memory_bank's K against the dataset size is
        # checked when the method is built, once that size is known)
        m, b = self.method, self.optim.batch_size
        if m.name == "moco" and m.queue_size % b:
            below, above = m.queue_size // b * b, (m.queue_size // b + 1) * b
            raise ConfigError(
                f"method.queue_size: {m.queue_size} is not a multiple of optim.batch_size {b} (each step replaces "
                f"the oldest batch of keys); use {f'{below} or {above}' if below else above}"
            )
        if m.name == "moco" and m.shuffle_bn and (m.bn_splits < 2 or b % m.bn_splits or b // m.bn_splits < 2):
            raise ConfigError(
                f"method.bn_splits: {m.bn_splits} does not split optim.batch_size {b} into 2 or more equal BN "
                f"sub-batches of at least 2 images; use a divisor of {b} between 2 and {b // 2}, or method.shuffle_bn=false"
            )
        if m.name in ("supcon", "supervised") and self.data.stl10_unlabeled:
            raise ConfigError(
                f"data.stl10_unlabeled: true adds unlabeled images, but method.name={m.name!r} needs a label for "
                f"every training image; set data.stl10_unlabeled=false"
            )


# Keys that say where things go rather than what is computed: left out of the run id.
NOT_HASHED = ("name", "output", "data.cache_dir", "data.download")
