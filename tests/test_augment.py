"""Tests for bench_ssl.augment: per-image random, sync-free batched augmentations.

Colour ops and blur are checked image by image against torchvision's tensor functions with the
same factors; geometric ops against exact references (rot90, flip, hand-built masks).
"""

from __future__ import annotations


import pytest
import torch
import torchvision.transforms.v2.functional as TF

from bench_ssl.augment import AUGMENTATIONS, Pipeline, build_op, build_pipeline, to_float
from bench_ssl.augment.blur import kernel_size
from bench_ssl.augment.timing import time_pipeline
from bench_ssl.errors import ConfigError

NAMES = ["crop", "flip", "color", "blur", "cutout", "sobel", "noise", "rotate", "solarize", "randaugment", "autoaugment"]
WITH_P = {  # kwargs that make each op with a probability a no-op
    "flip": {"p": 0.0},
    "color": {"p": 0.0, "gray_p": 0.0},
    "blur": {"p": 0.0},
    "cutout": {"p": 0.0},
    "sobel": {"p": 0.0},
    "noise": {"p": 0.0},
    "rotate": {"p": 0.0},
    "solarize": {"p": 0.0},
    "randaugment": {"p": 0.0},
    "autoaugment": {"p": 0.0},
}


def gen(seed: int = 0, device="cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def images(b: int = 8, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Random images with awkward pixels mixed in: greys, pure colours, 0/1, uint8 ties."""
    x = torch.rand((b, 3, size, size), generator=gen(seed))
    x[:, :, :4] = (x[:, :, :4] * 255).round() / 255  # quantised rows: ties between channels
    x[:, :, 4, :8] = x[:, :1, 4, :8]  # grey pixels (all channels equal)
    x[:, :, 5, :3] = torch.eye(3)  # pure red, green, blue
    x[:, :, 6, 0], x[:, :, 6, 1] = 0.0, 1.0  # black, white
    return x


# ---------------------------------------------------------------- registry / pipeline


def test_registry_has_the_simclr_names():
    assert set(AUGMENTATIONS) == set(NAMES)
    for name, cls in AUGMENTATIONS.items():
        assert cls.name == name
        assert isinstance(build_op(name), cls)


def test_unknown_name_is_a_config_error_naming_allowed_names():
    with pytest.raises(ConfigError) as err:
        build_op("colr")
    msg = str(err.value)
    assert "'colr'" in msg and "did you mean 'color'" in msg
    assert all(name in msg for name in NAMES)
    with pytest.raises(ValueError, match="blurr"):  # ConfigError is a ValueError
        build_pipeline(["crop", "blurr"])


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="sigmaa"):
        build_op("blur", sigmaa=(0.1, 2.0))
    with pytest.raises(ConfigError, match="p="):
        build_op("flip", p=1.5)
    with pytest.raises(ConfigError, match="scale"):
        build_op("crop", scale=(0.5, 0.1))
    with pytest.raises(ConfigError, match="angles"):
        build_op("rotate", angles=(45,))
    with pytest.raises(ConfigError, match="not in the pipeline"):
        build_pipeline(["crop"], {"color": {"strength": 0.5}})


def test_build_pipeline_passes_params_in_order():
    pipe = build_pipeline(["crop", "color"], {"color": {"strength": 0.5, "gray_p": 0.0}, "crop": None})
    assert pipe.names == ["crop", "color"]
    assert pipe.ops[1].strength == 0.5 and pipe.ops[1].gray_p == 0.0
    assert pipe.ops[0].scale == (0.08, 1.0)


def test_pipeline_applies_ops_in_listed_order_with_one_generator():
    x = images(6)
    rot, crop = build_op("rotate"), build_op("crop")
    a = Pipeline([rot, crop])(x, gen(3))
    g = gen(3)
    assert torch.equal(a, crop(rot(x, g), g))
    b = Pipeline([crop, rot])(x, gen(3))
    g = gen(3)
    assert torch.equal(b, rot(crop(x, g), g))
    assert not torch.allclose(a, b)
    # deterministic, non-commuting ops: order alone decides the result
    sob, sol = build_op("sobel"), build_op("solarize", p=1.0)
    ab, ba = Pipeline([sob, sol])(x, gen()), Pipeline([sol, sob])(x, gen())
    assert torch.equal(ab, sol(sob(x, gen()), gen())) and not torch.allclose(ab, ba)


