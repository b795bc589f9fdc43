"""SimCLR Fig. 5: linear top-1 when the 1st and 2nd transformation (crop, cutout, color, sobel, noise, blur,
rotate) are applied to ONE branch after a random crop of both (the diagonal: one transformation); a 7x7
heatmap with row averages."""

from __future__ import annotations

import numpy as np

from .. import figures
from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, views

AUGS = ["crop", "cutout", "color", "sobel", "noise", "blur", "rotate"]


class AugGrid(Study):
    figure = "SimCLR Fig. 5"
    title = "pairs of transformations on one branch"
    citation = "Chen et al. 2020, SimCLR, arXiv:2002.05709"
    paper_table = "simclr_fig5_aug_pairs"
    paper_setup = "ImageNet, ResNet-50, batch 4096, 100 epochs"
    expected = ("crop followed by colour (and colour followed by crop) is by far the best pair; a pair beats either "
                "transformation alone; the crop row has the highest average")
    parts = ("1st transformation", "2nd transformation")
    orders = {0: AUGS, 1: AUGS}
    kind = "heatmap"

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        df = df[df["entry_type"] != "row_average"]
        return [PaperCell((r.lower(), c.lower()), float(v)) for r, c, v in
                zip(df["row_aug_1st_transformation"], df["col_aug_2nd_transformation"], df["top1"])]

    def paper_row_averages(self) -> dict:
        df = self.load_paper()
        df = df[df["entry_type"] == "row_average"]
        return {r.lower(): float(v) for r, v in zip(df["row_aug_1st_transformation"], df["top1"])}

    def key_of(self, run: dict):
        v1, v2 = views(run, "augment.view1"), views(run, "augment.view2")
        if v2 != ["crop"] or v1[:1] != ["crop"] or len(v1) not in (2, 3) or any(t not in AUGS for t in v1[1:]):
            return None
        return (v1[1], v1[1]) if len(v1) == 2 else (v1[1], v1[2])

    def label(self, key) -> str:
        a, b = key
        return a.capitalize() if a == b else f"{a.capitalize()} → {b.capitalize()}"

    def claims(self, match) -> list[Claim]:
        used = {a for key in match.paper_key.values() if key is not None for a in key}
        augs = [a for a in AUGS if a in used] if len(used) >= 2 else AUGS  # over the (sub-)grid the sweep covers
        diag = tuple((a, a) for a in augs)
        off = tuple((a, b) for a in augs for b in augs if a != b)
        return [
            Claim("adding colour to crop helps: Crop → Color > Crop alone", (("crop", "color"),), (("crop", "crop"),)),
            Claim("adding crop to colour helps: Color → Crop > Color alone", (("color", "crop"),), (("color", "color"),)),
            Claim("colour is crop's best partner: Crop → Color > Crop → Sobel (the runner-up)", (("crop", "color"),),
                  (("crop", "sobel"),)),
            Claim("a pair beats one transformation: mean off-diagonal > mean diagonal", off, diag),
            Claim("crop first is the most useful: the Crop row's mean > the other rows' mean",
                  tuple(("crop", b) for b in augs), tuple((a, b) for a in augs if a != "crop" for b in augs)),
        ]

    def shown(self, cells) -> list[str]:
        """The transformations on the axes: all 7, or the sub-grid a sweep covers (e.g. the quick profile's 4x4);
        the paper's panel is cut to the same sub-grid, so the two read cell by cell."""
        used = {a for key in cells["key"] for a in key}
        return [a for a in AUGS if a in used] if len(used) >= 2 else AUGS

    def draw(self, cells, paper, ctx, match, fig=None):
        augs = self.shown(cells)
        n = len(augs)
        ours = np.full((n, n + 1), np.nan)
        missing = np.zeros((n, n + 1), bool)
        absent = np.ones((n, n + 1), bool)
        for key, mean, n_done in zip(cells["key"], cells["mean"], cells["n_done"]):
            i, j = augs.index(key[0]), augs.index(key[1])
            absent[i, j] = False
            if n_done:
                ours[i, j] = mean
            else:
                missing[i, j] = True
        for i in range(n):  # the row average over the cells that have a result
            row = ours[i, :n]
            if np.isfinite(row).any():
                ours[i, n] = float(np.nanmean(row))
                absent[i, n] = False
        pub = np.full((n, n + 1), np.nan)
        for key, value in zip(paper["key"], paper["value"]):
            if key[0] in augs and key[1] in augs:
                pub[augs.index(key[0]), augs.index(key[1])] = value
        if n == len(AUGS):  # the published row averages
            for a, v in self.paper_row_averages().items():
                pub[augs.index(a), n] = v
        else:  # averages over the sub-grid, like ours
            pub[:, n] = np.nanmean(pub[:, :n], axis=1)
        names = [a.capitalize() for a in augs]
        cols = [*names, "Average"]
        with figures.style():
            fig = fig or figures.new_figure(figures.PAGE_WIDTH_IN, self.height_in() if n > 4 else 3.1)
            ax1, ax2 = fig.subplots(1, 2)
            axis_labels = {"xlabel": "2nd transformation", "ylabel": "1st transformation", "rows": names, "cols": cols}
            figures.heatmap(ax1, ours, missing=missing, absent=absent & ~missing,
                            title=f"Ours\n{figures.wrap(ctx.ours_setup, 34)}", cbar_label=ctx.metric_label, **axis_labels)
            figures.heatmap(ax2, pub, missing=np.zeros_like(missing), absent=~np.isfinite(pub),
                            title=f"Paper\n{figures.wrap(ctx.paper_setup, 34)}", cbar_label="linear top-1 (%)", **axis_labels)
            for ax in (ax1, ax2):  # separate the average column, as in the paper
                ax.axvline(n, color="white", linewidth=2.5)
                ax.title.set_fontsize(7.5)
            sub = "" if n == len(AUGS) else f" ({n}x{n} of the paper's 7x7)"
            fig.suptitle(f"{self.figure}: {self.title}{sub}")
        return fig


STUDY = STUDIES.register("aug_grid")(AugGrid())

__all__ = ["AUGS", "STUDY", "AugGrid"]
