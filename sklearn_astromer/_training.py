"""The training engine: seeds, settings, batch builders and the skorch net.

Every training stage of the estimators goes through :func:`build_net` and
:func:`fit_net`: the same optimiser, progress bar, early stopping and one
validation rule (:func:`split_objects`: a share of *objects*, stratified
when labels are known, whose batches are drawn once so that the
validation loss is comparable across epochs). A stage only supplies its
module, its loss and how a batch is made:

- ``"self-supervised"``: masked reconstruction on random windows
  (:class:`MaskedWindows`, :class:`MaskedReconstructionLoss`);
- ``"head"``: a classification head on precomputed per-layer embeddings;
- ``"end-to-end"``: encoder and head on random labelled windows
  (:class:`LabelledWindows`).

Two failures never pass silently, whatever the stage (:class:`TrainingNet`):
a NaN or infinite loss stops training with :class:`NonFiniteLossError`,
naming the objects of the batch; a ``KeyboardInterrupt`` (Ctrl-C), which
skorch's loop would swallow, is raised again by :func:`fit_net` as
:class:`TrainingInterrupted`, carrying the epochs completed so far.

Shapes in comments: B windows, L positions.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.dataset import Dataset as SkorchDataset
from skorch.dataset import get_len
from skorch.helper import predefined_split
from skorch.utils import to_tensor
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from . import _ddp
from ._checkpoint import TrainingCheckpoint, digest
from ._losses import masked_rmse, per_window_mse, uncertainty_weights
from ._masking import mask_windows
from ._preprocessing import make_windows, random_windows

__all__ = [
    "STAGES",
    "Seeds",
    "TrainingConfig",
    "NonFiniteLossError",
    "TrainingInterrupted",
    "split_objects",
    "BatchObjects",
    "MaskedWindows",
    "LabelledWindows",
    "LabelledRows",
    "MaskedReconstructionLoss",
    "TrainingNet",
    "MaskedReconstructionNet",
    "build_net",
    "fit_net",
    "self_supervised_net",
    "head_net",
    "end_to_end_net",
    "train_self_supervised",
    "train_head",
    "train_end_to_end",
]

#: Stages of a fit, in order; each has its own seeds. "initialisation"
#: builds the starting model (random weights when not loaded).
STAGES = ("initialisation", "self-supervised", "head", "end-to-end")


@dataclass(frozen=True)
class Seeds:
    """Every seed of one ``fit``, derived from the estimator's ``random_state``.

    Each stage gets an independent torch seed (weight initialisation,
    dropout) and numpy generator (windows, masks, validation split), so
    that adding or skipping a stage leaves the others' draws unchanged.

    Parameters
    ----------
    torch_seed, numpy_seed : int
    """

    torch_seed: int
    numpy_seed: int

    @classmethod
    def from_random_state(cls, random_state):
        """Draw the two root seeds from an int, RandomState or None."""
        rng = check_random_state(random_state)
        return cls(int(rng.randint(2**31 - 1)), int(rng.randint(2**31 - 1)))

    def generator(self, stage):
        """The numpy generator of ``stage`` (a fresh one at each call)."""
        return np.random.default_rng([self.numpy_seed, STAGES.index(stage)])

    @contextlib.contextmanager
    def torch(self, stage):
        """Run torch code with the global RNG seeded for ``stage``, restored afterwards.

        Dropout and weight initialisation draw from torch's global
        generator; forking it keeps ``fit`` deterministic without touching
        the caller's random state.
        """
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.torch_seed + STAGES.index(stage))
            yield


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of one training stage, fixed before it starts.

    Parameters
    ----------
    max_epochs : int
    batch_size : int
        Light curves (or embeddings) per step.
    lr : float
        Adam learning rate.
    validation_fraction : float
        Share of objects held out for early stopping; 0 trains for
        ``max_epochs`` and keeps the last weights.
    patience : int
        Epochs without improvement of the validation loss before stopping;
        the best epoch's weights are restored.
    device : str
    verbose : int
        Per-epoch losses and a progress bar when positive.
    checkpoint : str or path-like, default=None
        File of the stage's checkpoint (see :mod:`~sklearn_astromer._checkpoint`):
        written every epoch, resumed from when it exists. None writes none.
    autocast : torch.dtype, default=None
        Run the forward passes of training under ``torch.autocast`` with this
        dtype (``torch.bfloat16`` on GPU); losses and weights stay float32.
    """

    max_epochs: int
    batch_size: int
    lr: float
    validation_fraction: float
    patience: int
    device: str
    verbose: int
    checkpoint: str | None = None
    autocast: torch.dtype | None = None


