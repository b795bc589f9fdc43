"""SimCLR appendix B.9: the CIFAR-10 recipe over batch size and temperature. Fig. B.8 has no published
numbers, only its shape (τ = 0.5 is best once training converges; τ = 0.1 gains from larger batches), so the
claims are stated on our own cells; the one published number, 94.0 at batch 1024, stands beside ours."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import Match, PaperCell, Study, number


class SimclrCifar10(Study):
    figure = "SimCLR appendix B.9"
    title = "the CIFAR-10 recipe over batch size and temperature"
    citation = "Chen et al. 2020, SimCLR, arXiv:2002.05709"
    paper_table = "simclr_cifar10_appendixB9"
    paper_setup = "CIFAR-10, ResNet-50 (3x3 stem, no max-pool), LARS; Fig. B.8 gives no numbers, only 94.0 at batch 1024"
    expected = ("τ = 0.5 beats τ = 0.1 and τ = 1.0 once training converges, and τ = 0.1 improves with the batch size "
                "(Fig. B.8); the best model reaches 94.0 at batch 1024")
    parts = ("batch size", "temperature τ")
    kind = "line"
    x, hue = 1, 0
    sequential_hue = True
    claims_by = "the paper's text (Fig. B.8 has no numbers)"

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        best = df[df["item"].str.startswith("final linear eval")]
        # the best model: batch 1024 at Fig. B.8's converged optimum, τ = 0.5
        return [PaperCell((int(str(b).split()[-1]), 0.5), number(v)) for b, v in zip(best["batch"], best["value"])]

    def key_of(self, run: dict):
        if run.get("method.name") != "simclr" or run.get("method.loss", "nt_xent") != "nt_xent":
            return None
        return (int(run["optim.batch_size"]), number(run.get("method.temperature")))

    def match(self, keys: list[tuple]) -> Match:
        return Match({k: k for k in keys})  # the claims are stated on our own cells

    def label(self, key) -> str:
        return f"batch {key[0]}, τ={key[1]:g}"

    def part_label(self, part, value) -> str:
        return f"batch {value}" if part == 0 else f"τ={value:g}"

    def claims(self, match) -> list[Claim]:
        keys = [k for k in match.paper_key.values() if k is not None]
        batches = sorted({k[0] for k in keys})
        taus = {k[1] for k in keys}
        out = []
        for other in (0.1, 1.0):
            if {0.5, other} <= taus:
                out.append(Claim(f"τ = 0.5 beats τ = {other:g} (batches pooled)", tuple((b, 0.5) for b in batches),
                                 tuple((b, other) for b in batches)))
        if 0.1 in taus and len(batches) > 1:
            out.append(Claim(f"τ = 0.1 improves from batch {batches[0]} to {batches[-1]}", ((batches[-1], 0.1),),
                             ((batches[0], 0.1),)))
        return out


STUDY = STUDIES.register("simclr_cifar10")(SimclrCifar10())
