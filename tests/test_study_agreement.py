"""The issue-18 studies on synthetic results folders: every run maps onto a published cell, and the report's
agreement follows the numbers written: the paper's own numbers agree with every claim, their mirror image
(100 - value) is opposite on every claim, and both with the paper's best named correctly."""

import pytest

from bench_ssl.config import to_dict
from bench_ssl.report.report import build
from bench_ssl.report.studies import STUDIES
from test_report import SWEEPS, _flat, fake_sweep

NEW_STUDIES = ["lr_scaling", "mocov2_ablation", "mocov2_temperature", "mocov2_vs_simclr", "supcon_loss",
               "supcon_positives"]


def writer(study, mirror: bool):
    paper = {c.key: c.value for c in study.paper()}

    def value(run) -> float:
        key = study.key_of(_flat(to_dict(run.config)))
        v = paper[key]
        v = 100 - v if mirror else v
        return (v + 0.2 * (run.config.seed - 1)) / 100  # seeds 0, 1, 2: mean = the number written (1 seed: -0.2)

    return value


@pytest.mark.parametrize("name", NEW_STUDIES)
def test_the_papers_own_numbers_agree_and_their_mirror_image_is_opposite(name, tmp_path):
    study = STUDIES[name]
    for mirror in (False, True):
        sweep_dir, runs = fake_sweep(tmp_path / str(mirror), SWEEPS / f"{name}.yaml", None, writer(study, mirror))
        r = build(sweep_dir)
        assert r.known and len(r.cells) == len({study.key_of(_flat(to_dict(x.config))) for x in runs}), name
        seeds = len({x.config.seed for x in runs})
        assert (r.cells["n_done"] == seeds).all() and r.cells["paper_key"].notna().all()
        for c in r.claims:  # ours = the paper's numbers (or their mirror): the verdict is the paper's sign,
            clear = c.paper_delta > 1.96 * c.ours_se  # unless the gap is inside our noise (MoCo v2's +0.2 for cos)
            assert c.ours_delta == pytest.approx(-c.paper_delta if mirror else c.paper_delta, abs=1e-6)
            assert c.verdict == ("inconclusive" if not clear else "opposite" if mirror else "agrees"), (name, c)
        assert any(c.verdict != "inconclusive" for c in r.claims)
        if not mirror:
            top = r.cells.loc[r.cells["paper"].idxmax(), "paper_label"]  # the paper's best of the cells we ran
            assert r.best.rank_in_ours == 1 and r.best.paper_label == top
            # "agrees" only when the best stands clear of the runner-up (MoCo v2: 66.2 vs 65.7 does not)
            assert r.best.verdict == ("agrees" if r.best.distinguishable else "inconclusive")
        for corr in r.correlations:
            if corr.n >= 3:
                assert corr.spearman == pytest.approx(-1.0 if mirror else 1.0), (name, corr.group)