class NonFiniteLossError(FloatingPointError, ValueError):
    """A training or validation batch gave a NaN or infinite loss.

    Raised by every training stage instead of letting the NaN spread into
    the weights; the message names the objects of the batch (ids, or
    positions in ``X``). Training stops before that step updates the
    weights, and ``fit`` raises. A ``ValueError`` too, so that the command
    line reports it as an error in the input.
    """


class TrainingInterrupted(KeyboardInterrupt):
    """A ``KeyboardInterrupt`` (Ctrl-C) stopped a training stage.

    skorch ends its loop quietly on ``KeyboardInterrupt``; :func:`fit_net`
    raises this instead, so that an interrupted ``fit`` never returns a
    partly trained estimator.

    Parameters
    ----------
    history : list of dict
        skorch's records of the epochs completed before the interruption.
    checkpoint : str or path-like, default=None
        The stage's checkpoint file, when the estimator writes checkpoints.

    Attributes
    ----------
    history : list of dict
    checkpoint : pathlib.Path or None
    """

    def __init__(self, history, checkpoint=None):
        self.history = history
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        if self.checkpoint is not None:
            how = (
                f"its checkpoint is in {self.checkpoint}: call fit again with the same "
                "data and parameters (checkpoint_dir included) to resume after the last "
                "complete epoch"
            )
        else:
            how = (
                "fit the estimator again before using it; to be able to resume instead "
                "of starting over, set checkpoint_dir"
            )
        super().__init__(
            f"training interrupted after {len(history)} complete epoch(s); fit did not "
            f"complete, so {how} (the exception's .history holds the losses of those "
            "epochs)"
        )


def split_objects(n, fraction, rng, labels=None):
    """The validation rule of every stage: hold out a share of objects.

    Parameters
    ----------
    n : int
        Number of objects.
    fraction : float
        Share held out; 0 holds out none.
    rng : numpy.random.Generator
    labels : ndarray of shape (n,), default=None
        Stratify on these when given.

    Returns
    -------
    train, valid : ndarray of int64
        Sorted object indices; ``valid`` is empty when ``fraction`` is 0.
    """
    everything = np.arange(n, dtype=np.int64)
    if not fraction:
        return everything, everything[:0]
    n_valid = int(round(n * fraction))
    if n_valid < 1 or n_valid >= n:
        raise ValueError(
            f"validation_fraction={fraction} leaves no light curve for "
            f"training or validation out of {n}"
        )
    train, valid = train_test_split(
        everything, test_size=n_valid, stratify=labels,
        random_state=int(rng.integers(2**31 - 1)),
    )
    return np.sort(train), np.sort(valid)


@dataclass(frozen=True)
class BatchObjects:
    """Where a stage's items come from in the user's ``X``, to name them in errors.

    Parameters
    ----------
    train : ndarray of int64
        Position in ``X`` of each training item (the indices given to the
        training ``collate_fn``).
    valid : ndarray of int64
        Position in ``X`` of each validation item, in order.
    ids : ndarray of shape (n_objects,), default=None
        Object ids of ``X``; positions are used when None.
    """

    train: np.ndarray
    valid: np.ndarray
    ids: np.ndarray | None = None

    def describe(self, positions, limit=64):
        """Name the objects at these positions of ``X``, in order, at most ``limit`` of them
        (the default covers a whole batch of the estimators' default size)."""
        positions = np.sort(np.asarray(positions, dtype=np.int64))
        if self.ids is not None:
            names, what = [repr(_plain(self.ids[i])) for i in positions], "ids"
        else:
            names, what = [str(int(i)) for i in positions], "positions in X"
        more = f" and {len(names) - limit} more" if len(names) > limit else ""
        return f"{len(names)} light curve(s), {what} {', '.join(names[:limit])}{more}"


def _plain(value):
    """numpy scalars as Python values, so that ids print as the user wrote them."""
    return value.item() if isinstance(value, np.generic) else value


