"""The CIFAR-10-C-style corruptions against the operations the reference generator (Hendrycks & Dietterich's
make_cifar_c.py) performs with scikit-image, OpenCV, scipy and Pillow, written out here in numpy with the same
constants; the random ones by their statistics; all 15 on real CIFAR-10 test images."""

import io

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import map_coordinates, zoom as scizoom
from skimage.color import hsv2rgb, rgb2hsv
from skimage.filters import gaussian

from bench_ssl.corruptions import NAMES, corrupt
from bench_ssl.corruptions._filters import correlate, gaussian_blur, motion_blur, plasma_fractal
from bench_ssl.corruptions.blur import disk_kernel
from bench_ssl.corruptions.digital import affine_warp, box_weights, displace


def photos(n=6, seed=0) -> np.ndarray:
    """(n,32,32,3) float64 images on the 1/255 grid: ramps, a square and texture."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 0.9, (n, 1, 1, 3)) * np.linspace(0.3, 1.0, 32)[None, None, :, None]
    x = x + 0.25 * rng.uniform(size=(n, 32, 32, 3))
    x[:, 5:14, 18:27] = 0.9
    return np.round(np.clip(x, 0, 1) * 255) / 255


def t(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float32).permute(0, 3, 1, 2).contiguous()


def n(x: torch.Tensor) -> np.ndarray:
    return x.permute(0, 2, 3, 1).numpy().astype(np.float64)


@pytest.mark.parametrize("sigma,mode,truncate", [(0.4, "nearest", 4.0), (1.5, "nearest", 4.0), (6.4, "reflect", 3.0),
                                                 (0.05, "nearest", 4.0)])
def test_gaussian_blur_is_scikit_images(sigma, mode, truncate):
    x = photos()
    ref = np.stack([gaussian(img, sigma=sigma, channel_axis=-1, mode=mode, truncate=truncate) for img in x])
    assert np.abs(n(gaussian_blur(t(x), sigma, truncate, mode)) - ref).max() < 1e-5


@pytest.mark.parametrize("radius,alias", [(0.3, 0.4), (0.5, 0.6), (1, 0.2), (1.5, 0.1), (3, 0.5)])
def test_defocus_kernel_and_filter_are_opencvs(radius, alias):
    grid = np.arange(-8, 9)
    xx, yy = np.meshgrid(grid, grid)
    disk = ((xx**2 + yy**2) <= radius**2).astype(np.float32)
    disk /= disk.sum()
    ref_kernel = cv2.GaussianBlur(disk, ksize=(3, 3), sigmaX=alias)
    ours = disk_kernel(radius, alias)
    assert np.abs(ours.numpy() - ref_kernel).max() < 1e-6
    x = photos(3).astype(np.float32)
    ref = np.stack([np.stack([cv2.filter2D(img[:, :, d], -1, ref_kernel) for d in range(3)], -1) for img in x])
    assert np.abs(n(correlate(t(x), ours)) - ref).max() < 1e-5


def cifar_clipped_zoom(img, factor):
    h = img.shape[0]
    ch = int(np.ceil(h / factor))
    top = (h - ch) // 2
    img = scizoom(img[top:top + ch, top:top + ch], (factor, factor, 1), order=1)
    trim = (img.shape[0] - h) // 2
    return img[trim:trim + h, trim:trim + h]


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_zoom_blur_is_the_mean_of_scipys_centre_zooms(severity):
    top = [1.06, 1.11, 1.16, 1.21, 1.26][severity - 1]
    x = photos(3).astype(np.float32)
    ref = []
    for img in x:
        out = np.zeros_like(img)
        for f in np.arange(1, top, 0.01):
            out += cifar_clipped_zoom(img, f)
        ref.append(np.clip((img + out) / (len(np.arange(1, top, 0.01)) + 1), 0, 1))
    ours = corrupt(t(x), "zoom_blur", severity, torch.Generator())
    assert np.abs(n(ours) - np.stack(ref)).max() < 1e-5


def reference_motion_blur(x, radius, sigma, angle):
    """The imagecorruptions package's numpy motion blur (shifts with the edge repeated, a one-sided Gaussian)."""
    width = 2 * radius + 1
    k = np.exp(-np.arange(width) ** 2 / (2 * sigma**2))
    k /= k.sum()
    py, px = width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle))
    hyp = np.hypot(py, px)
    out = np.zeros_like(x)
    for i in range(width):
        dy, dx = -int(np.ceil(i * py / hyp - 0.5)), -int(np.ceil(i * px / hyp - 0.5))
        if abs(dy) >= x.shape[0] or abs(dx) >= x.shape[1]:
            break
        rows = np.clip(np.arange(x.shape[0]) - dy, 0, x.shape[0] - 1)
        cols = np.clip(np.arange(x.shape[1]) - dx, 0, x.shape[1] - 1)
        out += k[i] * x[rows][:, cols]
    return out


