"""Config loading: typed values, overrides, errors that name the key, and the run id."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench_ssl.config import load_config, run_id
from bench_ssl.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"


def test_smoke_config_loads_with_types():
    cfg = load_config(SMOKE, ["method.temperature=0.2", "optim.weight_decay=1e-5", "augment.view2=[crop]"])
    assert cfg.method.temperature == 0.2 and isinstance(cfg.optim.weight_decay, float)
    assert cfg.optim.weight_decay == 1e-5  # YAML reads '1e-5' as a string; the loader makes it a float
    assert cfg.augment.view2 == ["crop"] and cfg.augment.view1 == ["crop", "flip", "color"]
    assert cfg.model.backbone == "convnet" and cfg.augment.crop.scale == (0.08, 1.0)
    assert Path(cfg.data.root).is_absolute()


@pytest.mark.parametrize(
    "override,words",
    [
        ("optim.lrr=0.1", ["optim.lrr", "did you mean 'lr'"]),
        ("method.temperature=-0.1", ["method.temperature", "-0.1", "allowed"]),
        ("method.temperature=0", ["method.temperature", "out of range"]),
        ("augment.crop.scale=[0.5, 1.5]", ["augment.crop.scale[1]", "1.5", "(0.0, 1.0]"]),
        ("augment.crop.scale=[0.0, 1.0]", ["augment.crop.scale[0]", "0.0"]),
        ("augment.crop.scale=[0.9, 0.2]", ["augment.crop.scale", "low > high"]),
        ("augment.view1=[crop, colour]", ["augment.view1[1]", "'colour'", "did you mean 'color'", "sobel"]),
        ("model.backbone=resnet19", ["model.backbone", "resnet19", "resnet18", "convnet"]),
        ("method.name=simclrr", ["method.name", "simclr"]),
        ("optim.batch_size=abc", ["optim.batch_size", "expected an integer", "abc"]),
        ("optim.epochs=0", ["optim.epochs", "0"]),
        ("augment.color.p=1.5", ["augment.color.p", "1.5"]),
        ("eval.holdout=0.9", ["eval.holdout"]),
        ("bogus=1", ["unknown key 'bogus'"]),
        ("model.head.type=deep", ["model.head.type", "none, linear, mlp"]),
    ],
)
def test_bad_values_name_the_key_the_value_and_the_allowed(override, words):
    with pytest.raises(ConfigError) as info:
        load_config(SMOKE, [override])
    msg = str(info.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg, (word, msg)


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lr: [0.1\n  epochs: 2\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*line \d+.*malformed YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(scalar)


def test_set_needs_key_equals_value():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(SMOKE, ["method.temperature"])


def test_run_id_is_stable_and_follows_what_changes_results(tmp_path):
    base = load_config(SMOKE)
    assert run_id(base) == run_id(load_config(SMOKE))
    assert len(run_id(base)) == 12
    # only the temperature differs: different runs
    assert run_id(base) != run_id(load_config(SMOKE, ["method.temperature=0.2"]))
    assert run_id(base) != run_id(load_config(SMOKE, ["seed=1"]))
    # where results go, and the run's display name, do not change the id
    assert run_id(base) == run_id(load_config(SMOKE, [f"output.root={tmp_path}", "name=other", "output.checkpoint_every=3"]))
    # the same dataset written as a relative or an absolute path is the same run
    absolute = load_config(SMOKE, [f"data.root={base.data.root}"])
    assert run_id(base) == run_id(absolute)
    # a default written out explicitly is the same run as the default left out
    assert run_id(base) == run_id(load_config(SMOKE, ["method.normalize=true"]))


def test_cli_reports_a_bad_key_in_one_line_and_exit_code_2():
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.run", str(SMOKE), "--set", "optim.lrr=1"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown key 'optim.lrr'")


def test_cli_print_config_shows_run_id():
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.run", str(SMOKE), "--print-config"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"# run_id: {run_id(load_config(SMOKE))}")
