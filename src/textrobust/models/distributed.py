"""Data-parallel fine-tuning of one model over several processes (DDP), for ``accelerate launch`` or ``torchrun``.

Launched that way, every process runs the same program; :func:`~textrobust.models.finetune.fit` then wraps the model
in ``DistributedDataParallel`` (NCCL on GPUs, one GPU per process; gloo on CPU), each process trains on its share of
every epoch's batches (the batch order is seeded, so all processes agree on it) and gradients are averaged after
every step, so the processes hold identical weights. Only the main process should write files
(:func:`is_main_process`). In a single process nothing changes.

Example (two GPUs on one machine)::

    accelerate launch --num_processes 2 -m textrobust train train.csv --model PATH -o models/big --device cuda
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def world() -> tuple[int, int, int]:
    """``(rank, world size, local rank)`` from the launcher's environment; ``(0, 1, 0)`` in a plain process."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    return int(os.environ.get("RANK", "0") or 0), size, int(os.environ.get("LOCAL_RANK", "0") or 0)


def is_main_process() -> bool:
    """True in a single process and in rank 0 of a launched group: the one that saves models and writes files."""
    return world()[0] == 0


class DataParallel:
    """DDP for one :func:`fit` call: ``wrap`` the model for the forward pass, ``shard`` the epoch's batches.

    Both are the identity in a single process. The process group is created once per process (gloo or NCCL from
    the launcher's ``MASTER_ADDR`` / ``MASTER_PORT``) and reused by later fits (units of a run).
    """

    def __init__(self, device: str) -> None:
        self.rank, self.size, self.local_rank = world()
        self.cuda = device.startswith("cuda")
        if self.size <= 1:
            return
        import torch
        import torch.distributed as dist

        if self.cuda:
            torch.cuda.set_device(self.local_rank)  # "cuda" now means this process's GPU
        if not dist.is_initialized():
            dist.init_process_group("nccl" if self.cuda else "gloo")
            log.info("DDP: rank %d of %d (%s)", self.rank, self.size, "nccl" if self.cuda else "gloo")

    @property
    def active(self) -> bool:
        return self.size > 1

    def wrap(self, model: Any) -> Any:
        """The model to call in training steps (DDP averages the gradients in ``backward``)."""
        if not self.active:
            return model
        import torch
        from torch.nn.parallel import DistributedDataParallel

        if self.cuda:
            model.to(torch.device("cuda", self.local_rank))
            return DistributedDataParallel(model, device_ids=[self.local_rank])
        return DistributedDataParallel(model)

    def shard(self, batches: list[Any]) -> list[Any]:
        """This process's batches: every ``size``-th, after repeating the first few so that all processes take the
        same number of steps (a process with one step fewer would wait forever for the others' gradients)."""
        if not self.active or not batches:
            return batches
        padded = batches + batches[: (-len(batches)) % self.size]
        mine = padded[self.rank :: self.size]
        log.info("DDP rank %d: %d of %d batches", self.rank, len(mine), len(batches))
        return mine


def finish() -> None:
    """Wait for every process, then close the process group (call once at the end of a launched program)."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover
        return
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
