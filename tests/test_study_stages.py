"""The issue-18 studies whose cells come from several numbers of one run (SupCon Table 7 and 8, SimCLR Table 3)
and the CIFAR-10 appendix study, on synthetic results folders: every run gives the cells it should, and the
verdicts follow the numbers written (the paper's own agree, their mirror image 100 - value is opposite)."""

import json

import pytest

from bench_ssl.report.report import build
from bench_ssl.report.studies import STUDIES
from test_report import SWEEPS, fake_sweep


def fill(sweep_dir, runs, fields) -> None:
    """Add `fields(run)` (result name -> value) to each run's result.json."""
    for r in runs:
        path = sweep_dir / r.run_id / "result.json"
        result = json.loads(path.read_text())
        result.update(fields(r))
        path.write_text(json.dumps(result))


def jitter(run) -> float:
    return 0.2 * (run.config.seed - 1)  # seeds 0, 1, 2: the mean is the number written


def paper(name) -> dict:
    return {c.key: c.value for c in STUDIES[name].paper()}


def check(r, mirror: bool, same_runs: bool = False) -> None:
    """Our cells are the paper's (mirrored: 100 - the paper's), so every claim agrees (is opposite). Except
    `same_runs`: claims pooling cells of the same pretraining runs (Tables 8 / 9's linear stages), whose noise
    does not average down, and the paper's gaps of under a point are inside it (3 seeds, 10,000 images)."""
    for c in r.claims:
        assert c.ours_delta == pytest.approx(-c.paper_delta if mirror else c.paper_delta, abs=1e-6), c
        if same_runs:
            assert c.verdict == "inconclusive" and abs(c.ours_delta) < 1.96 * c.ours_se, c
        else:
            assert c.verdict == ("opposite" if mirror else "agrees"), c
    for corr in r.correlations:
        assert corr.spearman == pytest.approx(-1.0 if mirror else 1.0), corr.group


@pytest.mark.parametrize("mirror", [False, True])
def test_supcon_table7_a_cross_entropy_run_gives_its_one_and_two_stage_cells(tmp_path, mirror):
    p = paper("supcon_two_stage")
    v = lambda key, run: ((100 - p[(key,)]) if mirror else p[(key,)]) + jitter(run)  # noqa: E731

    def fields(run):
        if run.config.method.name == "supcon":
            return {"linear_top1": v("Supervised Contrastive", run) / 100}
        return {"classifier_top1": v("Cross Entropy (1 stage)", run) / 100,
                "linear_top1": v("Cross Entropy (2 stage)", run) / 100}

    sweep_dir, runs = fake_sweep(tmp_path, SWEEPS / "supcon_two_stage.yaml")
    fill(sweep_dir, runs, fields)
    r = build(sweep_dir)
    assert [k[0] for k in r.cells["key"]] == ["Supervised Contrastive", "Cross Entropy (1 stage)", "Cross Entropy (2 stage)"]
    assert (r.cells["n_done"] == 3).all() and len(runs) == 6
    check(r, mirror)
    assert r.best.paper_label == "Supervised Contrastive" and (r.best.rank_in_ours == 1) == (not mirror)
    assert set(r.run_table["cell"]) == {"Supervised Contrastive", "Cross Entropy"}  # a run is listed once


@pytest.mark.parametrize("mirror", [False, True])
def test_supcon_table8_each_pretraining_run_gives_its_three_linear_stage_cells(tmp_path, mirror):
    p = paper("supcon_optimizers")
    names = {"lars": "LARS", "rmsprop": "RMSProp", "sgd": "Momentum"}

    def fields(run):
        pre = names[run.config.optim.name]
        return {f"linear_{lin}_top1": ((100 - p[(pre, name)]) if mirror else p[(pre, name)]) / 100
                for lin, name in names.items()}

    sweep_dir, runs = fake_sweep(tmp_path, SWEEPS / "supcon_optimizers.yaml")
    fill(sweep_dir, runs, fields)
    r = build(sweep_dir)
    assert len(runs) == 9 and len(r.cells) == 9 and (r.cells["n_done"] == 3).all()
    assert set(r.cells["key"]) == set(p)
    check(r, mirror, same_runs=True)
    # LARS → RMSProp (78.7) is the paper's best, 0.5 above LARS → LARS: inside the noise of 3 seeds on 10,000 images
    assert r.best.paper_label == "LARS → RMSProp" and r.best.verdict == ("inconclusive" if not mirror else "opposite")


@pytest.mark.parametrize("mirror", [False, True])
def test_simclr_table3_a_run_gives_h_gh_and_chance_for_every_task_and_names_no_best_setting(tmp_path, mirror):
    p = paper("h_vs_gh")
    tasks = {"grayscale": "Color vs grayscale", "rotation": "Rotation", "noise": "Orig. vs corrupted",
             "sobel": "Orig. vs Sobel filtered"}

    def fields(run):
        out = {"probe_num_test": 10_000}
        for task, row in tasks.items():
            for rep, name in (("h_top1", "h"), ("gh_top1", "g(h)"), ("chance", "random guess")):
                value = p[(row, name)]
                out[f"probe_{task}_{rep}"] = ((100 - value) if mirror else value) / 100
        return out

    sweep_dir, runs = fake_sweep(tmp_path, SWEEPS / "h_vs_gh.yaml")
    fill(sweep_dir, runs, fields)
    r = build(sweep_dir)
    assert len(r.cells) == 12 and (r.cells["n_done"] == 3).all() and set(r.cells["key"]) == set(p)
    # colour vs grey: +1.9 from 3 identical seeds on 10,000 images is clear (se 0.2 + 0.2)
    check(r, mirror)
    assert r.best is None  # four different tasks: no best setting
    chance = r.cells[[k[1] == "random guess" for k in r.cells["key"]]]
    assert chance["se"].fillna(0).max() == 0  # a share of the labels, not an estimate: no test-set error


