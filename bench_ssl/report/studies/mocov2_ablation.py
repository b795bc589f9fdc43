"""MoCo v2 Table 1: MoCo v1 plus the MLP head, aug+ (blur) and the cosine schedule, one at a time and together.
The MLP head is the big step, aug+ a smaller one, and the two add up; cosine adds little."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, views

CASES = {  # (MLP, aug+, cosine) -> the paper's row
    (False, False, False): "MoCo v1",
    (True, False, False): "(a) MLP",
    (False, True, False): "(b) aug+",
    (True, True, False): "(c) MLP + aug+",
    (True, True, True): "(d) MLP + aug+ + cos",
}
V1, A, B, C, D = CASES.values()


def ingredients(run: dict) -> tuple[bool, bool, bool] | None:
    """(MLP head, aug+, cosine schedule) of a run, as MoCo v2 counts them; None for a head that is neither MoCo
    v1's fc nor v2's MLP, or blur in one view only (aug+ is both views or neither)."""
    head = run.get("model.head.type")
    blur = ["blur" in views(run, "augment.view1"), "blur" in views(run, "augment.view2")]
    if head not in ("linear", "mlp") or blur[0] != blur[1]:
        return None
    return head == "mlp", blur[0], run.get("optim.schedule", "cosine") == "cosine"


class MocoV2Ablation(Study):
    figure = "MoCo v2 Table 1"
    title = "what MoCo v2 adds to MoCo v1"
    citation = "Chen et al. 2020, MoCo v2, arXiv:2003.04297"
    paper_table = "mocov2_table1_ablation"
    paper_setup = "ImageNet, ResNet-50, batch 256, 200 epochs, K = 65536"
    expected = "the MLP head helps most, aug+ helps, the two add up, cosine adds a little (60.6 / 66.2 / 63.4 / 67.3 / 67.5)"
    parts = ("case",)
    orders = {0: list(CASES.values())}
    kind = "bar"
    x = 0

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        out = []
        for case, epochs, top1 in zip(df["case"], df["epochs"], df["imagenet_top1"]):
            label = next((v for v in CASES.values() if v == case or v.startswith(f"{case} ")), None)
            if label is not None and str(epochs).strip() == "200":  # (e) trains 800 epochs: another budget
                out.append(PaperCell((label,), float(top1)))
        return out

    def key_of(self, run: dict):
        case = CASES.get(ingredients(run)) if run.get("method.name") == "moco" else None
        return (case,) if case else None

    def part_label(self, part, value) -> str:
        """Stacked tick labels: five long names side by side on half a page would touch."""
        return str(value).replace(") ", ")\n").replace(" + ", "\n+ ")

    def claims(self, match) -> list[Claim]:
        return [
            Claim("the MLP head helps MoCo v1", ((A,),), ((V1,),)),
            Claim("aug+ helps MoCo v1", ((B,),), ((V1,),)),
            Claim("the MLP head helps more than aug+", ((A,),), ((B,),)),
            Claim("MLP + aug+ beats MLP alone", ((C,),), ((A,),)),
            Claim("MLP + aug+ beats aug+ alone", ((C,),), ((B,),)),
            Claim("the cosine schedule adds to MLP + aug+", ((D,),), ((C,),)),
            Claim("MoCo v2 (d) beats MoCo v1", ((D,),), ((V1,),)),
        ]


STUDY = STUDIES.register("mocov2_ablation")(MocoV2Ablation())
