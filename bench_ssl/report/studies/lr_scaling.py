"""SimCLR Table B.1: linear against square-root learning-rate scaling over batch size and epochs. The square
root wins where batches are small and training short; with a large batch or long training they meet."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import Match, PaperCell, Study, align_levels, number

PAPER_BATCHES = [256, 512, 1024, 2048, 4096, 8192]
PAPER_EPOCHS = [100, 200, 400, 800]
SCALINGS = {"linear": "linear (0.3 x B/256)", "sqrt": "square root (0.075 x √B)"}


class LrScaling(Study):
    figure = "SimCLR Table B.1"
    title = "linear vs square-root learning-rate scaling"
    citation = "Chen et al. 2020, SimCLR, arXiv:2002.05709"
    paper_table = "simclr_tableB1_lr_scaling"
    paper_setup = "ImageNet, ResNet-50, LARS"
    expected = ("square-root scaling wins at small batches and few epochs (batch 256, 100 epochs: 62.8 vs 57.5); the two "
                "meet with large batches or long training")
    parts = ("batch size", "training epochs", "lr scaling")
    orders = {2: list(SCALINGS)}
    kind = "bar"
    x, hue, facet = 0, 1, 2  # a row per scaling (both sides have the same two), batches along x, epochs as hue
    sequential_hue = True

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        out = []
        for b, e, lin, sq in zip(df["batch_size"], df["epochs"], df["top1_linear_lr_scaling"], df["top1_sqrt_lr_scaling"]):
            out.append(PaperCell((int(b), int(e), "linear"), number(lin)))
            out.append(PaperCell((int(b), int(e), "sqrt"), number(sq)))
        return out

    def key_of(self, run: dict):
        scaling = run.get("optim.lr_scaling")
        if run.get("method.name") != "simclr" or scaling not in SCALINGS:
            return None
        return (int(run["optim.batch_size"]), int(run["optim.epochs"]), scaling)

    def label(self, key) -> str:
        return f"batch {key[0]}, {key[1]} epochs, {key[2]}"

    def part_label(self, part, value) -> str:
        if part == 2:
            return SCALINGS.get(value, str(value))
        if part == 1:
            return f"{value} epoch{'s' if value != 1 else ''}"
        return super().part_label(part, value)

    def height_in(self) -> float:
        return 0.6 + 2.3 * 2

    def match(self, keys) -> Match:
        """By value where the paper has the levels; a scaled-down grid (the quick profile) by rank per axis."""
        bmap, bdesc = align_levels([k[0] for k in keys], PAPER_BATCHES)
        emap, edesc = align_levels([k[1] for k in keys], PAPER_EPOCHS)
        published = {c.key for c in self.paper()}
        out = {}
        for b, e, s in keys:
            pk = (bmap.get(b), emap.get(e), s)
            out[(b, e, s)] = pk if pk in published else None
        return Match(out, {name: d for name, d in (("batch size", bdesc), ("epochs", edesc)) if d})

    def claims(self, match) -> list[Claim]:
        ours = [k for k in match.paper_key.values() if k is not None]
        batches = sorted({k[0] for k in ours}) or [256, 8192]
        epochs = sorted({k[1] for k in ours}) or [100, 800]
        b0, b1, e0, e1 = batches[0], batches[-1], epochs[0], epochs[-1]
        out = [Claim(f"at batch {b0} and {e0} epochs, square-root scaling beats linear", ((b0, e0, "sqrt"),),
                     ((b0, e0, "linear"),))]
        if b1 != b0:  # a trend needs two batch sizes (two epoch counts)
            out.append(Claim(f"square root's lead shrinks from batch {b0} to {b1} ({e0} epochs)",
                             ((b0, e0, "sqrt"), (b1, e0, "linear")), ((b0, e0, "linear"), (b1, e0, "sqrt"))))
        if e1 != e0:
            out.append(Claim(f"square root's lead shrinks from {e0} to {e1} epochs (batch {b0})",
                             ((b0, e0, "sqrt"), (b0, e1, "linear")), ((b0, e0, "linear"), (b0, e1, "sqrt"))))
        return out


STUDY = STUDIES.register("lr_scaling")(LrScaling())
