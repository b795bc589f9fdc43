"""Export a finished run's backbone for downstream use: `bench-ssl export RUN_DIR --out backbone.pt`.

Writes the backbone's weights as a plain `state_dict` (tensors only: `torch.load(weights_only=True)` reads it)
whose keys are torchvision's (`conv1.weight`, `layer1.0.bn1.running_mean`, ...; no `fc`: the backbone ends at
the pooled features), and beside it `backbone.json`: the architecture, the run's resolved config and its
metrics. `bench_ssl.load_backbone("backbone.pt")` rebuilds the module (a torchvision ResNet with the CIFAR stem
when the run used it, `fc` = Identity) and loads the weights.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from .arguments import ArgumentParser
from .errors import BenchSSLError

PREFIX = "backbone."
METRICS = ("knn_top1", "linear_top1", "linear_top5", "final_loss", "epochs", "seed", "method", "num_train")


def export(run_dir: str | Path, out: str | Path) -> tuple[Path, Path]:
    """Write `out` (the state_dict) and its `.json` beside it; returns both paths."""
    import torch

    from .output import atomic_write_bytes, atomic_write_json
    from .results.run_dir import RunDir

    run = RunDir(Path(run_dir))
    if not run.result.exists():
        raise BenchSSLError(f"{run_dir} has no result.json: export a finished run's folder (results/<sweep>/<run_id>)")
    result = run.read_result()
    if not run.checkpoint.exists():
        why = ("the run was made with output.keep_checkpoint=false" if result.get("config", {}).get("output", {})
               .get("keep_checkpoint") is False else "deleted or moved since the run finished")
        raise BenchSSLError(f"{run.checkpoint} is missing ({why}); run it again with "
                            "--set output.keep_checkpoint=true --force to export it")
    try:
        state = torch.load(run.checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable or not ours: one line
        raise BenchSSLError(f"{run.checkpoint} cannot be read as a bench_ssl checkpoint ({type(exc).__name__}); "
                            "re-run the run with --force") from None
    weights = {k[len(PREFIX):]: v for k, v in state["model"].items() if k.startswith(PREFIX)}
    cfg = result["config"]
    meta = {"format": "bench_ssl backbone 1", "backbone": cfg["model"]["backbone"],
            "backbone_params": {k: v for k, v in cfg["model"].items() if k not in ("backbone", "head")},
            "run_id": result["run_id"], "metrics": {k: result.get(k) for k in METRICS}, "config": cfg,
            "versions": {"git_commit": result.get("git_commit"), **(result.get("versions") or {})},
            "load": "bench_ssl.load_backbone(PATH) -> torch.nn.Module"}
    out = Path(out)
    buf = io.BytesIO()
    torch.save(weights, buf)
    try:
        atomic_write_bytes(out, buf.getvalue())
        atomic_write_json(out.with_suffix(".json"), meta)
    except OSError as exc:
        raise BenchSSLError(f"cannot write {out}: {exc.strerror or exc}; give a writable --out") from None
    return out, out.with_suffix(".json")


def load_backbone(path: str | Path, map_location: str = "cpu"):
    """The exported backbone as a module in eval mode, (B,3,H,W) -> (B, out_dim) features."""
    import torch

    from .models import build_backbone

    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        raise BenchSSLError(f"{meta_path} is missing: it says which architecture {path} holds (written by bench-ssl export)")
    meta = json.loads(meta_path.read_text())
    net = build_backbone(meta["backbone"], **meta["backbone_params"])
    net.load_state_dict(torch.load(path, map_location=map_location, weights_only=True))
    return net.eval()


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    p = ArgumentParser(prog=prog or "python -m bench_ssl.export", description=__doc__.splitlines()[0])
    p.add_argument("run_dir", help="a finished run's folder, e.g. results/smoke/<run_id>")
    p.add_argument("--out", default="backbone.pt", help="the state_dict file (its .json is written beside it)")
    args = p.parse_args(argv)
    try:
        weights, meta = export(args.run_dir, args.out)
    except BenchSSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{weights}\n{meta}")
    return 0


if __name__ == "__main__":
    from .cli import guarded

    sys.exit(guarded(main))
