"""MoCo Fig. 3: three mechanisms for the negatives (end-to-end: the batch; memory bank: stored features;
MoCo: a queue of momentum-encoded keys) as the number of negatives K grows."""

from __future__ import annotations

from ..agreement import Claim
from ...registry import STUDIES
from .base import Match, PaperCell, Study, align_levels, number

MECHANISMS = ["end-to-end", "memory bank", "MoCo"]
PAPER_K = [256, 512, 1024, 4096, 16384, 65536]


class MocoQueue(Study):
    figure = "MoCo Fig. 3"
    title = "end-to-end vs memory bank vs MoCo as K grows"
    citation = "He et al. 2020, MoCo, arXiv:1911.05722"
    paper_table = "moco_fig3_mechanisms_vs_K"
    paper_setup = "ImageNet, ResNet-50, linear top-1"
    expected = ("all three improve with K; MoCo is above the memory bank at every K and matches end-to-end where "
                "end-to-end fits in memory (K <= 1024)")
    parts = ("K (negatives)", "mechanism")
    orders = {1: MECHANISMS}
    kind = "line"
    x, hue = 0, 1
    categorical_x = False
    xlog = True

    def paper(self) -> list[PaperCell]:
        df = self.load_paper()
        return [PaperCell((int(k), m), number(v)) for m, k, v in zip(df["mechanism"], df["K"], df["top1"])]

    def key_of(self, run: dict):
        name = run.get("method.name")
        if name == "moco":
            return (int(run["method.queue_size"]), "MoCo")
        if name == "memory_bank":
            k = number(run.get("method.num_negatives"))
            return (int(k) if k == k else int(run["method.queue_size"]), "memory bank")
        if name == "end_to_end":  # K = the batch (the paper's x axis; batch - 1 negatives)
            return (int(run["optim.batch_size"]), "end-to-end")
        return None

    def label(self, key) -> str:
        return f"{key[1]}, K={key[0]}"

    def match(self, keys) -> Match:
        kmap, desc = align_levels([k[0] for k in keys], PAPER_K)
        published = {c.key for c in self.paper()}
        out = {k: ((kmap.get(k[0]), k[1]) if (kmap.get(k[0]), k[1]) in published else None) for k in keys}
        return Match(out, {"K": desc} if desc else {})

    def claims(self, match) -> list[Claim]:
        ours = [k for k in match.paper_key.values() if k is not None]

        def ks(mech, default):
            return sorted(k for k, m in ours if m == mech) or default

        both = sorted(set(ks("MoCo", [])) & set(ks("memory bank", []))) or [256, 512, 1024, 4096, 16384, 65536]
        moco, bank, e2e = ks("MoCo", [256, 65536]), ks("memory bank", [256, 65536]), ks("end-to-end", [256, 1024])
        return [  # the top comment's first effect first: all three rise with K
            Claim(f"a larger queue helps MoCo: K={moco[-1]} > K={moco[0]}", ((moco[-1], "MoCo"),), ((moco[0], "MoCo"),)),
            Claim("MoCo beats the memory bank at the same K", tuple((k, "MoCo") for k in both),
                  tuple((k, "memory bank") for k in both)),
            Claim(f"more negatives help the memory bank: K={bank[-1]} > K={bank[0]}", ((bank[-1], "memory bank"),),
                  ((bank[0], "memory bank"),)),
            Claim(f"a larger batch helps end-to-end: K={e2e[-1]} > K={e2e[0]}", ((e2e[-1], "end-to-end"),),
                  ((e2e[0], "end-to-end"),)),
        ]


STUDY = STUDIES.register("moco_queue")(MocoQueue())