class _Indices(Dataset):
    """Dataset of object indices; the stage's ``collate_fn`` makes the batch."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def _as_tensors(arrays):
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


class MaskedWindows:
    """Turn a batch of light curve indices into masked random windows.

    Used as the ``collate_fn`` of the self-supervised loader: one random
    window per light curve, with a fresh masking plan, each time the light
    curve is drawn. All randomness comes from ``rng``.

    Parameters
    ----------
    light_curves : LightCurves
    length : int
        Window length ``L``.
    rng : numpy.random.Generator
    masking : dict
        ``probed``, ``same`` and ``random`` fractions.
    pad_full : bool
        Pad every window to ``L`` (needed by the legacy attention, which
        sees padding); otherwise pad to the longest window of the batch.
    """

    def __init__(self, light_curves, length, rng, masking, pad_full):
        self.light_curves = light_curves
        self.length = length
        self.rng = rng
        self.masking = masking
        self.pad_full = pad_full

    def arrays(self, indices):
        """The (X, y) dicts of numpy arrays, each (B, L), for these light curves."""
        w = _random_windows(self.light_curves, indices, self.length, self.rng, self.pad_full)
        plan = mask_windows(w.mags, w.obs_mask, self.rng, **self.masking)
        X = {"times": w.times, "mags": plan.mags, "obs_mask": w.obs_mask, "hidden": plan.hidden}
        y = {"target": w.mags, "probed": plan.probed, "errs": w.errs, "obs_mask": w.obs_mask}
        return X, y

    def __call__(self, batch):
        # Remembered to name the batch's objects should its loss be NaN.
        self.last_indices = np.asarray(batch, dtype=np.int64)
        X, y = self.arrays(batch)
        return _as_tensors(X), _as_tensors(y)


class LabelledWindows:
    """Turn a batch of light curve indices into unmasked random windows with labels.

    The ``collate_fn`` of end-to-end training: one random window per light
    curve each time it is drawn, labelled with its object's class.

    Parameters
    ----------
    light_curves : LightCurves
    labels : ndarray of shape (n_objects,), int64
    length : int
    rng : numpy.random.Generator
    pad_full : bool
    """

    def __init__(self, light_curves, labels, length, rng, pad_full):
        self.light_curves = light_curves
        self.labels = labels
        self.length = length
        self.rng = rng
        self.pad_full = pad_full

    def arrays(self, indices):
        """X (dict of (B, L) arrays) and the labels (B,) of these light curves."""
        indices = np.asarray(indices, dtype=np.int64)
        w = _random_windows(self.light_curves, indices, self.length, self.rng, self.pad_full)
        X = {"times": w.times, "mags": w.mags, "obs_mask": w.obs_mask}
        return X, self.labels[indices]

    def __call__(self, batch):
        self.last_indices = np.asarray(batch, dtype=np.int64)
        X, y = self.arrays(batch)
        return _as_tensors(X), torch.from_numpy(y)


class LabelledRows:
    """Turn a batch of object indices into rows of precomputed features with labels.

    The ``collate_fn`` of head training: the same batches as skorch's
    default loader over ``(features, labels)``, with the indices kept to
    name the objects of a batch.

    Parameters
    ----------
    features : ndarray of shape (n_objects, ...)
    labels : ndarray of shape (n_objects,), int64
    """

    def __init__(self, features, labels):
        self.features = features
        self.labels = labels

    def __call__(self, batch):
        self.last_indices = np.asarray(batch, dtype=np.int64)
        rows = self.last_indices
        return (
            torch.from_numpy(np.ascontiguousarray(self.features[rows])),
            torch.from_numpy(np.ascontiguousarray(self.labels[rows])),
        )


def _random_windows(light_curves, indices, length, rng, pad_full):
    """One random window for each of these light curves."""
    indices = np.asarray(indices, dtype=np.int64)
    lengths = light_curves.lengths[indices]
    starts = random_windows(lengths, length, rng)
    pad_to = None if pad_full else int(np.minimum(lengths, length).max())
    return make_windows(light_curves, indices, starts, length, pad_to=pad_to)


class MaskedReconstructionLoss(torch.nn.Module):
    """Masked RMSE of the reconstruction, optionally uncertainty-weighted.

    Parameters
    ----------
    weighted : bool, default=False
        Weight squared errors by min-max scaled inverse magnitude errors
        (Astromer 2).
    """

    def __init__(self, weighted=False):
        super().__init__()
        self.weighted = weighted

    def forward(self, reconstruction, y):
        return masked_rmse(reconstruction, y["target"], y["probed"].bool(), self._weights(y))

    def parts(self, reconstruction, y):
        """Sum of per-window mean squared errors and their count: the loss is
        the square root of their ratio (used to sum them over processes)."""
        per_window = per_window_mse(reconstruction, y["target"], y["probed"].bool(),
                                    self._weights(y))
        return per_window.sum(), per_window.numel()

    def _weights(self, y):
        if not self.weighted:
            return None
        return uncertainty_weights(y["errs"], y["obs_mask"].bool())


class _EarlyStop(KeyboardInterrupt):
    """Early stopping's end of the loop, told apart from the user's Ctrl-C."""


class _EarlyStopping(EarlyStopping):
    """skorch's early stopping, ending the loop with :class:`_EarlyStop`."""

    def on_epoch_end(self, net, **kwargs):
        try:
            super().on_epoch_end(net, **kwargs)
        except KeyboardInterrupt:
            if self.misses_ < self.patience:
                raise  # the user's, arriving during this callback
            raise _EarlyStop() from None


