"""SimCLR Table 4: NT-Xent against NT-Logistic and the margin triplet loss, with and without semi-hard
negative mining: NT-Xent wins, and mining helps the other two."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import PaperCell, Study, number

LOSSES = {"nt_xent": "NT-Xent", "nt_logistic": "NT-Logistic", "margin_triplet": "Margin Triplet"}


class LossFn(Study):
    figure = "SimCLR Table 4"
    title = "contrastive loss functions and negative mining"
    citation = "Chen et al. 2020, SimCLR, arXiv:2002.05709"
    paper_table = "simclr_table4_loss_functions"
    paper_setup = "ImageNet, ResNet-50, 100 epochs"
    expected = "NT-Xent is best; semi-hard negative mining helps NT-Logistic and margin triplet but not up to NT-Xent"
    parts = ("loss", "negatives")
    orders = {0: ["NT-Xent", "NT-Logistic", "Margin Triplet"], 1: ["all", "semi-hard"]}
    kind = "bar"
    x, hue = 0, 1

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((loss, "semi-hard" if mining.startswith("yes") else "all"), number(v))
                for loss, mining, v in zip(df["loss"], df["negative_mining"], df["top1"])]

    def key_of(self, run: dict):
        loss = LOSSES.get(run.get("method.loss"))
        if run.get("method.name") != "simclr" or loss is None:
            return None
        semi = loss != "NT-Xent" and bool(run.get("method.semi_hard"))  # NT-Xent has no mining
        return (loss, "semi-hard" if semi else "all")

    def label(self, key) -> str:
        return f"{key[0]} (semi-hard)" if key[1] == "semi-hard" else key[0]

    def claims(self, match) -> list[Claim]:
        return [
            Claim("NT-Xent beats NT-Logistic even with mining", (("NT-Xent", "all"),), (("NT-Logistic", "semi-hard"),)),
            Claim("NT-Xent beats margin triplet even with mining", (("NT-Xent", "all"),), (("Margin Triplet", "semi-hard"),)),
            Claim("semi-hard mining helps NT-Logistic", (("NT-Logistic", "semi-hard"),), (("NT-Logistic", "all"),)),
            Claim("semi-hard mining helps margin triplet", (("Margin Triplet", "semi-hard"),), (("Margin Triplet", "all"),)),
        ]


STUDY = STUDIES.register("loss_fn")(LossFn())
