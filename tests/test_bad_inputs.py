"""Bad inputs found by an audit of every command: each is one line naming the problem and the fix, exit 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench_ssl.config import load_config
from bench_ssl.errors import BenchSSLError, ConfigError
from bench_ssl.sweep import expand, load_sweep

ROOT = Path(__file__).resolve().parents[1]
BASE = str(ROOT / "configs" / "smoke.yaml")


def cli(*args, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def error_line(proc) -> str:
    """The one error line (progress logging may come before it; argparse's usage block may not)."""
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    assert "usage:" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


# ------------------------------------------------------------------------------------------- config files
def test_a_key_given_twice_is_refused_with_both_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("name: t\nmethod:\n  temperature: 0.1\nmethod:\n  temperature: 0.5\n")
    with pytest.raises(ConfigError, match=r"line 4.*key 'method' appears twice \(first on line 2\); keep one"):
        load_config(path)


def test_yaml_merge_keys_still_merge(tmp_path):
    """The duplicate-key check must leave `<<: *anchor` alone (the shipped MoCo sweeps use it)."""
    path = tmp_path / "merge.yaml"
    path.write_text(f"name: m\nbase: {BASE}\nshared: &s {{method.temperature: 0.2}}\n"
                    "runs:\n  - <<: *s\n    method.name: simclr\n  - {method.temperature: 0.5}\n")
    raw = yaml.safe_load(path.read_text())
    raw.pop("shared")
    specs = expand(load_sweep(raw))
    assert [s.config.method.temperature for s in specs] == [0.2, 0.5]
    for shipped in ("mocov2_ablation", "mocov2_vs_simclr"):
        assert expand(load_sweep(ROOT / "sweeps" / f"{shipped}.yaml"))


def test_a_config_that_is_not_utf8_or_is_a_folder_is_one_line(tmp_path):
    binary = tmp_path / "model.pt"
    binary.write_bytes(b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.")
    with pytest.raises(ConfigError, match="not UTF-8 text.*is it the YAML file you meant"):
        load_config(binary)
    with pytest.raises(ConfigError, match="is a folder, not a config file"):
        load_config(tmp_path)
    line = error_line(cli("bench_ssl.run", binary))
    assert "not UTF-8" in line


def test_a_list_written_without_one_bracket_gets_the_list_it_meant():
    with pytest.raises(ConfigError, match=r"expected a list, got '\[crop'.*brackets: \[crop\] "):
        load_config(BASE, ["augment.view2=[crop"])
    with pytest.raises(ConfigError, match=r"brackets: \[crop, flip\] "):
        load_config(BASE, ["augment.view2=crop, flip]"])


# ------------------------------------------------------------------------------------------- sweep files
@pytest.mark.parametrize("axes,words", [
    ({"grid": {}}, "grid: is empty, so the sweep varies nothing"),
    ({"grid": None}, "grid: is empty"),
    ({"runs": []}, "runs: is empty"),
    ({"grid": {}, "zip": {}}, "grid:, zip: are empty"),
    ({"seeds": []}, "seeds: [] lists no seeds"),
])
def test_an_axis_given_but_empty_is_refused(axes, words):
    with pytest.raises(ConfigError) as err:
        load_sweep({"name": "e", "base": BASE, **axes})
    assert words in str(err.value)


@pytest.mark.parametrize("axes,words", [
    ({"grid": {"method.temperature": [0.1, 0.5, 0.1]}}, "grid axis 'method.temperature': 0.1 is listed twice"),
    ({"runs": [{"grid": {"augment.view2": [["crop"], ["crop"]]}}]}, "runs[0].grid axis 'augment.view2': ['crop']"),
    ({"seeds": [0, 1, 0]}, "seeds: 0 is listed twice"),
])
def test_a_value_listed_twice_on_an_axis_is_refused_not_merged(axes, words):
    """Silently one run where the file lists two: almost always a typo for another value."""
    with pytest.raises(ConfigError) as err:
        load_sweep({"name": "d", "base": BASE, **axes})
    assert words in str(err.value)
    zipped = load_sweep({"name": "z", "base": BASE, "zip": {"optim.epochs": [2, 2], "optim.batch_size": [32, 64]}})
    assert len(expand(zipped)) == 2  # a zip may repeat a value: its runs differ in the other key


@pytest.mark.parametrize("override", ["eval.protocols=[knn, linear, knn]", "output.loggers=[csv, csv]"])
def test_an_evaluation_or_logger_listed_twice_is_refused(override):
    with pytest.raises(ConfigError, match="is listed twice in .*; list each once"):
        load_config(BASE, [override])


def test_a_sweep_without_any_axis_is_still_one_run_and_a_profile_may_clear_the_grid():
    assert len(expand(load_sweep({"name": "one", "base": BASE}))) == 1
    spec = {"name": "p", "base": BASE, "grid": {"method.temperature": [0.1, 0.5]}, "seeds": 2,
            "profiles": {"one_temp": {"grid": {}}}}
    assert len(expand(load_sweep(spec, "one_temp"))) == 2  # the seeds still vary


@pytest.mark.parametrize("flag,value,words", [
    ("--fuse", "abc", "--fuse: 'abc' is not allowed"),
    ("--max-parallel", "0", "--max-parallel: 0"),
    ("--runs-per-gpu", "0", "--runs-per-gpu: 0"),
])
def test_a_bad_launcher_flag_is_named_as_the_flag(flag, value, words, tmp_path):
    line = error_line(cli("bench_ssl.sweep", "sweeps/smoke.yaml", "--dry-run", flag, value,
                          "--set", f"output.root={tmp_path}"))
    assert words in line
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["run", "sweep", "fused", "tune", "report", "results", "bench", "export"])
def test_an_unknown_flag_is_one_line_naming_it_and_pointing_at_help_not_a_usage_block(command, capsys):
    """argparse would print its usage block (sixteen lines for `sweep`) above the line that says what is wrong."""
    from bench_ssl.cli import main

    with pytest.raises(SystemExit) as exit:
        main([command, *([] if command == "bench" else ["some.yaml"]), "--no-such-flag"])  # bench takes no file
    assert exit.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"bench-ssl {command}: error: unrecognized arguments: --no-such-flag; bench-ssl {command} --help lists the "
        "options"]


