"""Only what applies exists: a run config holds the chosen method's, loss's, head's, optimizer's, ops' and
protocols' parameters and nothing else; a knob that does not apply is an error naming the component and what it
takes; the run id, the tables and --dry-run see only what applies; one default and one check per parameter."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from bench_ssl.augment import build_op
from bench_ssl.config import dump_yaml, load_config, run_id, to_dict
from bench_ssl.errors import ConfigError
from bench_ssl.registry import REGISTRIES, NoParams
from bench_ssl.results import load, write_manifest
from bench_ssl.sweep import expand, load_sweep, varying_keys

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"


def test_a_knob_the_method_does_not_take_is_rejected_naming_the_method_and_what_it_takes():
    with pytest.raises(ConfigError) as info:
        load_config(SMOKE, ["method.momentum=0.9"])
    msg = str(info.value)
    assert msg.startswith("method.momentum: simclr takes no 'momentum'; simclr takes: loss, temperature, normalize")
    assert "momentum is a parameter of moco" in msg and "\n" not in msg
    with pytest.raises(ConfigError, match=r"method.margin: simclr takes no 'margin'; simclr takes: loss, temperature, "
                                          r"normalize \(margin is a parameter of loss margin_triplet"):
        load_config(SMOKE, ["method.margin=0.3"])  # a parameter of another loss than the chosen one
    with pytest.raises(ConfigError, match=r"optim.lars_eta: optimizer sgd takes no 'lars_eta'; optimizer sgd takes: "
                                          r"momentum \(lars_eta is a parameter of lars"):
        load_config(SMOKE, ["optim.lars_eta=0.02"])
    with pytest.raises(ConfigError, match=r"model.cifar_stem: backbone convnet takes no 'cifar_stem'"):
        load_config(SMOKE, ["model.cifar_stem=true"])
    with pytest.raises(ConfigError, match=r"model.head.out_dim: head none takes no 'out_dim'"):
        load_config(SMOKE, ["model.head.type=none", "model.head.out_dim=32"])
    with pytest.raises(ConfigError, match=r"augment.blur: blur is in neither augment.view1 nor augment.view2"):
        load_config(SMOKE, ["augment.blur.p=0.3"])
    with pytest.raises(ConfigError, match=r"eval.linear: linear is not in eval.protocols"):
        load_config(SMOKE, ["eval.protocols=[knn]", "eval.linear.max_iter=10"])


def test_two_configs_that_differ_only_in_a_knob_that_does_not_apply_cannot_be_written():
    simclr = load_config(SMOKE)
    method = to_dict(simclr)["method"]
    assert method == {"name": "simclr", "loss": "nt_xent", "temperature": 0.5, "normalize": True}
    assert "momentum" not in dump_yaml(simclr).split("method:")[1].split("optim:")[0]
    assert set(to_dict(simclr)["augment"]) == {"view1", "view2", "crop", "flip", "color"}  # only the ops in a view
    assert set(to_dict(simclr)["optim"]) - {"momentum"} == {f.name for f in dataclasses.fields(simclr.optim)} - {"params"}
    # what is inactive given the other values is not part of the run either
    a, b = (load_config(SMOKE, ["method.name=moco", "method.shuffle_bn=false", "method.queue_size=1024",
                                f"method.bn_splits={n}"]) for n in (2, 4))
    assert run_id(a) == run_id(b) and "bn_splits" not in to_dict(a)["method"]
    sup = [load_config(SMOKE, ["method.name=supervised", *extra]) for extra in
           ([], ["model.head.out_dim=16"], ["augment.view2=[crop]"], ["model.head.type=linear"])]
    assert len({run_id(c) for c in sup}) == 1  # no head, one view: head and view2 do not apply
    assert "head" not in to_dict(sup[0])["model"] and "view2" not in to_dict(sup[0])["augment"]
    lbfgs = to_dict(load_config(SMOKE))["eval"]["linear"]
    assert "max_iter" in lbfgs and "epochs" not in lbfgs  # the lbfgs solver runs iterations, not epochs


def test_a_switch_of_component_drops_the_knobs_earlier_layers_gave_the_old_one():
    # smoke.yaml says loss: nt_xent and temperature: 0.5 for simclr; moco takes the temperature, not the loss
    moco = load_config(SMOKE, ["method.name=moco"])
    assert to_dict(moco)["method"]["temperature"] == 0.5 and "loss" not in to_dict(moco)["method"]
    # but a knob given in the same layer as the switch (one --set list) must apply
    with pytest.raises(ConfigError, match=r"method.loss: moco takes no 'loss'"):
        load_config(SMOKE, ["method.name=moco", "method.loss=nt_logistic"])
    # the order within a layer does not matter: the choice is applied first
    cfg = load_config(SMOKE, ["method.semi_hard=true", "method.loss=nt_logistic"])
    assert to_dict(cfg)["method"] == {"name": "simclr", "loss": "nt_logistic", "temperature": 0.5, "normalize": True,
                                      "semi_hard": True}
    margin = to_dict(load_config(SMOKE, ["method.loss=margin_triplet"]))["method"]
    assert "temperature" not in margin and margin["margin"] == 0.5  # margin triplet has a margin, not a temperature
    views = to_dict(load_config(SMOKE, ["augment.view1=[crop, blur]", "augment.view2=[crop]"]))["augment"]
    assert set(views) == {"view1", "view2", "crop", "blur"}  # color's parameters went with color
    resnet = load_config(SMOKE, ["model.backbone=resnet18"])
    assert to_dict(resnet)["model"]["cifar_stem"] is True


def test_one_default_and_one_check_per_parameter():
    # the colour strength had two defaults (0.5 in the config, 1.0 in the op): now one
    assert load_config(SMOKE, ["augment.color={}"]).augment.color.strength == build_op("color").strength == 0.5
    with pytest.raises(ConfigError, match=r"augment.color.strength: -1.0 is out of range; allowed: \[0.0, inf\)"):
        load_config(SMOKE, ["augment.color.strength=-1"])
    with pytest.raises(ConfigError, match=r"augmentation 'color': strength=-1.0 is out of range; allowed: \[0.0, inf\)"):
        build_op("color", strength=-1)
    # every component's parameters are declared in a dataclass of its package (beside the code that reads them)
    for kind, reg in REGISTRIES.items():
        for name, entry in reg.items_entries():
            if entry.params is NoParams:  # a component without parameters (supervised, convnet, a study)
                continue
            assert dataclasses.is_dataclass(entry.params), (kind, name)
            assert entry.params.__module__.startswith(reg.package.rsplit(".", 1)[0]), (kind, name, entry.params)
    # the config schema defines no component parameter of its own
    from bench_ssl.config import schema

    src = inspect.getsource(schema)
    for knob in ("momentum: float", "queue_size", "strength", "lars_eta", "knn_k", "hidden_dim", "cifar_stem: bool"):
        assert knob not in src, knob


def _methods_quick():
    return load_sweep(ROOT / "sweeps" / "methods.yaml", "quick")


def test_a_method_sweep_expands_validates_and_tables_only_what_applies(tmp_path):
    spec = _methods_quick()
    runs = expand(spec, [f"data.root={tmp_path}/data", f"output.root={tmp_path}"])
    taken = {r.config.method.name: set(to_dict(r.config)["method"]) - {"name"} for r in runs}
    unset = {r.config.method.name: {k for k, v in to_dict(r.config)["method"].items() if v is None} for r in runs}
    assert taken["moco"] == {"temperature", "normalize", "momentum", "queue_size", "shuffle_bn", "bn_splits"}
    assert taken["supervised"] == set() and taken["simsiam"] == {"predictor_hidden_dim"}
    # the table of the sweep (its pending runs, from sweep.json): a knob appears only in the rows it applies to
    sweep_dir = tmp_path / spec.name
    write_manifest(sweep_dir, spec, runs, varying_keys(runs))
    frame = load(sweep_dir)
    assert len(frame) == 8 and set(frame["status"]) == {"pending"}
    for row in frame.to_dict("records"):
        shown = {c.split(".", 1)[1] for c, v in row.items() if c.startswith("method.") and v == v and v is not None}
        name = row["method.name"]
        assert shown - {"name"} == taken[name] - unset[name], name  # (a knob set to null shows as empty too)
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.results", str(sweep_dir)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    simclr_row = next(line for line in proc.stdout.splitlines() if "| simclr " in line)
    assert "0.999" not in simclr_row and "–" in simclr_row  # moco's momentum is no column value of simclr's row


def test_the_dry_run_shows_each_run_its_own_parameters(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench_ssl.sweep", str(ROOT / "sweeps" / "moco_queue.yaml"),
                           "--profile", "quick", "--dry-run", "--set", f"data.root={tmp_path}/data",
                           "--set", f"output.root={tmp_path}"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["run_id", "method.name", "optim.batch_size", "method.num_negatives",
                                "method.queue_size", "status"]
    rows = [line.split() for line in lines[2:13]]
    assert [r[1] for r in rows] == ["end_to_end"] * 3 + ["memory_bank"] * 4 + ["moco"] * 4
    assert all(r[3] == "-" and r[4] == "-" for r in rows[:3])  # end-to-end's K is its batch
    assert [r[3] for r in rows[3:7]] == ["64", "128", "256", "1024"] and all(r[4] == "-" for r in rows[3:7])
    assert [r[4] for r in rows[7:]] == ["64", "128", "256", "1024"] and all(r[2] == "64" for r in rows[3:])
    assert "11 runs" in proc.stdout


def test_a_sweep_axis_that_sets_a_knob_the_run_does_not_take_stops_before_anything_launches(tmp_path):
    spec = load_sweep({"name": "bad", "base": str(SMOKE), "grid": {"method.name": ["simclr", "moco"],
                                                                   "method.momentum": [0.9, 0.99]}})
    with pytest.raises(ConfigError, match=r"run \(method.name=\"simclr\", method.momentum=0.9\): method.momentum: simclr "
                                          r"takes no 'momentum'.*set by the sweep's 'method.momentum' axis"):
        expand(spec, [f"data.root={tmp_path}"])
    # said per method, the same sweep is valid: each runs entry crosses its own grid
    ok = load_sweep({"name": "ok", "base": str(SMOKE), "runs": [
        {"method.name": "simclr"}, {"method.name": "moco", "grid": {"method.momentum": [0.9, 0.99]}}]})
    runs = expand(ok, [f"data.root={tmp_path}"])
    assert [(r.config.method.name, r.params.get("method.momentum")) for r in runs] == [
        ("simclr", None), ("moco", 0.9), ("moco", 0.99)]
