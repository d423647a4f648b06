"""Several processes, one training run: DistributedDataParallel under ``torchrun``.

``torchrun --nproc_per_node N -m fcn_lib train ...`` starts N copies of the command and tells each its
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``. Nothing else changes for the user, because a training batch
is a fixed list of keys (see ``fcn_lib.data``): the processes split each step's list between them, so
together they see exactly the batch one process would, whatever their number. DDP averages the
gradients; each process scales its loss so that the average is the gradient of the whole batch's loss
(:func:`fcn_lib.optim.segmentation_loss`). The trajectory therefore does not depend on the number of
processes (up to rounding), and a checkpoint written by one world size resumes under another.
Batch normalisation needs the whole batch's statistics for that too: see :func:`synchronise_batch_norm`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run (a single process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The one process that logs, shows progress and writes checkpoints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def share(self, count: int) -> range:
        """This process's contiguous part of ``range(count)``; the parts differ in length by at most one,
        so a batch of 15 splits 7 + 8 over two processes rather than being refused."""
        return range(self.rank * count // self.size, (self.rank + 1) * count // self.size)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of ``tensor`` over all processes (in place; itself when alone)."""
        if self.active:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


ALONE = World()


def rank() -> int:
    """This process's rank as ``torchrun`` set it (0 when run alone)."""
    return int(os.environ.get("RANK", "0"))


def join(device_type: str = "cpu") -> World:
    """The world ``torchrun`` describes in the environment, its process group started (NCCL between
    GPUs, gloo on the CPU); a plain single process when the variables are absent."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return ALONE
    world = World(rank(), size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return world


def device_of(world: World, device: torch.device) -> torch.device:
    """Each process on its own GPU: ``cuda`` becomes ``cuda:<local rank>``."""
    if device.type == "cuda" and world.active:
        return torch.device("cuda", world.local_rank)
    return device


def synchronise_batch_norm(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` for several processes: on GPUs its batch normalisations become ``SyncBatchNorm``, which
    normalise by the statistics of the whole batch, as one process does (same parameters and buffers,
    same state-dict keys). PyTorch has no synchronised version for CPUs: there each process normalises
    by its own share of the batch, and a warning says the run no longer follows the one-process run."""
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    warnings.warn("batch normalisation on CPUs uses each process's share of the batch (SyncBatchNorm "
                  "needs GPUs): this run does not follow the one-process trajectory exactly", RuntimeWarning,
                  stacklevel=2)
    return model


def leave() -> None:
    """End the process group, if one was started (so that the process exits cleanly)."""
    if dist.is_initialized():
        dist.destroy_process_group()
