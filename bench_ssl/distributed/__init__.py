"""One run over several processes (ranks): torch.distributed's process group, DDP, and the few collectives the
methods need so that a global batch split over ranks trains like the same batch on one device.

`world()` says where this process stands (rank 0 of 1 when nothing is initialised, so every collective here is
the identity in a plain run) and `group.py` joins the ranks; `gather.py` holds the collectives, `launch.py`
starts the ranks of a run.
"""

from ..lazy import exports

__getattr__ = exports(__name__, {
    "all_gather": "gather", "all_gather_grad": "gather", "all_reduce_max": "gather", "all_reduce_sum": "gather",
    "broadcast": "gather", "rank_rows": "gather", "World": "group", "DistributedError": "group",
    "env_world": "group", "finish": "group", "init_process_group": "group", "shutdown": "group", "world": "group"})

__all__ = ["DistributedError", "World", "all_gather", "all_gather_grad", "all_reduce_max", "all_reduce_sum",
           "broadcast", "env_world", "finish", "init_process_group", "rank_rows", "shutdown", "world"]
