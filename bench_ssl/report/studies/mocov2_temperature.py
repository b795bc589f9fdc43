"""MoCo v2's temperature x MLP head ablation: a 2-layer MLP projection head instead of MoCo v1's linear fc
lifts linear top-1 at every temperature, and moves the best temperature from 0.07-0.1 up to 0.2."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, number

HEADS = {"linear": "linear (v1)", "mlp": "MLP (v2)"}


class MocoV2Temperature(Study):
    figure = "MoCo v2 Sec. 3"
    title = "temperature with and without the MLP head"
    citation = "Chen et al. 2020, MoCo v2, arXiv:2003.04297"
    paper_table = "mocov2_temperature_mlp"
    paper_setup = "ImageNet, ResNet-50, batch 256, 200 epochs, K = 65536"
    expected = ("the MLP head beats the linear head at every temperature; with it τ = 0.2 is best, without it the "
                "smallest τ")
    parts = ("temperature τ", "head")
    orders = {1: list(HEADS.values())}
    kind = "line"
    x, hue = 0, 1
    categorical_x = False
    xlog = True

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        cells = []
        for tau, without, with_ in zip(df["tau"], df["top1_without_MLP"], df["top1_with_MLP"]):
            cells.append(PaperCell((number(tau), HEADS["linear"]), number(without)))
            cells.append(PaperCell((number(tau), HEADS["mlp"]), number(with_)))
        return cells

    def key_of(self, run: dict):
        head = HEADS.get(run.get("model.head.type"))
        if run.get("method.name") != "moco" or head is None:
            return None
        return (number(run.get("method.temperature")), head)

    def label(self, key) -> str:
        return f"τ={key[0]:g}, {key[1]}"

    def claims(self, match) -> list[Claim]:
        taus = sorted({k[0] for k in match.paper_key.values() if k is not None}) or [0.07, 0.2, 0.5]
        lin, mlp = HEADS["linear"], HEADS["mlp"]
        out = [Claim("the MLP head beats the linear head (mean over τ)", tuple((t, mlp) for t in taus),
                     tuple((t, lin) for t in taus))]
        out += [Claim(f"the MLP head beats the linear head at τ = {t:g}", ((t, mlp),), ((t, lin),)) for t in taus]
        out.append(Claim("with the MLP head, τ = 0.2 beats τ = 0.07", ((0.2, mlp),), ((0.07, mlp),)))
        out.append(Claim("with the linear head, τ = 0.07 beats τ = 0.5", ((0.07, lin),), ((0.5, lin),)))
        return out

    def groups(self) -> dict:
        return {"MLP head": lambda k: k[1] == HEADS["mlp"], "linear head": lambda k: k[1] == HEADS["linear"]}


STUDY = STUDIES.register("mocov2_temperature")(MocoV2Temperature())
