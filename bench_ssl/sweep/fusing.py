"""Which runs of a sweep train as one fused model (`--fuse K|auto|off`): runs with the same fusion key
(`bench_ssl.fused.fusion_key`: same model, data, batch size, epochs, ...) are grouped K at a time in sweep order;
a run without a fused form, or left alone in its key, trains alone."""

from __future__ import annotations


def fused_groups(runs: list, k: int) -> list[list]:
    """`runs` partitioned into groups of at most k fusable runs (singletons for the rest), in sweep order."""
    if k <= 1:
        return [[r] for r in runs]
    from ..fused.trainer import fusion_key

    groups: list[list] = []
    open_by_key: dict = {}
    for run in runs:
        key = fusion_key(run.config)
        if key is None:
            groups.append([run])
            continue
        group = open_by_key.get(key)
        if group is None or len(group) == k:
            group = open_by_key[key] = []
            groups.append(group)
        group.append(run)
    return groups