def test_motion_blur_follows_each_images_own_angle():
    x = photos(4)
    angles = [-45.0, -10.0, 30.0, 44.0]
    ours = n(motion_blur(t(x), 6, 2.0, torch.tensor(angles)))
    ref = np.stack([reference_motion_blur(img, 6, 2.0, a) for img, a in zip(x, angles)])
    assert np.abs(ours - ref).max() < 1e-5
    snowy = n(motion_blur(t(x), 40, 12.0, torch.tensor([-100.0] * 4)))  # taps beyond the image are dropped
    assert np.abs(snowy - np.stack([reference_motion_blur(img, 40, 12.0, -100.0) for img in x])).max() < 1e-5


@pytest.mark.parametrize("severity", [1, 5])
def test_pixelate_is_pillows_box_resize_down_and_up(severity):
    c = [0.95, 0.9, 0.85, 0.75, 0.65][severity - 1]
    x = photos(4)
    ref = []
    for img in x:
        p = Image.fromarray(np.uint8(np.round(img * 255)))
        p = p.resize((int(32 * c), int(32 * c)), Image.BOX).resize((32, 32), Image.BOX)
        ref.append(np.asarray(p) / 255.0)
    ours = n(corrupt(t(x), "pixelate", severity, torch.Generator()))
    assert np.abs(ours - np.stack(ref)).max() <= 1.01 / 255  # Pillow rounds its 8-bit result
    assert box_weights(32, 20).sum(1).allclose(torch.ones(20))


@pytest.mark.parametrize("severity", [1, 5])
def test_jpeg_is_pillows_libjpeg_at_the_same_quality(severity):
    quality = [80, 65, 58, 50, 40][severity - 1]
    x = photos(4)
    ref = []
    for img in x:
        buf = io.BytesIO()
        Image.fromarray(np.uint8(np.round(img * 255))).save(buf, "JPEG", quality=quality)
        ref.append(np.asarray(Image.open(buf)) / 255.0)
    ours = n(corrupt(t(x), "jpeg_compression", severity, torch.Generator()))
    assert np.abs(ours - np.stack(ref)).max() < 1e-6  # the very same encoder and decoder
    assert np.abs(ours - x).mean() > 1 / 255  # and it did compress


def test_brightness_and_contrast_are_the_references_formulas():
    x = photos(4)
    for severity, c in enumerate([0.05, 0.1, 0.15, 0.2, 0.3], 1):
        ref = []
        for img in x:
            hsv = rgb2hsv(img)
            hsv[:, :, 2] = np.clip(hsv[:, :, 2] + c, 0, 1)
            ref.append(np.clip(hsv2rgb(hsv), 0, 1))
        assert np.abs(n(corrupt(t(x), "brightness", severity, torch.Generator())) - np.stack(ref)).max() < 1e-5
    for severity, c in enumerate([0.75, 0.5, 0.4, 0.3, 0.15], 1):
        means = x.mean(axis=(1, 2), keepdims=True)
        ref = np.clip((x - means) * c + means, 0, 1)
        assert np.abs(n(corrupt(t(x), "contrast", severity, torch.Generator())) - ref).max() < 1e-5


def test_the_elastic_warp_is_opencvs_affine_then_scipys_displacement():
    x = photos(2).astype(np.float32)
    pts1 = np.float32([[26, 26], [26, 6], [6, 6]])
    pts2 = pts1 + np.float32([[1.5, -2.0], [-0.7, 1.1], [2.2, 0.4]])
    m = cv2.getAffineTransform(pts1, pts2)
    ref = np.stack([cv2.warpAffine(img, m, (32, 32), borderMode=cv2.BORDER_REFLECT_101) for img in x])
    ours = n(affine_warp(t(x), torch.tensor(np.stack([m, m]))))
    assert np.abs(ours - ref).max() < 2e-2  # OpenCV interpolates with 1/32-pixel fixed-point weights
    assert np.abs(ours - ref).mean() < 2e-3
    rng = np.random.default_rng(0)
    dx, dy = (rng.uniform(-3, 3, (2, 32, 32)) * np.linspace(0.2, 1, 32)).astype(np.float32)
    yy, xx = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    ref = np.stack([np.stack([map_coordinates(img[:, :, d], (yy + dy, xx + dx), order=1, mode="reflect")
                              for d in range(3)], -1) for img in x])
    ours = n(displace(t(x), torch.tensor(dx).expand(2, -1, -1), torch.tensor(dy).expand(2, -1, -1)))
    assert np.abs(ours - ref).max() < 1e-4


