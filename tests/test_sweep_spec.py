"""Sweep files: expansion counts for every axis kind, derived values, exclusions, and errors naming the axis."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench_ssl.errors import ConfigError
from bench_ssl.sweep import expand, load_sweep, varying_keys

ROOT = Path(__file__).resolve().parents[1]
BASE = str(ROOT / "configs" / "smoke.yaml")


def sweep(**kw):
    return load_sweep({"name": "t", "base": BASE, **kw})


def test_grid_is_the_cartesian_product():
    runs = expand(sweep(grid={"method.temperature": [0.1, 0.2, 0.5], "optim.batch_size": [64, 128]}))
    assert len(runs) == 6
    assert {(r.config.method.temperature, r.config.optim.batch_size) for r in runs} == {
        (t, b) for t in (0.1, 0.2, 0.5) for b in (64, 128)}
    assert len({r.run_id for r in runs}) == 6
    assert [r.config.method.temperature for r in runs[:2]] == [0.1, 0.1]  # the last grid axis varies fastest
    assert varying_keys(runs) == ["method.temperature", "optim.batch_size"]


def test_zip_varies_together_and_crosses_the_grid():
    runs = expand(sweep(zip={"optim.batch_size": [64, 128, 256], "optim.epochs": [4, 2, 1]},
                        grid={"method.temperature": [0.1, 0.5]}))
    assert len(runs) == 6
    assert {(r.config.optim.batch_size, r.config.optim.epochs) for r in runs} == {(64, 4), (128, 2), (256, 1)}


def test_explicit_runs_seeds_and_their_order():
    runs = expand(sweep(runs=[{"model.head.type": "none"}, {"model.head.type": "linear"}], seeds=3))
    assert len(runs) == 6
    assert [r.config.seed for r in runs] == [0, 0, 1, 1, 2, 2]  # seeds outermost: every cell once before repeats
    assert [r.config.model.head.type for r in runs[:2]] == ["none", "linear"]
    assert expand(sweep(seeds=[3, 7]))[1].config.seed == 7


def test_exclusions_by_mapping_and_by_expression():
    grid = {"method.temperature": [0.1, 0.5], "optim.batch_size": [64, 128]}
    assert len(expand(sweep(grid=grid, exclude=[{"method.temperature": 0.1, "optim.batch_size": 128}]))) == 3
    assert len(expand(sweep(grid=grid, exclude=["optim.batch_size > 100 or method.temperature < 0.2"]))) == 1
    views = {"augment.view1": [["crop"], ["crop", "color"]], "augment.view2": [["crop"], ["crop", "color"]]}
    assert len(expand(sweep(grid=views, exclude=["augment.view1 == augment.view2"]))) == 2
    with pytest.raises(ConfigError, match="drop every run"):
        expand(sweep(grid=grid, exclude=["seed == 0"]))


def test_derived_values_follow_the_axes():
    runs = expand(sweep(grid={"optim.batch_size": [64, 128, 256]}, derived={"optim.lr": "0.3 * optim.batch_size / 256"}))
    assert [r.config.optim.lr for r in runs] == pytest.approx([0.075, 0.15, 0.3])
    assert runs[0].params == {"optim.batch_size": 64, "optim.lr": 0.075}
    # combinations that resolve to the same config are one run
    assert len(expand(sweep(runs=[{"method.temperature": 0.5}, {"method.temperature": 0.5}, {"method.temperature": 0.2}]))) == 2


def test_set_and_overrides_apply_to_every_run():
    spec = sweep(set={"optim.epochs": 7}, grid={"method.temperature": [0.1, 0.5]})
    runs = expand(spec, ["optim.batch_size=32"])
    assert all(r.config.optim.epochs == 7 and r.config.optim.batch_size == 32 and r.config.name == "t" for r in runs)


@pytest.mark.parametrize("kw,words", [
    ({"grid": {"method.temprature": [0.1]}}, ["grid axis 'method.temprature'", "did you mean 'temperature'"]),
    ({"grid": {"method.temperature": [0.1, -1.0]}}, ["method.temperature=-1.0", "method.temperature: -1.0 is out of range",
                                                     "'method.temperature' axis"]),
    ({"grid": {"augment.view1": [["crop", "colr"]]}}, ["augment.view1[1]", "'colr'", "did you mean 'color'"]),
    ({"zip": {"optim.lr": [0.1, 0.2], "optim.epochs": [1]}}, ["zip lists must have equal lengths", "optim.lr: 2"]),
    ({"grid": {"seed": [1]}, "seeds": 2}, ["'seed' is varied by both grid and seeds"]),
    ({"grid": {"method.temperature": 0.1}}, ["grid axis 'method.temperature'", "non-empty list"]),
    ({"derived": {"optim.lr": "0.3 * optim.batchsize"}}, ["derived optim.lr", "'optim.batchsize' is not a config key",
                                                         "did you mean 'batch_size'"]),
    ({"derived": {"optim.lr": "__import__('os')"}}, ["derived optim.lr", "__import__() is not allowed"]),
    ({"exclude": [{"optim.lrr": 1}]}, ["exclude[0] key 'optim.lrr'", "did you mean 'lr'"]),
    ({"seeds": 0}, ["seeds: 0 must be >= 1"]),
    ({"launcher": {"name": "kubernetes"}}, ["launcher.name", "local, submitit-local, slurm"]),
    ({"slurm": {"time_min": 0}}, ["slurm.time_min"]),
    ({"gird": {}}, ["unknown key 'gird'", "did you mean 'grid'"]),
])
def test_errors_name_the_axis_and_the_key(kw, words):
    with pytest.raises(ConfigError) as info:
        expand(sweep(**kw))
    msg = str(info.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg, (word, msg)


def test_base_path_is_relative_to_the_sweep_file(tmp_path):
    (tmp_path / "s.yaml").write_text("name: s\nbase: nope.yaml\n")
    with pytest.raises(ConfigError, match=r"base config .*nope.yaml does not exist"):
        load_sweep(tmp_path / "s.yaml")
    (tmp_path / "bad.yaml").write_text("name: s\ngrid: {a: [1\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_sweep(tmp_path / "bad.yaml")


def test_dry_run_prints_one_row_per_run_and_runs_nothing(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.sweep", "sweeps/smoke.yaml", "--dry-run",
                           "--set", f"output.root={tmp_path}"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split() == ["run_id", "method.temperature", "augment.color.strength", "status"]
    rows = [line for line in lines[2:] if line.strip() and not line.startswith("4 runs")]
    assert len(rows) == 4 and all(row.split()[-1] == "pending" for row in rows)
    assert lines[-1] == "4 runs: done 0  running 0  failed 0  pending 4"
    assert not any(tmp_path.iterdir())  # nothing written


def test_cli_error_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: bad\nbase: {BASE}\ngrid:\n  method.temperature: [0.5, -0.1]\n")
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.sweep", str(bad), "--dry-run"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "method.temperature" in proc.stderr


def test_profiles_overlay_the_sweep_and_get_their_own_folder(tmp_path):
    spec = {"name": "p", "base": BASE, "set": {"optim.epochs": 9}, "grid": {"method.temperature": [0.1, 0.2, 0.5]},
            "seeds": 3, "profiles": {"quick": {"set": {"optim.batch_size": 32}, "grid": {"method.temperature": [0.5]},
                                               "seeds": 1}}}
    full = expand(load_sweep(spec))
    quick = expand(load_sweep(spec, "quick"))
    assert len(full) == 9 and len(quick) == 1
    q = quick[0].config
    assert q.name == "p_quick" and q.optim.epochs == 9 and q.optim.batch_size == 32 and q.method.temperature == 0.5
    with pytest.raises(ConfigError, match="no profile 'quik' \\(did you mean 'quick'\\?\\); profiles: quick"):
        load_sweep(spec, "quik")
    bad = {**spec, "profiles": {"quick": {"base": "x.yaml"}}}
    with pytest.raises(ConfigError, match="profiles.quick: unknown key 'base'"):
        load_sweep(bad, "quick")
    path = tmp_path / "p.yaml"
    import yaml

    path.write_text(yaml.safe_dump(spec))
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.sweep", str(path), "--dry-run", "--set", "profile=quick",
                           "--set", f"output.root={tmp_path}"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1 runs: done 0  running 0  failed 0  pending 1"