class TrainingNet(NeuralNet):
    """The skorch net of every stage: stops on a non-finite loss, records interruptions.

    - A NaN or infinite loss of a training or validation batch raises
      :class:`NonFiniteLossError` naming the batch's objects (through
      ``objects``, a :class:`BatchObjects`, and the ``last_indices`` of the
      training ``collate_fn``; validation batches come in order). In
      training it is raised before the optimiser steps, so the weights
      stay finite.
    - A ``KeyboardInterrupt`` other than early stopping's is kept in
      ``interruption`` before skorch's loop swallows it; :func:`fit_net`
      raises it again.
    """

    #: A :class:`BatchObjects`, set by :func:`build_net`; None leaves batches unnamed.
    objects = None
    #: The :class:`~sklearn_astromer._ddp.World` of a distributed run; None for one process.
    world = None
    #: Autocast dtype of the forward passes (``TrainingConfig.autocast``).
    autocast = None
    #: The :class:`~sklearn_astromer._checkpoint.TrainingCheckpoint` callback, or None.
    checkpoint = None
    interruption = None
    _items_seen = 0

    def initialize_module(self):
        super().initialize_module()
        if self.world is not None and not isinstance(self.module_, DistributedDataParallel):
            device = torch.device(self.device)
            ids = [torch.cuda.current_device()] if device.type == "cuda" else None
            # Unused parameters exist: the encoder's reconstruction layer takes no
            # part in end-to-end classification.
            self.module_ = DistributedDataParallel(
                self.module_.to(device), device_ids=ids, find_unused_parameters=True
            )
        return self

    def infer(self, x, **fit_params):
        if self.autocast is None:
            return super().infer(x, **fit_params)
        with torch.autocast(device_type=torch.device(self.device).type, dtype=self.autocast):
            out = super().infer(x, **fit_params)
        return _float32(out)  # losses in float32

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if self.world is None or not training:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        # The global batch's loss (see sklearn_astromer._ddp.global_loss).
        total, count = self.loss_parts(y_pred, to_tensor(y_true, device=self.device))
        if getattr(getattr(self, "iterator_train__collate_fn", None), "share_is_empty", False):
            total, count = total * 0.0, 0  # a stand-in item: no part in the loss
        return _ddp.global_loss(total, count, root=self.loss_is_root)

    #: Whether the loss is the square root of the mean of ``loss_parts``.
    loss_is_root = False

    def loss_parts(self, y_pred, y_true):
        """The training loss as a sum over this batch's items and their count.

        For the classification stages (``CrossEntropyLoss``, a mean over items):
        the summed cross-entropy and the batch size.
        """
        total = torch.nn.functional.cross_entropy(y_pred, y_true, reduction="sum")
        return total, len(y_true)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self.interruption = None
        try:
            return super().fit_loop(X, y, epochs, **fit_params)
        except KeyboardInterrupt as exc:
            if not isinstance(exc, _EarlyStop):
                self.interruption = exc
            raise  # skorch ends the loop as usual (on_train_end runs)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        self._items_seen = 0  # validation batches come in order: their items follow
        return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        if training and self.world is not None:
            # The epoch's loss averages batches by size: the global batch's, not the share's.
            collate = getattr(self, "iterator_train__collate_fn", None)
            self.history.record_batch("train_batch_size", len(collate.last_indices))

    def train_step_single(self, batch, **fit_params):
        step = super().train_step_single(batch, **fit_params)
        # Still inside the optimiser's closure: raising here skips the update.
        self._check_loss(step["loss"], batch, training=True)
        return step

    def validation_step(self, batch, **fit_params):
        step = super().validation_step(batch, **fit_params)
        self._check_loss(step["loss"], batch, training=False)
        return step

    def _check_loss(self, loss, batch, training):
        n_items = get_len(batch[0])
        first = self._items_seen
        self._items_seen += n_items
        value = loss.item()
        if math.isfinite(value):
            return
        kind = "training" if training else "validation"
        epoch = len(self.history)
        where = f"a {kind} batch"
        if self.objects is not None:
            if training:
                collate = getattr(self, "iterator_train__collate_fn", None)
                items = getattr(collate, "last_indices", None)
                positions = None if items is None else self.objects.train[items]
            else:
                positions = self.objects.valid[first:first + n_items]
            if positions is not None:
                where = f"the {kind} batch of {self.objects.describe(positions)}"
        raise NonFiniteLossError(
            f"the loss became {value} at epoch {epoch} on {where}. Training is stopped "
            "before this step changes the weights. Likely causes: extreme magnitudes in "
            "one of these light curves (e.g. 1e30 written as a null marker: remove "
            f"those observations), or a learning rate too high (lr={self.lr})."
        )