def test_simclr_cifar10_claims_are_checked_on_our_cells_and_the_one_published_number_is_matched(tmp_path):
    # τ = 0.5 best at every batch; τ = 0.1 improves with the batch; two seeds, mean = the number below
    ours = {0.1: {256: 85.0, 512: 87.0, 1024: 89.0}, 0.5: {256: 91.0, 512: 91.5, 1024: 92.0},
            1.0: {256: 88.0, 512: 88.0, 1024: 88.0}}

    def value(mirror):
        return lambda run: ((100 - ours[run.config.method.temperature][run.config.optim.batch_size]) if mirror else
                            ours[run.config.method.temperature][run.config.optim.batch_size]) / 100 + \
            (0.001 if run.config.seed else -0.001)

    for mirror in (False, True):
        sweep_dir, runs = fake_sweep(tmp_path / str(mirror), SWEEPS / "simclr_cifar10.yaml", None, value(mirror))
        r = build(sweep_dir)
        assert len(r.cells) == 9 and (r.cells["n_done"] == 2).all()
        published = r.cells[r.cells["paper"].notna()]
        assert list(published["key"]) == [(1024, 0.5)] and float(published["paper"].iloc[0]) == 94.0
        assert [c.text for c in r.claims] == ["τ = 0.5 beats τ = 0.1 (batches pooled)",
                                              "τ = 0.5 beats τ = 1 (batches pooled)",
                                              "τ = 0.1 improves from batch 256 to 1024"]
        assert [round(c.ours_delta, 6) for c in r.claims] == pytest.approx([x * (-1 if mirror else 1) for x in (4.5, 3.5, 4.0)])
        assert {c.verdict for c in r.claims} == {"opposite" if mirror else "agrees"}


@pytest.mark.parametrize("mirror", [False, True])
def test_supcon_table9_each_pretraining_run_gives_its_four_linear_stage_cells(tmp_path, mirror):
    p = paper("supcon_augmentations")
    names = {"simaugment": "SimAugment", "autoaugment": "AutoAugment", "randaugment": "RandAugment",
             "stacked_randaugment": "Stacked RandAugment"}

    def pretraining(run):
        v = run.config.augment.view1
        if "randaugment" in v:
            return "Stacked RandAugment" if "color" in v else "RandAugment"
        return "AutoAugment" if "autoaugment" in v else "SimAugment"

    def fields(run):
        pre = pretraining(run)
        return {f"linear_aug_{ours}_top1": ((100 - p[(pre, name)]) if mirror else p[(pre, name)]) / 100
                for ours, name in names.items()}  # no seed jitter: the paper's ties stay ties

    sweep_dir, runs = fake_sweep(tmp_path, SWEEPS / "supcon_augmentations.yaml")
    fill(sweep_dir, runs, fields)
    r = build(sweep_dir)
    assert len(runs) == 12 and len(r.cells) == 16 and (r.cells["n_done"] == 3).all()
    assert set(r.cells["key"]) == set(p)
    check(r, mirror, same_runs=True)
    assert r.best.paper_label == "AutoAugment → AutoAugment"


@pytest.mark.parametrize("mirror", [False, True])
def test_supcon_fig3_scores_the_mean_and_relative_corruption_error_and_calls_the_lower_one(tmp_path, mirror):
    # ours: clean error 20 / 25 / 30 and corrupted 40 / 47 / 50 (SupCon / cross-entropy / SimCLR): SupCon lower on
    # both measures (40 vs 47; a rise of 20 vs 22); the mirror swaps SupCon and cross-entropy
    clean = {"supcon": 25.0 if mirror else 20.0, "supervised": 20.0 if mirror else 25.0, "simclr": 30.0}
    error = {"supcon": 47.0 if mirror else 40.0, "supervised": 40.0 if mirror else 47.0, "simclr": 50.0}

    def fields(run):
        m = run.config.method.name
        return {"corruption_mean_top1": (100 - error[m] + jitter(run)) / 100,
                "corruption_clean_top1": (100 - clean[m] + jitter(run)) / 100, "corruption_num_test": 10_000}

    sweep_dir, runs = fake_sweep(tmp_path, SWEEPS / "supcon_corruptions.yaml")
    fill(sweep_dir, runs, fields)
    r = build(sweep_dir)
    means = dict(zip(r.cells["key"], r.cells["mean"]))
    mce, rel = "mean corruption error", "relative error (minus the clean error)"
    assert means == pytest.approx({("Supervised Contrastive", mce): error["supcon"], ("Cross-Entropy", mce): error["supervised"],
                                   ("SimCLR", mce): 50.0, ("Supervised Contrastive", rel): error["supcon"] - clean["supcon"],
                                   ("Cross-Entropy", rel): error["supervised"] - clean["supervised"], ("SimCLR", rel): 20.0})
    assert [c.paper_delta for c in r.claims] == pytest.approx([68.6 - 67.2, 96.2 - 94.6])
    assert [c.verdict for c in r.claims] == ["opposite" if mirror else "agrees"] * 2
    assert r.best is None  # an error: the highest cell is the worst, so no best setting is named
    simclr = r.cells[[k[0] == "SimCLR" for k in r.cells["key"]]]
    assert simclr["paper"].isna().all()  # not in the paper's figure
