"""Multi-process training with PyTorch's DistributedDataParallel.

Started under ``torchrun --nproc_per_node N script.py`` (or with a process
group of one's own, ``torch.distributed.init_process_group``), every training
stage of the estimators runs on all processes at once. The design makes a run
on N processes the same computation as a run on one process with the same
``batch_size``, up to the order of floating-point sums:

- ``batch_size`` is the *global* batch. Every process draws the same global
  batches (:class:`GlobalBatchSampler`, shuffled by the stage's generator) and
  the same windows and masks for them (the collate function runs on the whole
  global batch with the same generator on every rank); each process then
  keeps its share, rows ``rank::world_size`` (:class:`RankShare`). Data draws,
  and so the results, do not depend on the number of processes.
- The loss of a step is the loss of the global batch: the sums that make it
  (per-window squared errors, cross-entropies, and their counts) are summed
  over processes with ``all_reduce`` and each process backpropagates its share
  of the global loss's gradient (:func:`global_loss`); DistributedDataParallel
  averages the gradients, so every process takes the single-process step.
- Dropout draws from a per-rank torch stream derived from the stage's seed
  (rank 0 keeps the single-process one): rank r's dropout masks are not rank
  0's, as they would be for different samples of one large batch.
- Validation batches are drawn once; every process scores all of them, so
  early stopping decides the same on every rank.
- Only rank 0 prints and writes checkpoints.

Shapes in comments: B windows of the global batch, b = B / world_size.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = [
    "World",
    "current_world",
    "is_main_process",
    "GlobalBatchSampler",
    "RankShare",
    "global_loss",
    "rank_seed",
]


@dataclass(frozen=True)
class World:
    """The processes of a distributed run: this one's rank, how many, local rank."""

    rank: int
    size: int
    local_rank: int


def current_world():
    """The process group training runs on, or None for a single process.

    A default process group already initialised is used as it is. Under
    ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) one is initialised
    here: ``nccl`` when CUDA is present (each process on GPU ``LOCAL_RANK``),
    else ``gloo``.

    Returns
    -------
    World or None
        None when there is one process.
    """
    if not dist.is_available():
        return None
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return None
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
            dist.init_process_group("nccl")
        else:
            dist.init_process_group("gloo")
    size = dist.get_world_size()
    if size <= 1:
        return None
    return World(dist.get_rank(), size, int(os.environ.get("LOCAL_RANK", dist.get_rank())))


def is_main_process():
    """True on rank 0 of a distributed run, and in a single process.

    Use it to save or print once: ``if is_main_process(): estimator.save(path)``.
    """
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def rank_seed(seed, rank):
    """The torch seed of ``rank``: ``seed`` itself on rank 0, an independent one otherwise."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1, np.uint64)[0] >> 1)


class GlobalBatchSampler(Sampler):
    """Shuffled batches of item indices, the same on every process.

    A ``batch_sampler`` for :class:`torch.utils.data.DataLoader`: each epoch
    draws a permutation from ``rng`` (a numpy generator that every process
    holds in the same state) and cuts it into batches of ``batch_size``; the
    last one may be smaller.

    Parameters
    ----------
    n : int
        Items.
    batch_size : int
        Items per global batch.
    rng : numpy.random.Generator
    """

    def __init__(self, n, batch_size, rng):
        self.n = n
        self.batch_size = batch_size
        self.rng = rng

    def __iter__(self):
        order = self.rng.permutation(self.n)
        for start in range(0, self.n, self.batch_size):
            yield order[start:start + self.batch_size].tolist()

    def __len__(self):
        return math.ceil(self.n / self.batch_size)


class RankShare:
    """A collate function that builds the global batch and keeps this rank's rows.

    Parameters
    ----------
    collate : callable
        Turns a list of item indices into ``(X, y)`` (tensors or dicts of
        tensors, batch first); it runs on the whole global batch so that its
        random draws are the same on every rank.
    world : World

    Attributes
    ----------
    last_indices : ndarray of int64
        The items of the last *global* batch (the loss is the global batch's).
    share_is_empty : bool
        The last global batch had fewer items than there are processes and this
        rank got none: it runs the batch's first item with a loss weight of 0, so
        that it still takes part in the gradient's all-reduce.
    """

    share_is_empty = False

    def __init__(self, collate, world):
        self.collate = collate
        self.world = world

    @property
    def last_indices(self):
        return getattr(self.collate, "last_indices", None)

    def __call__(self, batch):
        self.share_is_empty = self.world.rank >= len(batch)
        rows = slice(0, 1) if self.share_is_empty else slice(
            self.world.rank, None, self.world.size)
        return _rows(self.collate(batch), rows)


def _rows(value, rows):
    if isinstance(value, dict):
        return {k: _rows(v, rows) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_rows(v, rows) for v in value)
    return value[rows]


def global_loss(total, count, root):
    """The global batch's loss from this rank's sum, with this rank's gradient share.

    The loss is ``f(S / K)`` with ``S`` the sum of per-item losses and ``K``
    the number of items over all ranks, and ``f`` the square root (masked
    RMSE) or the identity (cross-entropy). Its gradient is ``f'(S / K) / K``
    times the sum of the ranks' ``dS_r``; DistributedDataParallel averages
    gradients over ranks, so each rank backpropagates ``world_size`` times its
    part.

    Parameters
    ----------
    total : torch.Tensor, scalar
        This rank's sum of per-item losses (with its graph).
    count : torch.Tensor or float
        This rank's number of items in that sum.
    root : bool
        The loss is the square root of the mean.

    Returns
    -------
    loss : torch.Tensor, scalar
        Valued as the global loss, with the gradient above.
    """
    sums = torch.stack([total.detach().double(), torch.as_tensor(count).double().to(
        total.device)])
    dist.all_reduce(sums)
    S, K = sums[0], sums[1]
    if K == 0:
        return total * 0.0
    mean = S / K
    value = torch.sqrt(mean) if root else mean
    slope = (0.5 / torch.sqrt(mean) if root else 1.0) / K * dist.get_world_size()
    part = total * slope.to(total.dtype)
    return part + (value.to(total.dtype) - part).detach()