def _float32(value):
    """Floating tensors of a (nested) output in float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, dict):
        return {k: _float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_float32(v) for v in value)
    return value


class MaskedReconstructionNet(TrainingNet):
    """skorch net training an :class:`~sklearn_astromer._model.Astromer` by
    masked reconstruction; the loss reads the reconstruction output only."""

    loss_is_root = True

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if self.world is not None and training:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        y_true = to_tensor(y_true, device=self.device)
        return self.criterion_(y_pred["reconstruction"], y_true)

    def loss_parts(self, y_pred, y_true):
        return self.criterion_.parts(y_pred["reconstruction"], y_true)


def build_net(module, config, *, criterion, valid=None, collate_fn=None, objects=None,
              net_class=TrainingNet, rng=None, n_train=None, fingerprint=None, **kwargs):
    """The skorch net of any stage.

    Parameters
    ----------
    module : torch.nn.Module
    config : TrainingConfig
    criterion : type or torch.nn.Module
    valid : torch.utils.data.Dataset, default=None
        Fixed validation set; when given, early stopping on its loss
        restores the best epoch's weights.
    collate_fn : callable, default=None
        Turns a batch of training items into ``(X, y)`` tensors; its
        ``last_indices`` (the items of the last batch) name the objects of a
        batch whose loss is not finite.
    objects : BatchObjects, default=None
        Positions in ``X`` (and ids) of the training and validation items.
    net_class : type, default=TrainingNet
    rng : numpy.random.Generator, default=None
        The stage's generator: it shuffles the training items
        (:class:`~sklearn_astromer._ddp.GlobalBatchSampler`, the same batches on
        every process of a distributed run) and its state is checkpointed.
        None shuffles with torch's generator.
    n_train : int, default=None
        Training items (needed with ``rng``).
    fingerprint : str, default=None
        Digest of what defines this training, stored in and checked against
        its checkpoint (needed when ``config.checkpoint`` is set).
    **kwargs
        Further skorch parameters (e.g. ``criterion__weighted``).

    Returns
    -------
    net : TrainingNet
        Not yet fitted. Under ``torchrun`` (or in an initialised process group)
        it trains with DistributedDataParallel (see :mod:`~sklearn_astromer._ddp`);
        only rank 0 prints and writes checkpoints.
    """
    world = _ddp.current_world()
    main = world is None or world.rank == 0
    verbose = config.verbose if main else 0
    callbacks = []
    if valid is not None:
        sink = print if verbose else (lambda *args, **kw: None)
        callbacks.append(_EarlyStopping(
            monitor="valid_loss", patience=config.patience, load_best=True, sink=sink
        ))
    checkpoint = None
    if config.checkpoint is not None:
        # After early stopping: see TrainingCheckpoint.
        checkpoint = TrainingCheckpoint(config.checkpoint, fingerprint, rng, write=main,
                                        world=world)
        callbacks.append(checkpoint)
    if verbose:
        callbacks.append(ProgressBar())
    if rng is not None:
        kwargs["iterator_train__batch_sampler"] = _ddp.GlobalBatchSampler(
            n_train, config.batch_size, rng
        )
        kwargs["iterator_train__batch_size"] = 1  # DataLoader's default: batch_sampler rules
    else:
        kwargs["iterator_train__shuffle"] = True
    if collate_fn is not None:
        if world is not None:
            collate_fn = _ddp.RankShare(collate_fn, world)
        kwargs["iterator_train__collate_fn"] = collate_fn
    net = net_class(
        module,
        criterion=criterion,
        optimizer=torch.optim.Adam,
        lr=config.lr,
        max_epochs=config.max_epochs,
        batch_size=config.batch_size,
        train_split=None if valid is None else predefined_split(valid),
        callbacks=callbacks,
        device=config.device,
        verbose=verbose,
        **kwargs,
    )
    net.objects = objects
    net.world = world
    net.autocast = config.autocast
    net.checkpoint = checkpoint
    return net


def _fingerprint(config, rng, module, *data):
    """Digest of a stage's training: settings, the generator's starting state,
    the starting weights and the data (see TrainingCheckpoint)."""
    if config.checkpoint is None:
        return None
    settings = {name: getattr(config, name) for name in (
        "max_epochs", "batch_size", "lr", "validation_fraction", "patience", "autocast")}
    return digest(type(module).__name__, settings, rng.bit_generator.state,
                  module.state_dict(), data)


def _light_curve_arrays(lc):
    return (lc.time, lc.mag, lc.err, lc.offsets)


def fit_net(net, X, y=None):
    """Fit ``net``, leave its module in eval mode, return the per-epoch history.

    Raises
    ------
    NonFiniteLossError
        A batch's loss was NaN or infinite (see :class:`TrainingNet`).
    TrainingInterrupted
        A ``KeyboardInterrupt`` (Ctrl-C) stopped the loop. The module keeps
        the weights skorch leaves (those of the best epoch when early
        stopping is on, else of the last step), but the caller must not
        treat it as trained: the estimators let the exception through
        before setting their fitted attributes.

    Returns
    -------
    history : list of dict
        skorch's per-epoch records (losses, durations), without the
        per-batch ones.
    """
    world = getattr(net, "world", None)
    if world is not None and world.rank:
        # Dropout: a stream of this rank's own, derived from the stage's seed.
        torch.manual_seed(_ddp.rank_seed(torch.initial_seed(), world.rank))
    checkpoint = getattr(net, "checkpoint", None)
    state = checkpoint.load() if checkpoint is not None else None
    try:
        if state is None:
            net.fit(X, y)
        elif state["complete"]:
            # Trained to the end before: its final weights, no training.
            net.initialize()
            checkpoint.restore(net, state)
            checkpoint.pending = None
        else:
            net.initialize()
            checkpoint.restore(net, state)
            net.partial_fit(X, y, epochs=net.max_epochs - len(state["history"]))
    finally:
        # Unwrap DistributedDataParallel: the caller's module holds the weights.
        if isinstance(getattr(net, "module_", None), DistributedDataParallel):
            net.module_ = net.module_.module
    net.module_.eval()
    history = [{k: v for k, v in epoch.items() if k != "batches"} for epoch in net.history]
    interruption = getattr(net, "interruption", None)
    if interruption is not None:
        # The interrupted epoch has no losses yet: keep the complete ones.
        complete = [epoch for epoch in history if "train_loss" in epoch]
        raise TrainingInterrupted(
            complete, checkpoint.path if checkpoint is not None else None
        ) from interruption
    if checkpoint is not None and not (state is not None and state["complete"]):
        checkpoint.save_complete(net)
    return history


def train_self_supervised(module, light_curves, config, *, masking, weighted_loss, rng):
    """Masked-reconstruction training of an Astromer, in place.

    Returns the per-epoch history; see :func:`self_supervised_net` for the
    parameters.
    """
    return fit_net(*self_supervised_net(
        module, light_curves, config, masking=masking, weighted_loss=weighted_loss, rng=rng
    ))


def self_supervised_net(module, light_curves, config, *, masking, weighted_loss, rng):
    """The net and data of masked-reconstruction training, ready for :func:`fit_net`.

    Parameters
    ----------
    module : Astromer
    light_curves : LightCurves
    config : TrainingConfig
    masking : dict
        Nested masking fractions (``probed``, ``same``, ``random``).
    weighted_loss : bool
        Uncertainty-weighted RMSE.
    rng : numpy.random.Generator

    Returns
    -------
    net : MaskedReconstructionNet
        A :class:`TrainingNet`.
    X : Dataset
        Indices of the training light curves; the net's ``collate_fn``
        turns them into masked windows.
    """
    arch = module.config
    fingerprint = _fingerprint(config, rng, module, _light_curve_arrays(light_curves),
                               masking, weighted_loss)
    train, valid = split_objects(len(light_curves), config.validation_fraction, rng)

    def windows(lc):
        return MaskedWindows(lc, arch.window_length, rng, masking, pad_full=arch.pad_full)

    valid_set = None
    if len(valid):
        # Windows and masks drawn once: the same validation batch every epoch.
        valid_set = SkorchDataset(*windows(light_curves.subset(valid)).arrays(np.arange(len(valid))))
    train_lc = light_curves.subset(train) if len(valid) else light_curves
    net = build_net(
        module, config,
        criterion=MaskedReconstructionLoss, criterion__weighted=weighted_loss,
        valid=valid_set, collate_fn=windows(train_lc), net_class=MaskedReconstructionNet,
        objects=BatchObjects(train, valid, light_curves.ids),
        rng=rng, n_train=len(train_lc), fingerprint=fingerprint,
    )
    return net, _Indices(len(train_lc))


def train_head(head, features, labels, config, *, rng):
    """Train a classification head on precomputed per-layer embeddings, in place.

    Returns the per-epoch history; see :func:`head_net` for the parameters.
    """
    return fit_net(*head_net(head, features, labels, config, rng=rng))


def head_net(head, features, labels, config, *, rng):
    """The net and data of head training, ready for :func:`fit_net`.

    Parameters
    ----------
    head : LayerWeightedHead
    features : ndarray of shape (n_objects, n_layers, d_model), float32
    labels : ndarray of shape (n_objects,), int64
    config : TrainingConfig
    rng : numpy.random.Generator

    Returns
    -------
    net : TrainingNet
    X : Dataset
        Indices of the training objects; the net's ``collate_fn``
        (:class:`LabelledRows`) turns them into rows of ``features`` and
        their labels. Errors name objects by their position in ``features``.
    """
    fingerprint = _fingerprint(config, rng, head, features, labels)
    train, valid = split_objects(len(labels), config.validation_fraction, rng, labels)
    valid_set = SkorchDataset(features[valid], labels[valid]) if len(valid) else None
    net = build_net(
        head, config, criterion=torch.nn.CrossEntropyLoss, valid=valid_set,
        collate_fn=LabelledRows(features[train], labels[train]),
        objects=BatchObjects(train, valid),
        rng=rng, n_train=len(train), fingerprint=fingerprint,
    )
    return net, _Indices(len(train))


def train_end_to_end(model, light_curves, labels, config, *, rng):
    """Train an :class:`~sklearn_astromer._heads.EncoderClassifier` on random windows, in place.

    Returns the per-epoch history; see :func:`end_to_end_net` for the
    parameters.
    """
    return fit_net(*end_to_end_net(model, light_curves, labels, config, rng=rng))


def end_to_end_net(model, light_curves, labels, config, *, rng):
    """The net and data of end-to-end classifier training, ready for :func:`fit_net`.

    Each epoch sees one random window of every training light curve,
    labelled with its object's class; the validation windows are drawn once.

    Parameters
    ----------
    model : EncoderClassifier
    light_curves : LightCurves
    labels : ndarray of shape (n_objects,), int64
    config : TrainingConfig
    rng : numpy.random.Generator

    Returns
    -------
    net : TrainingNet
    X : Dataset
        Indices of the training light curves; the net's ``collate_fn``
        turns them into labelled windows.
    """
    arch = model.encoder.config
    fingerprint = _fingerprint(config, rng, model, _light_curve_arrays(light_curves), labels)
    train, valid = split_objects(len(labels), config.validation_fraction, rng, labels)

    def windows(index):
        return LabelledWindows(
            light_curves.subset(index), labels[index], arch.window_length, rng,
            pad_full=arch.pad_full,
        )

    valid_set = SkorchDataset(*windows(valid).arrays(np.arange(len(valid)))) if len(valid) else None
    net = build_net(
        model, config, criterion=torch.nn.CrossEntropyLoss, valid=valid_set,
        collate_fn=windows(train), objects=BatchObjects(train, valid, light_curves.ids),
        rng=rng, n_train=len(train), fingerprint=fingerprint,
    )
    return net, _Indices(len(train))
