"""SimCLR Fig. 8: no projection head / a linear one / a non-linear (MLP) one, by the output dimension of z:
the non-linear head is best at every dimension, the linear one beats none, the dimension matters little."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, number

HEADS = {"none": "None", "linear": "Linear", "mlp": "Non-linear"}
NO_HEAD = "none"  # the x position of 'no head' (z = h, the backbone's features; 2048-d in the paper)


class ProjHead(Study):
    figure = "SimCLR Fig. 8"
    title = "projection head and its output dimension"
    citation = "Chen et al. 2020, SimCLR, arXiv:2002.05709"
    paper_table = "simclr_fig8_projection_head"
    paper_setup = "ImageNet, ResNet-50, 100 epochs (digitized)"
    expected = "non-linear > linear (by ~3 points) > no head (by >10); output dimension matters little"
    parts = ("output dimension of z", "projection head")
    orders = {1: ["None", "Linear", "Non-linear"]}
    kind = "bar"
    x, hue = 0, 1

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((NO_HEAD if h == "None" else int(d), h), number(v))
                for h, d, v in zip(df["projection_head"], df["output_dim"], df["top1"])]

    def key_of(self, run: dict):
        head = HEADS.get(run.get("model.head.type"))
        if head is None:
            return None
        return (NO_HEAD, head) if head == "None" else (int(run["model.head.out_dim"]), head)

    def part_label(self, part, value) -> str:
        return "no head" if value == NO_HEAD else super().part_label(part, value)

    def label(self, key) -> str:
        return "no head" if key[1] == "None" else f"{key[1]}, {key[0]}-d"

    def claims(self, match) -> list[Claim]:
        ours = {k for k in match.paper_key.values() if k is not None}
        dims = sorted(d for d, h in ours if h == "Non-linear" and (d, "Linear") in ours) or [32, 64, 128, 256, 512, 1024, 2048]
        lin_dims = sorted(d for d, h in ours if h == "Linear") or dims
        return [
            Claim("a non-linear head beats a linear one (same output dims)", tuple((d, "Non-linear") for d in dims),
                  tuple((d, "Linear") for d in dims)),
            Claim("a linear head beats no head", tuple((d, "Linear") for d in lin_dims), ((NO_HEAD, "None"),)),
            Claim("a non-linear head beats no head", tuple((d, "Non-linear") for d in dims), ((NO_HEAD, "None"),)),
        ]


STUDY = STUDIES.register("proj_head")(ProjHead())