# ------------------------------------------------------------------------------------------- environment
@pytest.mark.parametrize("name,value", [("BENCH_SSL_STALE_AFTER_S", "2m"), ("BENCH_SSL_HEARTBEAT_S", "0"),
                                        ("BENCH_SSL_HEARTBEAT_S", "-5")])
def test_a_malformed_lock_setting_is_one_line_before_anything_starts(name, value, tmp_path, monkeypatch):
    from bench_ssl.results.lock import RunLock

    line = error_line(cli("bench_ssl", "sweep", "sweeps/smoke.yaml", "--set", f"output.root={tmp_path}",
                          env={name: value}))
    assert f"{name}='{value}' is not a positive number of seconds" in line and "unset it" in line
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv(name, value)
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    with pytest.raises(BenchSSLError, match=name):
        RunLock(run_dir).acquire()
    assert not (run_dir / "lock").exists()


# ------------------------------------------------------------------------------------------- results, report
def _run_folder(root: Path, keep_checkpoint: bool | None = True) -> Path:
    run = root / "s" / "abc123"
    run.mkdir(parents=True)
    cfg = load_config(BASE)
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "s"}))
    output = {} if keep_checkpoint is None else {"keep_checkpoint": keep_checkpoint}
    (run / "result.json").write_text(json.dumps({"run_id": "abc123", "config": {"name": cfg.name, "output": output},
                                                 "metrics": {"knn_top1": 0.5}}))
    return run


def test_results_on_a_file_or_an_empty_folder_is_one_line(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("x")
    assert "is not a folder" in error_line(cli("bench_ssl.results", file))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no runs" in error_line(cli("bench_ssl.results", empty))


def test_a_report_on_one_run_folder_names_the_sweep_folder(tmp_path):
    from bench_ssl.report.data import ReportError, load_sweep as load_report_sweep

    run = _run_folder(tmp_path)
    with pytest.raises(ReportError, match=f"is one run's folder.*e.g. {tmp_path / 's'}$"):
        load_report_sweep(run)


@pytest.mark.parametrize("keep,why", [(False, "made with output.keep_checkpoint=false"),
                                      (True, "deleted or moved since the run finished")])
def test_export_without_a_checkpoint_says_why_it_is_missing(keep, why, tmp_path):
    from bench_ssl.export import export

    run = _run_folder(tmp_path, keep)
    with pytest.raises(BenchSSLError) as err:
        export(run, tmp_path / "out")
    assert why in str(err.value) and "--set output.keep_checkpoint=true --force" in str(err.value)


# ------------------------------------------------------------------------------------------- benchmark
@pytest.mark.parametrize("args,words", [
    (["--packing", "0"], "--packing: '0' is not a list of runs per device >= 1"),
    (["--packing", "1,,2"], "--packing"),
    (["--packing", ""], "--packing"),
    (["--repeats", "0"], "--repeats"),
    (["--warmup", "-1"], "--warmup"),
    (["--peak-tflops", "-3"], "--peak-tflops"),
    (["--out", "{tmp}"], "is a folder; give a file name"),
    (["--out", "{tmp}/a_file/bench.json"], "cannot write --out"),  # its folder is a file
])
def test_bad_benchmark_arguments_stop_before_any_timing(args, words, tmp_path):
    (tmp_path / "a_file").write_text("x")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = cli("bench_ssl.bench", "--quick", *args, timeout=300)
    assert words in error_line(proc)
    assert "images/s" not in proc.stdout


def test_benchmark_packing_list_is_sorted_and_deduplicated():
    from bench_ssl.bench.__main__ import _packing

    assert _packing("4,1,2,2") == [1, 2, 4]
    assert _packing("none") == []


def test_an_unknown_name_lists_only_files_of_the_kind_asked_for():
    from bench_ssl.named_files import names, resolve

    studies, sweeps = names("study"), names("sweep")
    assert "tune_smoke" in studies and "temperature" in sweeps
    assert not set(studies) & set(sweeps)
    with pytest.raises(ConfigError) as err:
        resolve("nosuch", "study")
    assert "built-in: " + ", ".join(studies) + " (or give a path)" in str(err.value)
    assert "temperature" not in str(err.value)


@pytest.mark.parametrize("url,why", [
    ("sqlite:///{tmp}/a_file/study.db", "[Errno 17] File exists"),  # its folder is a file: the library's error
    ("oracle+cx_oracle://u@localhost:1/db", "Failed to import DB access module"),  # no driver: open_storage's
])
def test_a_storage_that_cannot_be_opened_is_one_line_naming_it_once(url, why, tmp_path):
    (tmp_path / "a_file").write_text("x")
    url = url.replace("{tmp}", str(tmp_path))
    line = error_line(cli("bench_ssl.tune", "sweeps/tune_smoke.yaml", "--storage", url,
                          "--set", f"output.root={tmp_path / 'out'}"))
    assert line.count(f"storage {url}") == 1 and "(sqlalchemy" not in line, line
    assert f"cannot open or create study 'tune_smoke': {why}" in line and "; check that the URL" in line
