"""Mini-batches of one task: the order (plain shuffle or length-grouped), its resumable position, and
the optional DataLoader that collates ahead in worker processes.

The order of pass p of epoch e is a pure function of (seed, task, e, p), so the position
(epoch, pass, offset) is the whole state: ``state_dict`` / ``load_state_dict`` resume it exactly, and a
worker (or another rank) can compute the same batches without being told them.

Length grouping (``train.group_by_length``) follows the "megabatch" idea of transformers'
``LengthGroupedSampler``: shuffle, cut into groups of ``GROUP_BATCHES`` batches, sort each group by
length and cut it into batches, then shuffle the batches. Every batch is full except possibly the
pass's last one, which stays last, so a position is still an example offset. Departures from
transformers: the full batches are shuffled (transformers keeps each group's batches long to short,
with the longest batch first to fail early on memory), and the group size is fixed rather than
shrunk to give at least four groups.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

import torch

from auxrun.data.features import EncodedSplit, collate
from auxrun.training.hardware import dataloader_worker_init, signals_held

GROUP_BATCHES = 50  # batches per length-sorted group (transformers' mega_batch_mult default)


def batch_order(
    indices: list[int], lengths: list[int] | None, batch_size: int, rng: random.Random
) -> list[int]:
    """One pass over ``indices`` as a flat list; consecutive ``batch_size`` slices are the batches.

    ``lengths`` (per example of the split, or None for a plain shuffle) groups similar lengths."""
    order = list(indices)
    rng.shuffle(order)
    if lengths is None or len(order) <= batch_size:
        return order
    group = batch_size * GROUP_BATCHES
    grouped: list[int] = []
    for g in range(0, len(order), group):
        grouped += sorted(order[g : g + group], key=lengths.__getitem__, reverse=True)
    n_full = len(grouped) // batch_size
    full = [grouped[b * batch_size : (b + 1) * batch_size] for b in range(n_full)]
    rest = grouped[n_full * batch_size :]  # the short remainder batch (the last group's shortest)
    rng.shuffle(full)
    return [i for batch in full for i in batch] + rest


class TaskBatches:
    """Endless mini-batches of one task's (possibly subset) training examples."""

    def __init__(
        self,
        split: EncodedSplit,
        indices: list[int],
        batch_size: int,
        seed: int,
        group_by_length: bool = False,
    ):
        self.split, self.indices, self.batch_size, self.seed = split, indices, batch_size, seed
        self.group_by_length = group_by_length
        self._lengths = split.lengths() if group_by_length else None
        self.epoch, self.passes, self.offset = 0, 0, 0
        self._order: list[int] | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def reset(self, epoch: int) -> None:
        self.epoch, self.passes, self.offset, self._order = epoch, 0, 0, None

    def order(self, epoch: int, passes: int) -> list[int]:
        rng = random.Random(f"{self.seed}-{self.split.task}-{epoch}-{passes}")
        return batch_order(self.indices, self._lengths, self.batch_size, rng)

    def _current_order(self) -> list[int]:
        if self._order is None:
            self._order = self.order(self.epoch, self.passes)
        return self._order

    def next(self) -> list[int]:
        if self.offset >= len(self.indices):
            self.passes, self.offset, self._order = self.passes + 1, 0, None
        batch = self._current_order()[self.offset : self.offset + self.batch_size]
        self.offset += self.batch_size
        return batch

    def upcoming(self) -> Iterator[list[int]]:
        """The batches ``next`` will return from the current position on, without moving it."""
        passes, offset = self.passes, self.offset
        order = self._order
        while True:
            if offset >= len(self.indices):
                passes, offset, order = passes + 1, 0, None
            if order is None:
                order = self.order(self.epoch, passes)
            yield order[offset : offset + self.batch_size]
            offset += self.batch_size

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "passes": self.passes, "offset": self.offset}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.passes, self.offset, self._order = (
            state["epoch"],
            state["passes"],
            state["offset"],
            None,
        )


def pad_token_id(tokenizer) -> int:
    """The id batches are padded with: the tokenizer's pad token, else 0."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


def padding_ratio(split: EncodedSplit, batches: list[list[int]]) -> tuple[int, int]:
    """(tokens computed, tokens real) of these batches under per-batch dynamic padding."""
    lengths = split.lengths()
    computed = sum(len(b) * max(lengths[i] for i in b) for b in batches if b)
    real = sum(lengths[i] for b in batches for i in b)
    return computed, real


class _Indices(torch.utils.data.Dataset):
    """The DataLoader's dataset: an index is its own item; ``_Collate`` builds the batch."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


Shard = Callable[[list[int]], tuple[list[int], bool]]


class _Collate:
    """A global batch -> (its indices, this process's share, whether the share is real, the tensors)."""

    def __init__(self, split: EncodedSplit, objective: str, pad_id: int, shard: Shard | None = None):
        self.split, self.objective, self.pad_id, self.shard = split, objective, pad_id, shard

    def __call__(self, idx: list[int]) -> Fed:
        local, real = self.shard(idx) if self.shard is not None else (idx, True)
        return idx, local, real, collate(self.split, local, self.objective, self.pad_id)


Fed = tuple[list[int], list[int], bool, dict[str, torch.Tensor]]


class BatchFeeder:
    """Collated batches of one task in the order its TaskBatches gives them.

    With ``num_workers`` 0 it collates in the calling process. Otherwise a DataLoader with that many
    workers (and pinned memory when asked) collates ahead along ``TaskBatches.upcoming()``; the
    TaskBatches stays the source of truth: each batch taken is checked against ``next()``, and a
    position that moved some other way (reset, resume, restore) restarts the loader from there.
    ``shard`` (data parallelism) picks this process's share of each global batch.
    """

    def __init__(
        self,
        batches: TaskBatches,
        objective: str,
        pad_id: int,
        num_workers: int = 0,
        pin_memory: bool = False,
        shard: Shard | None = None,
    ):
        self.batches, self.num_workers, self.pin_memory = batches, num_workers, pin_memory
        self.collate = _Collate(batches.split, objective, pad_id, shard)
        self._it: Iterator[Fed] | None = None

    def _loader(self) -> Iterator[Fed]:
        loader = torch.utils.data.DataLoader(
            _Indices(len(self.batches.split)),
            batch_sampler=self.batches.upcoming(),
            collate_fn=self.collate,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            prefetch_factor=2,
            worker_init_fn=dataloader_worker_init,  # signals are the training process's to handle
            # the loader draws its workers' base seed from this generator, not torch's global one,
            # which seeds dropout: with workers or without, training sees the same random numbers
            generator=torch.Generator().manual_seed(0),
        )
        with signals_held():  # the workers start with Slurm's signals held (auxrun/training/hardware.py)
            return iter(loader)

    def next(self) -> Fed:
        if self.num_workers == 0:
            idx, local, real, batch = self.collate(self.batches.next())
            return idx, local, real, (_pin(batch) if self.pin_memory else batch)
        expected = next(self.batches.upcoming())
        if self._it is not None:
            fed = next(self._it)
            if fed[0] == expected:
                self.batches.next()
                return fed
        self.close()
        self._it = self._loader()
        fed = next(self._it)
        if fed[0] != expected:
            raise RuntimeError(f"task {self.batches.split.task}: the DataLoader left the TaskBatches order")
        self.batches.next()
        return fed

    def close(self) -> None:
        """Stop the workers (the next ``next`` starts new ones from the current position)."""
        self._it = None


def _pin(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.pin_memory() for k, v in batch.items()}
