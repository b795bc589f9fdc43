"""SimCLR Fig. 9 (ImageNet; its CIFAR-10 twin Fig. B.7 has no published numbers): linear top-1 by batch size
and training epochs: bigger batches help most when training is short, and the gap closes with more epochs."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import Match, PaperCell, Study, align_levels, number

PAPER_BATCHES = [256, 512, 1024, 2048, 4096, 8192]
PAPER_EPOCHS = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]


class BatchEpochs(Study):
    figure = "SimCLR Fig. 9"
    title = "batch size and training epochs"
    citation = "Chen et al. 2020, SimCLR, arXiv:2002.05709"
    paper_table = "simclr_fig9_batch_epochs"
    paper_setup = "ImageNet, ResNet-50, linear LR scaling (digitized)"
    expected = ("top-1 rises with epochs and with batch size; the advantage of large batches shrinks as training gets "
                "longer")
    parts = ("batch size", "training epochs")
    kind = "bar"
    x, hue = 1, 0
    sequential_hue = True

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((int(b), int(e)), number(v))
                for b, e, v in zip(df["batch_size"], df["epochs"], df["top1_fig9_digitized"])]

    def key_of(self, run: dict):
        if run.get("method.name") != "simclr":
            return None
        return (int(run["optim.batch_size"]), int(run["optim.epochs"]))

    def label(self, key) -> str:
        return f"batch {key[0]}, {key[1]} epochs"

    def match(self, keys) -> Match:
        """By value where the paper has the levels; a scaled-down grid (the quick profile: batch / 4, epochs / 100)
        is matched by rank along each axis."""
        bmap, bdesc = align_levels([k[0] for k in keys], PAPER_BATCHES)
        emap, edesc = align_levels([k[1] for k in keys], PAPER_EPOCHS)
        published = {c.key for c in self.paper()}
        out = {}
        for b, e in keys:
            pk = (bmap.get(b), emap.get(e))
            out[(b, e)] = pk if pk in published else None
        by_rank = {name: d for name, d in (("batch size", bdesc), ("epochs", edesc)) if d}
        return Match(out, by_rank)

    def claims(self, match) -> list[Claim]:
        ours = [k for k in match.paper_key.values() if k is not None]
        batches = sorted({b for b, _ in ours}) or [256, 4096]
        epochs = sorted({e for _, e in ours}) or [100, 800]
        b0, b1, e0, e1 = batches[0], batches[-1], epochs[0], epochs[-1]
        out = []  # the top comment's first effect first (epochs); a claim needs two values of what it varies
        if e1 != e0:
            out.append(Claim(f"at batch {b0}, {e1} epochs beat {e0}", ((b0, e1),), ((b0, e0),)))
        if b1 != b0:
            out.append(Claim(f"at {e0} epochs, batch {b1} beats batch {b0}", ((b1, e0),), ((b0, e0),)))
        if b1 != b0 and e1 != e0:
            out.append(Claim(f"the large-batch advantage shrinks from {e0} to {e1} epochs", ((b1, e0), (b0, e1)),
                             ((b0, e0), (b1, e1))))
        return out


STUDY = STUDIES.register("batch_epochs")(BatchEpochs())
