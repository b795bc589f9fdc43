"""Colorization (Zhang, Isola & Efros 2016 style): from the lightness L of an image, predict its colour: the ab
channels of CIE Lab, quantised into bins of `bin_size` on a grid over [-110, 110), as a classification per
location, with the paper's class rebalancing (rare colours weigh more: w ∝ 1 / ((1 - λ) p + λ / Q), scaled so
that the expected weight is 1).

The backbone takes the L channel: L / 50 - 1 repeated into its three input channels, done by a hook on the
backbone itself, so every evaluation (kNN, linear, k-means on RGB test images) also feeds it the L channel of
those images, as Zhang et al. evaluated on grayscale inputs; an exported backbone expects that input
(`lightness_input`). Simplified at CIFAR resolution: one 8 x 8 map of ab classes per image, decoded from the
pooled features (the paper: a fully convolutional VGG at a quarter of the resolution); hard assignment to the
nearest bin (the paper: soft encoding over 5 neighbours); all grid bins are classes (the paper keeps the 313 in
gamut); the colour prior p is the running frequency of the bins over the batches seen so far (the paper: the
whole of ImageNet, smoothed)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..params import param
from ..registry import METHODS
from .base import Method
from .decoder import MapDecoder

AB_RANGE = 110.0
WHITE = (0.95047, 1.0, 1.08883)  # D65
RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))
DELTA = 6 / 29


@dataclass
class ColorizationParams:
    bin_size: float = param(10.0, low=1.0, high=110.0, help="side of an ab bin (the paper: 10)")
    rebalance: float = param(0.5, low=0.0, high=1.0, help="λ: 0 = weights from the prior alone, 1 = no rebalancing")
    map_size: int = param(8, low=1, help="side of the predicted map of ab classes")
    decoder_width: int = param(128, low=1, help="channels of the decoder's first map")


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (B, 3, H, W) -> CIE Lab (D65): L in [0, 100], a and b about [-110, 110]."""
    rgb = rgb.float().clamp(0, 1)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = torch.tensor(RGB_TO_XYZ, device=rgb.device)
    xyz = torch.einsum("ij,bjhw->bihw", m, linear) / torch.tensor(WHITE, device=rgb.device).view(1, 3, 1, 1)
    f = torch.where(xyz > DELTA ** 3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * DELTA ** 2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """The inverse of rgb_to_lab (clamped to [0, 1] where a colour is out of the sRGB gamut)."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], 1)
    xyz = torch.where(f > DELTA, f ** 3, 3 * DELTA ** 2 * (f - 4 / 29)) * torch.tensor(WHITE, device=lab.device).view(1, 3, 1, 1)
    m = torch.linalg.inv(torch.tensor(RGB_TO_XYZ, device=lab.device, dtype=torch.float64)).float()
    linear = torch.einsum("ij,bjhw->bihw", m, xyz).clamp(0, 1)
    return torch.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def bins_per_axis(bin_size: float) -> int:
    return int(round(2 * AB_RANGE / bin_size))


def ab_to_bin(ab: torch.Tensor, bin_size: float) -> torch.Tensor:
    """(B, 2, h, w) ab -> (B, h, w) class index a_bin * n + b_bin of the grid bin each falls in."""
    n = bins_per_axis(bin_size)
    idx = ((ab + AB_RANGE) / bin_size).floor().long().clamp(0, n - 1)
    return idx[:, 0] * n + idx[:, 1]


def bin_to_ab(index: torch.Tensor, bin_size: float) -> torch.Tensor:
    """Class index -> the ab of its bin's centre, (..., 2)."""
    n = bins_per_axis(bin_size)
    return torch.stack([index // n, index % n], -1).float() * bin_size - AB_RANGE + bin_size / 2


def rebalancing_weights(counts: torch.Tensor, rebalance: float) -> torch.Tensor:
    """Zhang et al.'s class weights from bin counts: 1 / ((1 - λ) p + λ / Q), scaled so that E_p[w] = 1."""
    p = counts / counts.sum().clamp_min(1)
    w = 1 / ((1 - rebalance) * p + rebalance / counts.numel())
    return w / (p * w).sum().clamp_min(1e-12)


def lightness_input(rgb: torch.Tensor) -> torch.Tensor:
    """What the backbone sees: L / 50 - 1 (in [-1, 1]) repeated into three channels."""
    return (rgb_to_lab(rgb)[:, :1] / 50 - 1).expand(-1, 3, -1, -1).contiguous()


@METHODS.register("colorization", ColorizationParams)
class Colorization(Method):
    """Predict the quantised ab colour of an 8 x 8 map from the L channel (class-rebalanced cross-entropy)"""

    n_views = 1
    uses_head = False

    def __init__(self, cfg, num_train: int, num_classes: int):
        super().__init__(cfg, num_train, num_classes)
        p = self.params
        self.n_bins = bins_per_axis(p.bin_size) ** 2
        self.decoder = MapDecoder(self.backbone.out_dim, p.decoder_width, self.n_bins)
        self.register_buffer("pixel_mean", torch.full((1, 3, 1, 1), float("nan")))
        self.register_buffer("pixel_std", torch.full((1, 3, 1, 1), float("nan")))
        self.register_buffer("bin_counts", torch.zeros(self.n_bins))
        self.backbone.register_forward_pre_hook(self._to_lightness)

    def bind_data(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.pixel_mean.copy_(mean.reshape(1, 3, 1, 1))
        self.pixel_std.copy_(std.reshape(1, 3, 1, 1))

    def rgb(self, x: torch.Tensor) -> torch.Tensor:
        if torch.isnan(self.pixel_mean).any():
            raise RuntimeError("colorization needs the data's channel statistics: call bind_data(mean, std) first")
        return (x.float() * self.pixel_std + self.pixel_mean).clamp(0, 1)

    def _to_lightness(self, module, args):
        return (lightness_input(self.rgb(args[0])).to(args[0].dtype),)

    def training_step(self, views: list[torch.Tensor], labels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        x = views[0]
        p = self.params
        ab = rgb_to_lab(F.adaptive_avg_pool2d(self.rgb(x), p.map_size))[:, 1:]
        target = ab_to_bin(ab, p.bin_size)
        with torch.no_grad():
            self.bin_counts += torch.bincount(target.flatten(), minlength=self.n_bins).to(self.bin_counts.dtype)
            weight = rebalancing_weights(self.bin_counts, p.rebalance)
        logits = self.decoder(self.backbone(x), p.map_size).float()
        ce = F.cross_entropy(logits, target, reduction="none")
        return (weight[target] * ce).mean()
