"""The benchmark's JSON as a markdown table (what the README's performance section shows)."""

from __future__ import annotations


def _f(x, unit: str = "", digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}{unit}"


def _floor_line(f: dict, device: str) -> str:
    work = f"FLOP floor: {f['epoch_tflop']:.3g} TFLOP of matmuls and convolutions per epoch (forward + backward)"
    if f["floor_epoch_s"] is None:
        return f"{work}; no bf16 rate known for {device}, so no floor (give it with --peak-tflops)"
    ratios = "; ".join(f"{name} {f[key]:.1f}x" for name, key in
                       (("(b)", "ours_over_floor"), ("(c)", "compute_only_over_floor"), ("(e)", "graph_over_floor"),
                        ("(f)", "compile_over_floor")) if f.get(key) is not None)
    return (f"{work} at {f['peak_bf16_tflops']:g} TFLOP/s dense bf16 = {f['floor_epoch_s']:.3f} s; epoch / floor: "
            f"{ratios}")


def markdown(r: dict) -> str:
    c = r["config"]
    mem = r.get("peak_memory_gb", {})
    lines = [
        f"{r['device']}; {c['method']} {c['backbone']}, batch {c['batch_size']}, {r['images_per_epoch']} images/epoch, "
        f"bf16 {c['bf16']}, channels_last {c['channels_last']}, compile {c['compile']}; "
        f"median of {r['protocol']['repeats']} epochs after {r['protocol']['warmup_epochs']} warm-up",
        "",
        "| pipeline | epoch (s) | images/s | peak GPU memory (GB) |",
        "|---|---:|---:|---:|",
        f"| (a) standard: PIL in {c['standard_workers']} DataLoader workers | {_f(r['standard_epoch_s'])} | "
        f"{r['standard_images_per_s']:.0f} | {_f(mem.get('standard'))} |",
        f"| (b) ours: uint8 on device, batched augmentation | {_f(r['ours_epoch_s'])} | {r['ours_images_per_s']:.0f} | "
        f"{_f(mem.get('ours'))} |",
        f"| (c) compute only: views ready on device | {_f(r['compute_only_epoch_s'])} | "
        f"{r['compute_only_images_per_s']:.0f} | {_f(mem.get('compute_only'))} |",
        *([f"| (d) ours, data.storage=stream: files read in {r['stream_workers']} DataLoader workers | "
           f"{_f(r['stream_epoch_s'])} | {r['stream_images_per_s']:.0f} | n/a |"] if "stream_epoch_s" in r else []),
        *([f"| (e) ours, train.graph ({'CUDA graphs' if r['graph_captured'] else 'CPU: eager, nothing to capture'}) | "
           f"{_f(r['graph_epoch_s'])} | {r['graph_images_per_s']:.0f} | n/a |",
           f"| (f) ours, train.compile (torch.compile) | {_f(r['compile_epoch_s'])} | {r['compile_images_per_s']:.0f} | "
           "n/a |"] if "graph_epoch_s" in r else []),
        "",
        f"(a)/(b) = {r['standard_over_ours']:.2f}x faster than the standard recipe; (b)/(c) = "
        f"{r['ours_over_compute_only']:.2f}x compute only; augmentation alone {_f(r['augmentation_epoch_s'])} s/epoch "
        f"({100 * r['augmentation_share']:.0f}% of ours); evaluation (features + linear) {_f(r['eval_s'], ' s', 1)}"
        + (f"; (d)/(b) = {r['stream_over_ours']:.2f}x the epoch of the same images held in memory"
           if "stream_epoch_s" in r else ""),
        *([_floor_line(r["flop_floor"], r["device"])] if "flop_floor" in r else []),
    ]
    pack = r.get("packing")
    if pack:
        lines += ["", f"Packing: K runs at once on one device, as K processes or as one fused model ({pack['run']['backbone']}, {pack['run']['epochs']} epoch(s) each, "
                      f"start-up and evaluation included)", "",
                  "| K | packed: wall (s) | runs/hour | speed-up over K sequential | fused: wall (s) | runs/hour | "
                  "speed-up |", "|---:|---:|---:|---:|---:|---:|---:|"]
        for row in pack["rows"]:
            fused = (f"{row['fused_wall_s']:.1f} | {row['fused_runs_per_hour']:.0f} | {_f(row['fused_speedup'], 'x')}"
                     if "fused_wall_s" in row else "n/a | n/a | n/a")
            lines.append(f"| {row['k']} | {row['wall_s']:.1f} | {row['runs_per_hour']:.0f} | {_f(row['speedup'], 'x')} | "
                         f"{fused} |")
        lines.append(f"\nBest K: {pack['best_k']}")
    return "\n".join(lines)
