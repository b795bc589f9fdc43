"""Configs written before components owned their parameters (the "v1" format, bench_ssl 0.1 up to issue 13).

A v1 run folder's config.yaml holds every knob of every method and op (`method.momentum` for SimCLR,
`augment.blur` without blur in a view, ...) and the flat evaluation keys (`eval.knn_k`, `eval.linear: false`).
`from_v1` keeps what applies to the run's own components and renames the evaluation keys, so an old run
resolves to the same config, and run id, as the same run described today: that is how an old folder is found
again (`bench_ssl.results.run_dir`) and not re-run. Hand-written configs with an old key get an error naming
the new one.
"""

from __future__ import annotations

import copy

from ..errors import ConfigError

# v1 eval keys -> today's (eval.linear: a bool then, the linear protocol's section now)
RENAMED = {
    "eval.knn_k": "eval.knn.k",
    "eval.knn_t": "eval.knn.t",
    "eval.linear_solver": "eval.linear.solver",
    "eval.linear_wd": "eval.linear.weight_decays",
    "eval.linear_max_iter": "eval.linear.max_iter",
    "eval.linear_epochs": "eval.linear.epochs",
    "eval.holdout": "eval.linear.holdout",
}
# every v1 method knob: a v1 config.yaml (a full dump) holds all of them
V1_METHOD_KEYS = ("loss", "temperature", "normalize", "margin", "semi_hard", "momentum", "queue_size", "shuffle_bn",
                  "bn_splits", "num_negatives", "bank_momentum", "supcon_variant", "predictor_hidden_dim",
                  "target_momentum", "target_schedule")


def is_v1(raw: dict) -> bool:
    """A full dump written by the v1 version (hand-written configs are never taken for one)."""
    method = raw.get("method") if isinstance(raw, dict) else None
    return isinstance(method, dict) and all(k in method for k in V1_METHOD_KEYS)


def from_v1(raw: dict) -> dict:
    """A v1 full dump translated to today's keys, keeping only what applies to its components."""
    from .layers import apply_layer, prune

    out = copy.deepcopy(raw)
    method = out["method"]
    if method.get("name") == "memory_bank" and method.get("num_negatives") is None:
        method["num_negatives"] = method.get("queue_size")  # v1: K defaulted to queue_size
    ev = out.get("eval") or {}
    linear_on = ev.pop("linear", True)
    moved = {new: ev.pop(old.split(".", 1)[1]) for old, new in RENAMED.items() if old.split(".", 1)[1] in ev}
    ev["protocols"] = ["knn", "linear"] if linear_on else ["knn"]
    out["eval"] = ev
    if not linear_on:
        moved = {k: v for k, v in moved.items() if not k.startswith("eval.linear.")}
    out = apply_layer(out, moved)
    for section in ("method", "model", "model.head", "optim", "augment"):
        prune(out, section)
    return out


def as_today(raw: dict) -> dict:
    """A config mapping as written; a v1 dump as the run it describes today (only what applies). A v1 config that
    no longer validates is returned as written."""
    from .load import from_raw, to_dict

    if not is_v1(raw):
        return raw
    try:
        return to_dict(from_raw(raw))
    except (ConfigError, TypeError, ValueError):
        return raw


def check_renamed(raw: dict) -> None:
    """A ConfigError for the first v1 evaluation key in a hand-written config, naming today's key."""
    ev = raw.get("eval") if isinstance(raw, dict) else None
    if not isinstance(ev, dict):
        return
    for old, new in RENAMED.items():
        leaf = old.split(".", 1)[1]
        if leaf in ev:
            raise ConfigError(f"{old} is now {new}; write {new}: {ev[leaf]!r} (see the README, Configs)")
    if isinstance(ev.get("linear"), bool):
        protocols = "[knn, linear]" if ev["linear"] else "[knn]"
        raise ConfigError(f"eval.linear: {ev['linear']} is now eval.protocols; write eval.protocols: {protocols}")


def check_renamed_key(key: str, where: str = "") -> None:
    if key in RENAMED:
        raise ConfigError(f"{where}{key} is now {RENAMED[key]}; write {RENAMED[key]} instead")
    if key == "eval.linear":
        raise ConfigError(f"{where}eval.linear (on/off) is now eval.protocols, e.g. eval.protocols: [knn]")
