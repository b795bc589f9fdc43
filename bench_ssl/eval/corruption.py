"""Robustness to common corruptions (SupCon Fig. 3's ImageNet-C, here CIFAR-10-C-style): the test images under
each of the 15 corruptions at 5 severities (`bench_ssl.corruptions`, drawn from a fixed seed, so every run is
scored on the very same corrupted images), classified from the frozen backbone by the classifier fitted on the
clean train features (the linear protocol's), or by the method's own classifier where it trained one
(cross-entropy: SupCon's one-stage number).

It reports the clean top-1, each corruption's top-1 averaged over the severities, and their mean over all
corruptions and severities; the mean corruption error is 1 minus that (unnormalised: CIFAR-10 has no AlexNet
errors to divide by, so the report compares models by it, and by its ratio to a cross-entropy run)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..augment import to_float
from ..corruptions import NAMES, SEVERITIES, corrupt
from ..params import check_names, param
from ..registry import EVALUATIONS
from .classifier import check_trains_classifier, own_logits, trains_classifier
from .features import extract_features
from .linear import LinearParams, linear_eval, topk_accuracy

CLASSIFIERS = ("auto", "linear", "own")
SEED = 20190328  # the corrupted test set is the same for every run (like the published CIFAR-10-C files)


@dataclass
class CorruptionParams:
    corruptions: list[str] = field(default_factory=lambda: list(NAMES), metadata={
        **param(list(NAMES), nonempty=True).metadata, "help": "the corruptions, of CIFAR-10-C's 15"})
    severities: list[int] = field(default_factory=lambda: list(SEVERITIES), metadata={
        **param(list(SEVERITIES), nonempty=True).metadata, "help": "of 1 .. 5"})
    classifier: str = param("auto", choices=CLASSIFIERS, help="auto: the method's own classifier where it has one "
                                                               "(own), else the linear protocol's on clean features")
    test_images: int | None = param(None, low=1, help="score only the first this many test images (unset: all)")

    def check(self, where: str, cfg) -> None:
        check_names(f"{where}.corruptions", self.corruptions, NAMES)
        check_names(f"{where}.severities", self.severities, SEVERITIES)
        if self.classifier == "own":
            check_trains_classifier(cfg, f"{where}.classifier: 'own' uses", "use auto or linear")


@EVALUATIONS.register("corruption", CorruptionParams)
@torch.no_grad()
def corruption(ctx, p: CorruptionParams) -> dict:
    """Top-1 under CIFAR-10-C-style corruptions (corruption_<name>_top1, corruption_mean_top1)"""
    train_f, train_y, test_f = ctx.features()
    test_x, test_y = ctx.data.test_x, ctx.data.test_y
    if p.test_images is not None:
        test_x, test_y, test_f = test_x[:p.test_images], test_y[:p.test_images], test_f[:p.test_images]
    own = p.classifier == "own" or (p.classifier == "auto" and trains_classifier(ctx.method))
    if own:
        logits = own_logits(ctx.method)
    else:
        with torch.enable_grad():
            fit = linear_eval(train_f, train_y, test_f, test_y, ctx.data.num_classes,
                              params=ctx.cfg.eval.params.get("linear") or LinearParams(), seed=ctx.seed)
        w, b, mean, std = fit.classifier
        logits = lambda f: ((f - mean) / std) @ w + b  # noqa: E731
    kw = dict(batch_size=ctx.cfg.eval.batch_size, bf16=ctx.bf16, channels_last=ctx.channels_last)
    out = {"corruption_classifier": "own" if own else "linear", "corruption_num_test": int(test_y.numel()),
           "corruption_clean_top1": topk_accuracy(logits(test_f), test_y, 1)}
    per_severity, batch = {}, ctx.cfg.eval.batch_size
    for i, name in enumerate(p.corruptions):
        accs = []
        for severity in p.severities:
            gen = torch.Generator(device=test_x.device).manual_seed(SEED + 10 * i + severity)
            images = torch.cat([(corrupt(to_float(test_x[s:s + batch]), name, severity, gen) * 255).round_().to(torch.uint8)
                                for s in range(0, test_x.shape[0], batch)])
            accs.append(topk_accuracy(logits(extract_features(ctx.method.backbone, images, ctx.data.normalize, **kw)),
                                      test_y, 1))
        per_severity[name] = accs
        out[f"corruption_{name}_top1"] = sum(accs) / len(accs)
    every = [a for accs in per_severity.values() for a in accs]
    out["corruption_mean_top1"] = sum(every) / len(every)
    out["corruption_top1_by_severity"] = per_severity
    return out