def test_to_float():
    u = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    f = to_float(u)
    assert f.dtype == torch.float32 and f.device == u.device
    assert torch.equal(f, u.float() / 255)  # torchvision v1 ToTensor; v2 to_dtype multiplies by 1/255
    assert torch.allclose(f, TF.to_dtype(u, torch.float32, scale=True), atol=1e-7, rtol=0)
    with pytest.raises(TypeError):
        to_float(f)


def test_rejects_non_square_and_non_float():
    with pytest.raises(ValueError, match="square"):
        build_op("flip")(torch.rand(2, 3, 8, 9), gen())
    with pytest.raises(ValueError, match="uint8|float"):
        build_op("flip")(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), gen())


# ---------------------------------------------------------------- generic properties


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_range_and_determinism(name):
    x = images(8)
    op = build_op(name)
    y = op(x, gen(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.min() >= 0 and y.max() <= 1
    assert torch.equal(y, op(x, gen(1)))  # same seed -> same views
    if name != "sobel":  # sobel with its default p=1 is deterministic
        assert not torch.equal(y, op(x, gen(2)))  # different seed -> different views
    y64 = op(x.double(), gen(1))  # works in the input dtype
    assert y64.dtype == torch.float64 and torch.allclose(y64.float(), y, atol=1e-5)
    ycl = op(x.contiguous(memory_format=torch.channels_last), gen(1))
    assert torch.allclose(ycl, y, atol=1e-6)


@pytest.mark.parametrize("name", sorted(WITH_P))
def test_p_zero_is_identity(name):
    x = images(8)
    assert torch.equal(build_op(name, **WITH_P[name])(x, gen()), x)


def _varying(params: dict, n: int) -> dict:
    """Which float parameters take more than one value across the batch."""
    return {k: v.unique().numel() > 1 for k, v in params.items() if v.is_floating_point() and v.shape[0] == n}


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_per_sample(name):
    n = 64
    params = build_op(name).sample(n, 32, gen(), "cpu")
    for key, value in params.items():
        assert value.shape[0] == n, key
    assert all(_varying(params, n).values()), _varying(params, n)
    for key in ("apply", "jitter", "gray"):  # masks with 0 < p < 1 hit some images, not all
        if key in params and 0 < getattr(build_op(name), "gray_p" if key == "gray" else "p") < 1:
            assert 0 < params[key].sum() < n, key
    if name == "rotate":
        assert set(params["quarter_turns"].tolist()) == {0, 1, 2, 3}
    if name == "color":
        assert params["order"].unique(dim=0).shape[0] > 5  # per-image permutations
        assert torch.equal(params["order"].sort(dim=1).values, torch.arange(4).expand(n, 4))


# ---------------------------------------------------------------- colour


def _color_params(n, brightness=1.0, contrast=1.0, saturation=1.0, hue=0.0, seed=0):
    """Jitter on for every image, no grey, random order; unspecified ops get identity factors."""
    full = lambda v: torch.as_tensor(v, dtype=torch.float32).expand(n).clone()  # noqa: E731
    return {
        "brightness": full(brightness),
        "contrast": full(contrast),
        "saturation": full(saturation),
        "hue": full(hue),
        "order": torch.rand(n, 4, generator=gen(seed)).argsort(dim=1),
        "jitter": torch.ones(n, dtype=torch.bool),
        "gray": torch.zeros(n, dtype=torch.bool),
    }


COLOR_CASES = {
    "brightness": (TF.adjust_brightness, [0.0, 0.2, 0.9, 1.0, 1.3, 1.8], 1e-6),
    "contrast": (TF.adjust_contrast, [0.0, 0.2, 0.9, 1.0, 1.3, 1.8], 1e-5),
    "saturation": (TF.adjust_saturation, [0.0, 0.2, 0.9, 1.0, 1.3, 1.8], 1e-5),
    "hue": (TF.adjust_hue, [-0.5, -0.2, -0.01, 0.05, 0.2, 0.5], 1e-5),
}


@pytest.mark.parametrize("which", list(COLOR_CASES))
def test_color_op_matches_torchvision(which):
    fn, factors, atol = COLOR_CASES[which]
    x = images(len(factors))
    params = _color_params(len(factors), **{which: factors})
    y = build_op("color").apply(x, params)
    for i, f in enumerate(factors):
        ref = fn(x[i], f)
        assert torch.allclose(y[i], ref, atol=atol, rtol=0), (which, f, (y[i] - ref).abs().max())
    assert not torch.allclose(y, x)


def test_color_random_order_matches_torchvision_sequence():
    """Full SimCLR jitter, every image in its own order, against torchvision applied in that order."""
    n = 24
    op = build_op("color", strength=1.0, p=0.8, gray_p=0.2)
    params = op.sample(n, 32, gen(5), "cpu")
    x = images(n)
    y = op.apply(x, params)
    fns = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    keys = ["brightness", "contrast", "saturation", "hue"]
    for i in range(n):
        ref = x[i]
        if params["jitter"][i]:
            for j in params["order"][i].tolist():
                ref = fns[j](ref, params[keys[j]][i].item())
        if params["gray"][i]:
            ref = TF.rgb_to_grayscale(ref, num_output_channels=3)
        assert torch.allclose(y[i], ref, atol=1e-5, rtol=0), (i, (y[i] - ref).abs().max())


def test_color_factor_ranges_follow_strength():
    for s, lo, hi, h in [(1.0, 0.2, 1.8, 0.2), (0.5, 0.6, 1.4, 0.1), (2.0, 0.0, 2.6, 0.4), (5.0, 0.0, 5.0, 0.5)]:
        params = build_op("color", strength=s).sample(4000, 32, gen(), "cpu")
        for k in ("brightness", "contrast", "saturation"):
            v = params[k]
            assert v.min() >= lo - 1e-6 and v.max() <= hi + 1e-6 and v.min() < lo + 0.05 and v.max() > hi - 0.05
        assert params["hue"].abs().max() <= h + 1e-6 and params["hue"].abs().max() > h - 0.02
        assert abs(params["jitter"].float().mean() - 0.8) < 0.03 and abs(params["gray"].float().mean() - 0.2) < 0.03


def test_grayscale_matches_torchvision_and_has_equal_channels():
    x = images(8)
    y = build_op("color", p=0.0, gray_p=1.0)(x, gen())
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
    assert torch.allclose(y, TF.rgb_to_grayscale(x, num_output_channels=3), atol=1e-6)


def test_color_strength_zero_is_identity():
    x = images(16)
    assert torch.equal(build_op("color", strength=0.0, gray_p=0.0)(x, gen()), x)
    assert torch.equal(build_op("color", strength=0.0, p=1.0, gray_p=0.0)(x, gen(1)), x)


# ---------------------------------------------------------------- blur


def test_kernel_size_is_ten_percent_odd_at_least_three():
    assert [kernel_size(s, 0.1) for s in (8, 32, 64, 96, 224)] == [3, 3, 7, 9, 23]


@pytest.mark.parametrize("size", [32, 64])
def test_blur_matches_torchvision(size):
    n = 6
    x = images(n, size)
    op = build_op("blur", p=1.0)
    params = op.sample(n, size, gen(), "cpu")
    params["sigma"][0] = 0.1  # extremes of the default range
    params["sigma"][1] = 2.0
    y = op.apply(x, params)
    k = kernel_size(size, 0.1)
    for i in range(n):
        s = params["sigma"][i].item()
        ref = TF.gaussian_blur(x[i], kernel_size=[k, k], sigma=[s, s])
        assert torch.allclose(y[i], ref, atol=1e-5, rtol=0), (i, s, (y[i] - ref).abs().max())
    assert (y - x).abs().amax(dim=(1, 2, 3))[1] > 0.05  # sigma=2 visibly blurs


def test_blur_only_where_applied():
    x = images(32)
    op = build_op("blur", p=0.5)
    params = op.sample(32, 32, gen(), "cpu")
    y = op.apply(x, params)
    changed = (y != x).flatten(1).any(dim=1)
    assert torch.equal(changed, params["apply"])


# ---------------------------------------------------------------- crop


@pytest.mark.parametrize("scale", [(0.08, 1.0), (0.9, 1.0), (0.08, 0.1), (1.0, 1.0), (0.5, 0.5)])
@pytest.mark.parametrize("ratio", [(3 / 4, 4 / 3), (1.0, 1.0), (0.2, 5.0)])
def test_crop_boxes_within_scale_and_ratio(scale, ratio):
    n = 10000
    x0, y0, w, h = build_op("crop", scale=scale, ratio=ratio).sample(n, 32, gen(), "cpu")["box"].unbind(1)
    area, aspect = w * h, w / h
    eps = 1e-5
    assert area.min() >= scale[0] * (1 - eps) and area.max() <= scale[1] * (1 + eps)
    assert aspect.min() >= ratio[0] * (1 - eps) and aspect.max() <= ratio[1] * (1 + eps)
    assert x0.min() >= 0 and y0.min() >= 0 and (x0 + w).max() <= 1 + eps and (y0 + h).max() <= 1 + eps
    if scale[1] - scale[0] > 0.5:  # the full range is actually used
        assert area.min() < scale[0] + 0.02 and area.max() > scale[1] - 0.05


def test_crop_ratio_without_one_keeps_aspect_in_bounds():
    n = 5000
    _, _, w, h = build_op("crop", scale=(0.9, 1.0), ratio=(2.0, 3.0)).sample(n, 32, gen(), "cpu")["box"].unbind(1)
    assert (w / h).min() >= 2.0 * (1 - 1e-5) and (w / h).max() <= 3.0 * (1 + 1e-5)
    assert w.max() <= 1 + 1e-6 and h.max() <= 1 + 1e-6


def test_crop_full_box_is_identity():
    x = images(4)
    y = build_op("crop", scale=(1.0, 1.0), ratio=(1.0, 1.0))(x, gen())
    assert torch.allclose(y, x, atol=1e-5, rtol=0)


def test_crop_resamples_the_box():
    size = 32
    op = build_op("crop")
    # left/right pattern: left half 0.2, right half 0.8; a box in the left quarter sees only 0.2
    x = torch.full((2, 3, size, size), 0.2)
    x[..., size // 2 :] = 0.8
    box = torch.tensor([[0.0, 0.0, 0.25, 1.0], [0.75, 0.5, 0.25, 0.5]])
    y = op.apply(x, {"box": box})
    assert torch.allclose(y[0], torch.tensor(0.2)) and torch.allclose(y[1], torch.tensor(0.8))
    # horizontal ramp (bilinear is exact on it): output column j samples x0*S + (j+0.5)*w - 0.5
    col = torch.arange(size, dtype=torch.float32)
    ramp = (col / size).expand(1, 3, size, size).clone()
    box = torch.tensor([[0.25, 0.1, 0.5, 0.9]])
    y = op.apply(ramp, {"box": box})
    expect = (0.25 * size + (col + 0.5) * 0.5 - 0.5) / size
    assert torch.allclose(y[0, :, 5], expect.expand(3, size), atol=1e-5)


def test_crop_matches_torchvision_resized_crop_inside_integer_box():
    size = 32
    x = images(3, size)
    boxes_px = [(0, 0, 16, 16), (5, 9, 20, 12), (8, 2, 24, 30)]  # (top, left, h, w)
    box = torch.tensor([[l / size, t / size, w / size, h / size] for t, l, h, w in boxes_px])
    y = build_op("crop").apply(x, {"box": box})
    for i, (t, l, h, w) in enumerate(boxes_px):
        ref = TF.resized_crop(x[i], t, l, h, w, [size, size], antialias=False)
        # torchvision clamps at the crop's edge, we read the true neighbours: compare the interior
        assert torch.allclose(y[i, :, 1:-1, 1:-1], ref[:, 1:-1, 1:-1], atol=1e-5), i


# ---------------------------------------------------------------- flip / rotate / cutout / sobel / noise / solarize


def test_flip_matches_torch_flip_per_sample():
    x = images(32)
    op = build_op("flip")
    params = op.sample(32, 32, gen(), "cpu")
    y = op.apply(x, params)
    m = params["apply"]
    assert 0 < m.sum() < 32
    assert torch.equal(y[m], x[m].flip(-1)) and torch.equal(y[~m], x[~m])


def test_rotate_matches_rot90():
    x = images(16)
    assert torch.equal(build_op("rotate", angles=(90,))(x, gen()), torch.rot90(x, 1, dims=(-2, -1)))
    op = build_op("rotate")
    params = op.sample(16, 32, gen(), "cpu")
    y = op.apply(x, params)
    for i, k in enumerate(params["quarter_turns"].tolist()):
        assert torch.equal(y[i], torch.rot90(x[i], k, dims=(-2, -1)))
    assert torch.equal(build_op("rotate", angles=(-90,))(x, gen()), torch.rot90(x, -1, dims=(-2, -1)))


def test_cutout_fills_exactly_the_square():
    size, side = 32, 16
    x = images(5, size) * 0.9 + 0.1  # no zeros in the input
    centers = torch.tensor([[16, 16], [0, 0], [31, 5], [3, 30], [10, 20]])
    y = build_op("cutout", size=0.5).apply(x, {"center": centers, "apply": torch.ones(5, dtype=torch.bool)})
    for i, (cy, cx) in enumerate(centers.tolist()):
        mask = torch.zeros(size, size, dtype=torch.bool)
        mask[max(cy - side // 2, 0) : cy - side // 2 + side, max(cx - side // 2, 0) : cx - side // 2 + side] = True
        assert torch.equal(y[i] == 0, mask.expand(3, size, size)), i
        assert torch.equal(y[i][:, ~mask], x[i][:, ~mask])
    assert (y[0] == 0).sum() == 3 * side * side  # unclipped square has the full area
    filled = build_op("cutout", fill=0.5)(x, gen())
    assert ((filled == 0.5).flatten(1).sum(1) >= 3 * 8 * 8).all()  # clipped at worst to a quarter


def test_sobel_constant_is_zero_and_vertical_edge_responds_on_edge():
    x = torch.full((2, 3, 16, 16), 0.7)
    assert torch.equal(build_op("sobel")(x, gen()), torch.zeros_like(x))
    x[..., 8:] = 0.1  # vertical edge between columns 7 and 8
    y = build_op("sobel")(x, gen())
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])
    assert torch.allclose(y[..., 7:9], torch.ones(1)) and torch.equal(y[..., :7], torch.zeros_like(y[..., :7]))
    assert torch.equal(y[..., 9:], torch.zeros_like(y[..., 9:]))


def test_noise_std_per_sample():
    n = 16
    x = torch.full((n, 3, 64, 64), 0.5)
    op = build_op("noise", std=0.1)
    params = op.sample(n, 64, gen(), "cpu")
    y = op.apply(x, params)
    emp = (y - x).flatten(1).std(dim=1)
    assert torch.allclose(emp, params["std"], rtol=0.05, atol=2e-3), (emp, params["std"])
    assert params["std"].min() >= 0 and params["std"].max() <= 0.1


def test_solarize():
    x = images(8)
    y = build_op("solarize", p=1.0)(x, gen())
    assert torch.equal(y, torch.where(x < 0.5, x, 1 - x))
    assert torch.allclose(y, TF.solarize(x, 0.5))
    op = build_op("solarize", p=0.5)
    params = op.sample(64, 32, gen(), "cpu")
    x = images(64)
    y = op.apply(x, params)
    assert torch.equal((y != x).flatten(1).any(1), params["apply"])


# ---------------------------------------------------------------- timing / CUDA


def test_time_pipeline_runs_on_cpu():
    ms = time_pipeline(["crop", "flip", "color"], batch=8, size=16, device="cpu", repeats=2)
    assert isinstance(ms, float) and ms > 0


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _no_sync(fn):
    """Run fn with CUDA's sync debug mode set to raise on any host-device synchronisation."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        return fn()
    finally:
        torch.cuda.set_sync_debug_mode("default")


@cuda
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu_and_is_sync_free(name):
    x = images(16, 64)
    op = build_op(name, **({"p": 1.0} if name in ("blur", "solarize", "flip") else {}))
    params = op.sample(16, 64, gen(), "cpu")
    y_cpu = op.apply(x, params)
    y_gpu = op.apply(x.cuda(), {k: v.cuda() for k, v in params.items()})
    assert y_gpu.device.type == "cuda"
    assert torch.allclose(y_gpu.cpu(), y_cpu, atol=1e-5, rtol=0), (y_gpu.cpu() - y_cpu).abs().max()
    xg, g1, g2 = x.cuda(), gen(7, "cuda"), gen(7, "cuda")
    a = _no_sync(lambda: op(xg, g1))
    b = _no_sync(lambda: op(xg, g2))
    assert torch.equal(a, b) and a.device.type == "cuda"


@cuda
def test_cuda_pipeline_of_all_ops_is_sync_free():
    x, g = images(32, 32).cuda(), gen(0, "cuda")
    pipe = build_pipeline(NAMES)
    y = _no_sync(lambda: pipe(x, g))
    assert y.shape == x.shape and y.device == x.device and 0 <= y.min() and y.max() <= 1
