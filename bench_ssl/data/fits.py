"""Whether a dataset fits `data.storage: memory`: checked before decoding, from the number of files and the image
size, so a set larger than memory is one line suggesting `stream` instead of an out-of-memory kill an hour in."""

from __future__ import annotations


from ..errors import DatasetError

HOST_FACTOR = 2.0  # the decoded array, plus the encoded files read beside it (and the cache written from it)
GPU_SHARE = 0.5  # at most this share of a GPU's free memory for the data: the rest is the model's


def decoded_bytes(n: int, h: int, w: int) -> int:
    return n * h * w * 3


def check_fits(n: int, h: int, w: int, host_free: int | None, gpu_free: int | None, source: str) -> None:
    """DatasetError naming the estimate when n images of h x w do not fit host memory (or the GPU's share)."""
    need = decoded_bytes(n, h, w)
    where = []
    if host_free is not None and need * HOST_FACTOR > host_free:
        where.append(f"{_gib(host_free)} GiB of free memory (it needs about {_gib(need * HOST_FACTOR)} GiB while "
                     "decoding)")
    if gpu_free is not None and need > gpu_free * GPU_SHARE:
        where.append(f"{_gib(gpu_free * GPU_SHARE)} GiB of the GPU's free {_gib(gpu_free)} GiB")
    if where:
        raise DatasetError(f"{source}: data.storage=memory would hold {n:,} images of {w}x{h} ({_gib(need)} GiB "
                           f"decoded), more than {' and '.join(where)}; use data.storage=stream (reads the files batch "
                           "by batch in background workers) or a smaller data.image_size")


def free_memory(device) -> tuple[int | None, int | None]:
    """(free host bytes, free bytes on `device` if it is a GPU): MemAvailable and torch.cuda.mem_get_info."""
    host = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    host = int(line.split()[1]) * 1024
    except OSError:
        host = None
    gpu = None
    if device is not None and getattr(device, "type", None) == "cuda":
        import torch

        gpu = torch.cuda.mem_get_info(device)[0]
    return host, gpu


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f}"


def first_image_hw(path: str) -> tuple[int, int]:
    """(H, W) from the first file's header, without decoding it."""
    from PIL import Image

    with Image.open(path) as img:
        return img.size[1], img.size[0]
