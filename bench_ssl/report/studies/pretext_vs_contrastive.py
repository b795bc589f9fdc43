"""Pretext tasks against contrastive learning and the supervised baseline, scored by every downstream
protocol: a method x protocol table and figure. No single paper publishes this grid at CIFAR scale, so the
report has no published panel; the claims are the shape the surveys report (contrastive above pretext on
linear and kNN, supervised above both), each called only when our difference's interval excludes zero."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import figures
from ..agreement import Claim
from ...registry import STUDIES
from .base import Match, PaperCell, Study, field_rows, half_widths

PRETEXT = {"rotation": "Rotation", "jigsaw": "Jigsaw", "relative_patch": "Relative patch", "exemplar": "Exemplar",
           "colorization": "Colorization", "inpainting": "Inpainting", "counting": "Counting"}
CONTRASTIVE = {"simclr": "SimCLR", "moco": "MoCo"}
SUPERVISED = {"supervised": "Supervised (CE)"}
METHODS = {**PRETEXT, **CONTRASTIVE, **SUPERVISED}
FAMILY = {**{v: "pretext" for v in PRETEXT.values()}, **{v: "contrastive" for v in CONTRASTIVE.values()},
          **{v: "supervised" for v in SUPERVISED.values()}}
FAMILY_COLOR = {"pretext": figures.PALETTE[1], "contrastive": figures.PALETTE[0], "supervised": figures.PALETTE[2]}

# protocol label -> (result field, whether it is an accuracy on the test set: its binomial error applies,
#                    the field holding the test-set size when it is not the run's num_test)
PROTOCOLS = {
    "kNN": ("knn_top1", True, None),
    "linear": ("linear_top1", True, None),
    "k-means acc": ("kmeans_acc", True, None),
    "k-means NMI": ("kmeans_nmi", False, None),
    "semi 1%": ("semi_1pct_top1", True, None),
    "semi 10%": ("semi_10pct_top1", True, None),
    "fine-tune": ("finetune_top1", True, None),
    "transfer kNN": ("transfer_knn_top1", True, "transfer_num_test"),
    "transfer linear": ("transfer_linear_top1", True, "transfer_num_test"),
}


class PretextVsContrastive(Study):
    figure = "Pretext vs contrastive"
    title = "pretext tasks, contrastive learning and supervision under every protocol"
    citation = ("Gidaris 2018, Noroozi & Favaro 2016, Doersch 2015, Dosovitskiy 2014, Zhang 2016, Pathak 2016, "
                "Noroozi 2017; SimCLR, MoCo")
    paper_table = ""  # no published grid at CIFAR scale
    paper_setup = "no published numbers at this scale: the surveys' shape only"
    expected = "contrastive above pretext on linear and kNN, the supervised baseline above both"
    parts = ("method", "protocol")
    orders = {0: list(METHODS.values()), 1: list(PROTOCOLS)}
    kind = "bar"
    claims_by = "the literature"
    metric_text = "each protocol's score (%; the transfer rows on the held-out classes)"

    def paper(self) -> list[PaperCell]:
        return []

    def match(self, keys: list[tuple]) -> Match:
        return Match({k: k for k in keys})  # the claims are stated in our own cells

    def cell_rows(self, runs: pd.DataFrame) -> pd.DataFrame:
        """One row per (run, protocol) with the protocol's number as `value` (%, NaN unless done) and the
        test-set size its error comes from (none for NMI, which is no accuracy). A finished run that did not
        evaluate a protocol has no row for it."""
        out = []
        for protocol, (field, accuracy, n_field) in PROTOCOLS.items():
            rows = field_rows(runs, field, protocol=protocol)
            if not accuracy:
                rows["num_test"] = np.nan
            elif n_field is not None:
                rows["num_test"] = rows[n_field] if n_field in rows else np.nan
            out.append(rows)
        return pd.concat(out, ignore_index=True)

    def key_of(self, run: dict):
        m = METHODS.get(run.get("method.name"))
        protocol = run.get("protocol")
        if m is None:
            return None
        return (m, protocol) if protocol in PROTOCOLS else (m,)

    def label(self, key) -> str:
        return key[0] if len(key) == 1 else f"{key[0]} · {key[1]}"

    def claims(self, match) -> list[Claim]:
        pretext, contrastive = list(PRETEXT.values()), list(CONTRASTIVE.values())
        sup = list(SUPERVISED.values())
        out = []
        for protocol in ("linear", "kNN"):
            keys = lambda names: tuple((n, protocol) for n in names)  # noqa: E731
            out += [
                Claim(f"contrastive (mean of {len(contrastive)}) beats pretext (mean of {len(pretext)}) on {protocol}",
                      keys(contrastive), keys(pretext)),
                Claim(f"supervised beats contrastive on {protocol}", keys(sup), keys(contrastive)),
                Claim(f"supervised beats pretext on {protocol}", keys(sup), keys(pretext)),
            ]
        return out

    # ------------------------------------------------------------------ the table and the figure
    def cell_table(self, cells: pd.DataFrame) -> pd.DataFrame:
        """Method x protocol: each entry the mean and its 95% half-width (points)."""
        rows = []
        for method in self._present(cells, 0):
            sub = cells[[k[0] == method for k in cells["key"]]]
            row = {"method": method, "family": FAMILY.get(method, "")}
            for protocol in self._present(cells, 1):
                c = sub[[k[1] == protocol for k in sub["key"]]]
                row[protocol] = _entry(c.iloc[0]) if len(c) else "–"
            done = sub["n_done"].max() if len(sub) else 0
            row["seeds done"] = f"{int(done)}/{int(sub['n_runs'].max()) if len(sub) else 0}"
            rows.append(row)
        return pd.DataFrame(rows)

    def height_in(self) -> float:
        return 7.2

    def draw(self, cells: pd.DataFrame, paper: pd.DataFrame, ctx, match: Match, fig=None):
        """One panel per protocol: a bar per method (coloured by family), the 95% interval as error bars."""
        methods = self._present(cells, 0) or list(METHODS.values())
        protocols = self._present(cells, 1) or list(PROTOCOLS)
        ncols = 3
        nrows = math.ceil(len(protocols) / ncols)
        by_key = {k: i for i, k in enumerate(cells["key"])}
        err = half_widths(cells)
        with figures.style():
            fig = fig or figures.new_figure(figures.PAGE_WIDTH_IN, self.height_in())
            axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharey=True)).ravel()
            y = np.arange(len(methods))[::-1]
            for ax, protocol in zip(axes, protocols):
                means, errs = [], []
                for m in methods:
                    i = by_key.get((m, protocol))
                    means.append(float(cells["mean"].iloc[i]) if i is not None else math.nan)
                    errs.append(float(err[i]) if i is not None else math.nan)
                means, errs = np.asarray(means), np.asarray(errs)
                ok = np.isfinite(means)
                colours = [FAMILY_COLOR.get(FAMILY.get(m, ""), figures.MISSING) for m in methods]
                ax.barh(y[ok], means[ok], color=[c for c, k in zip(colours, ok) if k], height=0.7, zorder=2)
                known = ok & np.isfinite(errs)  # no bar where the noise is unknown (NMI of one seed)
                ax.errorbar(means[known], y[known], xerr=errs[known], fmt="none", ecolor="black", elinewidth=0.7,
                            capsize=1.2, zorder=3)
                errs = np.nan_to_num(errs)
                top = max(float(np.nanmax(means + errs)) if ok.any() else 0.0, 1.0)
                for j in np.flatnonzero(~ok):
                    figures.mark_missing(ax, 0, y[j] - 0.35, top * 0.5, 0.7, "n/a")
                ax.set_xlim(0, top * 1.08)
                ax.set_title(protocol, fontsize=8)
                ax.set_yticks(y, methods)
                ax.grid(axis="y", visible=False)
                ax.tick_params(axis="y", length=0)
            for ax in axes[len(protocols):]:
                ax.set_visible(False)
            for ax in axes[-ncols:]:
                ax.set_xlabel("%", fontsize=7)
            from matplotlib.patches import Patch

            fig.legend(handles=[Patch(color=c, label=f) for f, c in FAMILY_COLOR.items()], loc="outside lower center",
                       ncols=3, title="family")
            fig.suptitle(f"{self.figure}: every method under every protocol\n{ctx.ours_setup}", fontsize=9)
        return fig

    def _present(self, cells: pd.DataFrame, part: int) -> list:
        seen = {k[part] for k in cells["key"] if len(k) > part}
        return [v for v in self.orders[part] if v in seen]


def _entry(c) -> str:
    """'41.2 ±4.3' (the 95% half-width), '41.2' with no error estimate, 'n/a' without a result."""
    if not c["n_done"] or not math.isfinite(float(c["mean"])):
        return "n/a"
    lo, hi = float(c["ci_low"]), float(c["ci_high"])
    return f"{c['mean']:.1f} ±{(hi - lo) / 2:.1f}" if math.isfinite(lo) and math.isfinite(hi) else f"{c['mean']:.1f}"


STUDY = STUDIES.register("pretext_vs_contrastive")(PretextVsContrastive())
