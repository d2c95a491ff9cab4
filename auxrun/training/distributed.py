"""Data-parallel training across processes (``hardware=multi_gpu``, launched by torchrun).

Every rank computes the same task schedule and the same global batches (both are functions of the
seed), takes its share of each global batch (examples ``rank::world``), and back-propagates the sum
of its examples' losses divided by the global batch size; the gradients are then summed across ranks
in one all-reduce. The result is the gradient of the global batch's mean loss, as one process
would compute it, whatever the split, so the same global batch gives the same step up to float
summation order. A rank whose share of a short last batch is empty runs one example with weight 0
so that every rank joins every all-reduce.

Evaluation runs on every rank on the full split (the ranks' weights are identical, so are their
scores), which keeps controllers' decisions identical across ranks; only rank 0 writes files.
Gradients are reduced after the backward pass in one flat buffer rather than bucketed during it as
DistributedDataParallel does: the model stays an unwrapped module (state dicts, head-gate hooks and
controllers' snapshot/restore see the same module as on one process), at the cost of not overlapping
communication with the backward pass.
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist


def world_from_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun sets them; (0, 1, 0) without a launcher."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


def init(backend: str | None = None) -> bool:
    """Join the process group torchrun describes (once); True when running with more than one rank."""
    _, world, local = world_from_env()
    if world <= 1:
        return False
    if not dist.is_initialized():
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend, timeout=timedelta(minutes=30))
    return True


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    return rank() == 0


def broadcast_object(obj):
    """rank 0's ``obj`` on every rank (identity on one process)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if active():
        dist.barrier()


class DataParallel:
    """Shards global batches and sums gradients across the ranks of the current process group."""

    def __init__(self) -> None:
        self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def shard(self, idx: list[int]) -> tuple[list[int], bool]:
        """This rank's examples of a global batch, and whether they are real (False: a zero-weight
        stand-in because the share is empty)."""
        mine = idx[self.rank :: self.world]
        return (mine, True) if mine else (idx[:1], False)

    def all_reduce(self, params: list[torch.nn.Parameter], loss_sum: torch.Tensor) -> float:
        """Sum the gradients (in place) and the given loss sum across ranks; the summed loss."""
        grads = [p.grad for p in params if p.grad is not None]
        flat = torch.cat([g.reshape(-1).float() for g in grads] + [loss_sum.detach().reshape(1).float()])
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n
        return float(flat[-1])
