"""Checkpoints of a training stage, and resuming from them.

With ``checkpoint_dir`` set, each training stage writes ``<stage>.pt`` in
that folder at the end of every epoch (on rank 0 of a distributed run): the
model's weights, the optimiser's state, the history, the random state (the
stage's numpy generator, which draws batches, windows and masks, and torch's
generators, which draw dropout) and early stopping's state with its best
weights. When the stage ends, the file is rewritten with the final weights
and marked complete.

A ``fit`` that finds a stage's checkpoint of the same training (same data,
settings, starting weights and ``random_state``; checked with a digest)
resumes it after its last complete epoch, and ends with the weights an
uninterrupted run would have; a complete stage is not trained again. A
checkpoint of another training is refused. ``max_epochs`` may be raised to
train a completed run further.

This is skorch's ``Checkpoint`` / ``LoadInitState`` pair extended with the
random and early-stopping state that an exact resume needs.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

__all__ = ["TrainingCheckpoint", "digest", "CheckpointMismatchError"]

_VERSION = 1


class CheckpointMismatchError(ValueError):
    """A checkpoint file was written by another training than the one resumed."""


def digest(*parts):
    """SHA-256 of arrays, tensors, state dicts and plain values, in order."""
    h = hashlib.sha256()

    def add(value):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous().numpy()
        if isinstance(value, np.ndarray):
            h.update(str((value.dtype.str, value.shape)).encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                h.update(repr(key).encode())
                add(value[key])
        elif isinstance(value, (list, tuple)):
            for item in value:
                add(item)
        else:
            h.update(repr(value).encode())

    for part in parts:
        add(part)
    return h.hexdigest()


def _unwrapped(module):
    """The model inside a DistributedDataParallel wrapper (or the model)."""
    from torch.nn.parallel import DistributedDataParallel

    return module.module if isinstance(module, DistributedDataParallel) else module


def _plain_state(module):
    return {k: v.detach().cpu().clone() for k, v in _unwrapped(module).state_dict().items()}


def _torch_rng_state():
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_torch_rng_state(state):
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainingCheckpoint(Callback):
    """Write a resumable checkpoint every epoch; restore one at the start of training.

    Placed after early stopping among the net's callbacks, so that at the end
    of an epoch the saved early-stopping state includes that epoch, and at the
    start of training the restored state replaces the one early stopping has
    just reset.

    Parameters
    ----------
    path : str or path-like
        The stage's checkpoint file.
    fingerprint : str
        Digest of what defines the training (see :func:`digest`).
    rng : numpy.random.Generator
        The stage's generator (batches, windows, masks).
    write : bool, default=True
        False on ranks other than 0 of a distributed run.
    world : World, default=None
        The processes of a distributed run: each one's torch generator state
        (dropout) is gathered to rank 0 and saved.
    """

    def __init__(self, path, fingerprint, rng, write=True, world=None):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.rng = rng
        self.write = write
        self.world = world
        self.pending = None

    # -- reading -------------------------------------------------------------

    def load(self):
        """The saved state of this training, or None when there is no file.

        Raises
        ------
        CheckpointMismatchError
            The file belongs to another training.
        """
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise CheckpointMismatchError(
                f"{self.path}: cannot read this checkpoint ({exc}); remove it to start over"
            ) from exc
        if state.get("version") != _VERSION or state.get("fingerprint") != self.fingerprint:
            raise CheckpointMismatchError(
                f"{self.path} is the checkpoint of another training (other light "
                "curves, settings, starting weights or random_state): resuming from it "
                "would not give this run's result. Remove the file to start over, or "
                "choose another checkpoint_dir"
            )
        return state

    def restore(self, net, state):
        """Put weights, optimiser and history back; the rest at ``on_train_begin``.

        ``net`` must be initialised.
        """
        _unwrapped(net.module_).load_state_dict(state["module"])
        if state.get("optimizer") is not None:
            net.optimizer_.load_state_dict(state["optimizer"])
        net.history_ = History(copy.deepcopy(state["history"]))
        self.pending = state

    def on_train_begin(self, net, **kwargs):
        state, self.pending = self.pending, None
        if state is None:
            return
        self.rng.bit_generator.state = state["numpy_rng"]
        ranks = state["torch_rng"]  # one per process of the run that wrote it
        _set_torch_rng_state(ranks[(self.world.rank if self.world else 0) % len(ranks)])
        stopping = _early_stopping(net)
        if stopping is not None and state.get("early_stopping"):
            saved = state["early_stopping"]
            stopping.misses_ = saved["misses"]
            stopping.dynamic_threshold_ = saved["threshold"]
            stopping.best_epoch_ = saved["best_epoch"]
            best = saved["best_weights"]
            if best is not None and net.module_ is not _unwrapped(net.module_):
                best = {f"module.{k}": v for k, v in best.items()}
            stopping.best_model_weights_ = best

    # -- writing -------------------------------------------------------------

    def on_epoch_end(self, net, **kwargs):
        torch_rng = [_torch_rng_state()]
        if self.world is not None:
            # A collective: every rank takes part, rank 0 writes.
            import torch.distributed as dist

            torch_rng = [None] * self.world.size
            dist.all_gather_object(torch_rng, _torch_rng_state())
        if not self.write:
            return
        stopping = _early_stopping(net)
        saved_stopping = None
        if stopping is not None:
            best = stopping.best_model_weights_
            if best is not None:
                best = {k.removeprefix("module."): v.detach().cpu().clone()
                        for k, v in best.items()}
            saved_stopping = {
                "misses": stopping.misses_, "threshold": stopping.dynamic_threshold_,
                "best_epoch": stopping.best_epoch_, "best_weights": best,
            }
        self._save({
            "complete": False,
            "module": _plain_state(net.module_),
            "optimizer": net.optimizer_.state_dict(),
            "history": _records(net.history),
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": torch_rng,
            "early_stopping": saved_stopping,
        })

    def save_complete(self, net):
        """Mark the stage complete with its final weights (after early stopping's restore)."""
        if not self.write:
            return
        self._save({
            "complete": True,
            "module": _plain_state(net.module_),
            "optimizer": None,
            "history": _records(net.history),
        })

    def _save(self, state):
        state = {"version": _VERSION, "fingerprint": self.fingerprint, **state}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: a Ctrl-C while writing keeps the previous epoch's.
        partial = self.path.with_name(self.path.name + f".{os.getpid()}.partial")
        torch.save(state, partial)
        os.replace(partial, self.path)


def _records(history):
    """The history's epochs without the per-batch records."""
    return [{k: v for k, v in epoch.items() if k != "batches"} for epoch in history]


def _early_stopping(net):
    from skorch.callbacks import EarlyStopping

    for _, callback in getattr(net, "callbacks_", []):
        if isinstance(callback, EarlyStopping):
            return callback
    return None