def test_the_noises_have_the_references_statistics():
    x = torch.full((64, 3, 32, 32), 0.5)
    g = torch.Generator().manual_seed(0)
    for severity, c in enumerate([0.04, 0.06, 0.08, 0.09, 0.10], 1):
        d = corrupt(x.clone(), "gaussian_noise", severity, g) - x
        assert abs(d.std().item() - c) < 0.03 * c and abs(d.mean().item()) < 0.002
    for severity, c in enumerate([500, 250, 100, 75, 50], 1):
        y = corrupt(x.clone(), "shot_noise", severity, g)
        assert abs(y.mean().item() - 0.5) < 0.005 and abs(y.var().item() - 0.5 / c) < 0.05 * 0.5 / c
    for severity, c in enumerate([0.01, 0.02, 0.03, 0.05, 0.07], 1):
        y = corrupt(x.clone(), "impulse_noise", severity, g)
        salt, pepper = (y == 1).float().mean().item(), (y == 0).float().mean().item()
        assert abs(salt - c / 2) < 0.1 * c and abs(pepper - c / 2) < 0.1 * c and ((y == 0.5) | (y == 0) | (y == 1)).all()


def test_the_plasma_fractal_spans_zero_to_one_and_is_smooth():
    p = plasma_fractal(8, 32, 2.0, torch.Generator().manual_seed(0), "cpu")
    assert p.shape == (8, 32, 32) and torch.allclose(p.amin((1, 2)), torch.zeros(8)) and torch.allclose(p.amax((1, 2)), torch.ones(8))
    rough = torch.rand(8, 32, 32)
    step = lambda a: (a[:, 1:] - a[:, :-1]).abs().mean()  # noqa: E731
    assert step(p) < 0.5 * step(rough)  # neighbours are close: a cloud, not noise


def test_all_fifteen_on_real_images_stay_in_range_follow_the_seed_and_grow_with_severity(cifar_tar):
    from bench_ssl.data import load_arrays

    arrays = load_arrays(str(cifar_tar))
    x = torch.from_numpy(np.ascontiguousarray(arrays.test_x[:32])).permute(0, 3, 1, 2).float() / 255
    assert len(NAMES) == 15
    for name in NAMES:
        a = corrupt(x.clone(), name, 1, torch.Generator().manual_seed(1))
        b = corrupt(x.clone(), name, 1, torch.Generator().manual_seed(1))
        five = corrupt(x.clone(), name, 5, torch.Generator().manual_seed(1))
        assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1 and torch.equal(a, b), name
        if name != "elastic_transform":  # CIFAR-10-C's severity 1 warps the most, 5 displaces the most: no order
            assert (five - x).abs().mean() > (a - x).abs().mean(), name
    with pytest.raises(KeyError, match="unknown corruption 'fogg'"):
        corrupt(x, "fogg", 1, torch.Generator())


def test_the_corruption_protocol_scores_the_same_corrupted_images_for_every_run():
    import torch.nn as nn

    from bench_ssl.config import load_config
    from bench_ssl.eval import EvalContext
    from bench_ssl.eval.corruption import CorruptionParams, corruption
    from bench_ssl.train.tensors import TensorData

    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 2
    # class 0 smooth, class 1 textured; the 'backbone' measures each channel's spread: noise makes the smooth
    # images textured, a contrast cut makes the textured ones smooth, so both corruptions must cost accuracy
    spread = torch.where(y == 1, 0.05, 0.004).view(-1, 1, 1, 1)
    x = 0.5 + spread * torch.randn((200, 3, 32, 32), generator=g)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    data = TensorData(images[:120], y[:120], images[120:], y[120:], torch.full((1, 3, 1, 1), 0.5),
                      torch.full((1, 3, 1, 1), 0.05), ["smooth", "textured"])

    class Spread(nn.Module):
        def forward(self, x):
            return x.flatten(2).std(2)

    method = nn.Module()
    method.backbone = Spread()
    p = CorruptionParams(corruptions=["gaussian_noise", "contrast"], severities=[1, 5])
    runs = []
    for seed in (0, 1):  # two runs of different seeds
        cfg = load_config(None, ["data.root=/unused", f"seed={seed}", "eval.protocols=[knn,linear,corruption]"])
        runs.append(corruption(EvalContext(cfg=cfg, method=method, data=data), p))
    a, b = runs
    assert a["corruption_top1_by_severity"] == b["corruption_top1_by_severity"]  # the same corrupted images
    assert a["corruption_clean_top1"] == 1.0 and a["corruption_classifier"] == "linear" and a["corruption_num_test"] == 80
    by = a["corruption_top1_by_severity"]
    assert a["corruption_gaussian_noise_top1"] == pytest.approx(sum(by["gaussian_noise"]) / 2)
    assert a["corruption_mean_top1"] == pytest.approx(sum(by["gaussian_noise"] + by["contrast"]) / 4)
    assert by["gaussian_noise"][0] < 0.75 and by["contrast"][1] < 0.75, by
    assert by["contrast"][0] > by["contrast"][1]  # contrast x 0.75 keeps more of the texture than x 0.15
