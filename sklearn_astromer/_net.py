"""skorch glue: masked-window batches, the reconstruction loss, the training net."""

from __future__ import annotations

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, ProgressBar
from skorch.dataset import Dataset as SkorchDataset
from skorch.dataset import ValidSplit
from skorch.helper import predefined_split
from skorch.utils import to_tensor
from torch.utils.data import Dataset

from ._losses import masked_rmse, uncertainty_weights
from ._masking import mask_windows
from ._preprocessing import make_windows, random_windows

__all__ = ["MaskedWindows", "MaskedReconstructionLoss", "MaskedReconstructionNet", "train", "fit_head", "fit_windows"]


class _Indices(Dataset):
    """Dataset of light curve indices; :class:`MaskedWindows` makes the batch."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def _random_windows(light_curves, indices, length, rng, pad_full):
    """One random window for each of these light curves (see :class:`MaskedWindows`)."""
    indices = np.asarray(indices, dtype=np.int64)
    lengths = light_curves.lengths[indices]
    starts = random_windows(lengths, length, rng)
    pad_to = None if pad_full else int(np.minimum(lengths, length).max())
    return make_windows(light_curves, indices, starts, length, pad_to=pad_to)


class MaskedWindows:
    """Turn a batch of light curve indices into masked random windows.

    Used as the ``collate_fn`` of the training loader: one random window per
    light curve, with a fresh masking plan, each time the light curve is
    drawn. All randomness comes from ``rng``.

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
        """The (X, y) dicts of numpy arrays for these light curves."""
        w = _random_windows(self.light_curves, indices, self.length, self.rng, self.pad_full)
        plan = mask_windows(w.mags, w.obs_mask, self.rng, **self.masking)
        X = {"times": w.times, "mags": plan.mags, "obs_mask": w.obs_mask, "hidden": plan.hidden}
        y = {"target": w.mags, "probed": plan.probed, "errs": w.errs, "obs_mask": w.obs_mask}
        return X, y

    def __call__(self, batch):
        X, y = self.arrays(batch)
        as_t = lambda d: {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in d.items()}  # noqa: E731
        return as_t(X), as_t(y)


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
        weights = None
        if self.weighted:
            weights = uncertainty_weights(y["errs"], y["obs_mask"].bool())
        return masked_rmse(reconstruction, y["target"], y["probed"].bool(), weights)


class MaskedReconstructionNet(NeuralNet):
    """skorch net training an :class:`~sklearn_astromer._model.Astromer` by
    masked reconstruction; the loss reads the reconstruction output only."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        return self.criterion_(y_pred["reconstruction"], y_true)


def train(
    module,
    light_curves,
    *,
    max_epochs,
    batch_size,
    lr,
    masking,
    weighted_loss,
    validation_fraction,
    patience,
    device,
    rng,
    verbose,
):
    """Self-supervised training of ``module`` on ``light_curves``, in place.

    Parameters
    ----------
    module : Astromer
    light_curves : LightCurves
    max_epochs, batch_size : int
    lr : float
    masking : dict
        Nested masking fractions.
    weighted_loss : bool
    validation_fraction : float
        Fraction of light curves held out for early stopping (0: none). The
        held-out windows and masks are drawn once, so the validation loss
        is comparable across epochs; the best epoch's weights are restored.
    patience : int
        Epochs without improvement of the validation loss before stopping.
    device : str
    rng : numpy.random.Generator
    verbose : int

    Returns
    -------
    history : list of dict
        skorch's per-epoch history (losses, durations).
    """
    config = module.config
    n = len(light_curves)
    n_valid = int(round(n * validation_fraction)) if validation_fraction else 0
    if validation_fraction and (n_valid < 1 or n_valid >= n):
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves no light curve for "
            f"training or validation out of {n}"
        )
    order = rng.permutation(n)
    train_lc = light_curves.subset(np.sort(order[n_valid:])) if n_valid else light_curves
    make = lambda lc: MaskedWindows(  # noqa: E731
        lc, config.window_length, rng, masking, pad_full=config.pad_full
    )

    callbacks = []
    train_split = None
    if n_valid:
        valid_X, valid_y = make(light_curves.subset(np.sort(order[:n_valid]))).arrays(
            np.arange(n_valid)
        )
        train_split = predefined_split(SkorchDataset(valid_X, valid_y))
        callbacks.append(_early_stopping(patience, verbose))
    if verbose:
        callbacks.append(ProgressBar())

    net = MaskedReconstructionNet(
        module,
        criterion=MaskedReconstructionLoss,
        criterion__weighted=weighted_loss,
        optimizer=torch.optim.Adam,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        iterator_train__collate_fn=make(train_lc),
        train_split=train_split,
        callbacks=callbacks,
        device=device,
        verbose=verbose,
    )
    net.fit(_Indices(len(train_lc)), y=None)
    module.eval()
    return _epochs(net)


def _early_stopping(patience, verbose):
    """Stop on validation loss and restore the best epoch's weights."""
    sink = print if verbose else (lambda *args, **kwargs: None)
    return EarlyStopping(monitor="valid_loss", patience=patience, load_best=True, sink=sink)


def _epochs(net):
    """skorch's per-epoch history, without the per-batch records."""
    return [{k: v for k, v in epoch.items() if k != "batches"} for epoch in net.history]


def fit_head(
    head,
    features,
    y,
    *,
    max_epochs,
    batch_size,
    lr,
    validation_fraction,
    patience,
    device,
    verbose,
):
    """Train a classification head on precomputed per-layer embeddings, in place.

    Parameters
    ----------
    head : LayerWeightedHead
    features : ndarray of shape (n_objects, n_layers, d_model), float32
    y : ndarray of shape (n_objects,), int64
        Encoded labels.
    max_epochs, batch_size : int
    lr : float
    validation_fraction : float
        Stratified hold-out for early stopping on validation loss (0: none).
    patience : int
    device : str
    verbose : int

    Returns
    -------
    history : list of dict
    """
    callbacks, train_split = [], None
    if validation_fraction:
        train_split = ValidSplit(validation_fraction, stratified=True)
        callbacks.append(_early_stopping(patience, verbose))
    if verbose:
        callbacks.append(ProgressBar())
    net = NeuralNet(
        head,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        train_split=train_split,
        callbacks=callbacks,
        device=device,
        verbose=verbose,
    )
    net.fit(features, y)
    head.eval()
    return _epochs(net)


class LabelledWindows:
    """``collate_fn`` giving one random, unmasked window per labelled light curve."""

    def __init__(self, light_curves, labels, length, rng, pad_full):
        self.light_curves = light_curves
        self.labels = labels
        self.length = length
        self.rng = rng
        self.pad_full = pad_full

    def __call__(self, batch):
        indices = np.asarray(batch, dtype=np.int64)
        w = _random_windows(self.light_curves, indices, self.length, self.rng, self.pad_full)
        X = {
            "times": torch.from_numpy(w.times),
            "mags": torch.from_numpy(w.mags),
            "obs_mask": torch.from_numpy(w.obs_mask),
        }
        return X, torch.from_numpy(self.labels[indices])


def fit_windows(
    model, light_curves, labels, *, rng, max_epochs, batch_size, lr, validation_fraction,
    patience, device, verbose,
):
    """Train an :class:`~sklearn_astromer._heads.EncoderClassifier` end to end.

    Each epoch sees one random window of every light curve, labelled with
    its object's class. Early stopping, when asked, holds out a stratified
    share of light curves (their windows redrawn each epoch).

    Returns
    -------
    history : list of dict
    """
    config = model.encoder.config
    make = lambda lc, y: LabelledWindows(  # noqa: E731
        lc, y, config.window_length, rng, pad_full=config.pad_full
    )
    n = len(light_curves)
    idx_train = np.arange(n)
    callbacks, kwargs = [], {}
    if validation_fraction:
        from sklearn.model_selection import train_test_split

        idx_train, idx_valid = train_test_split(
            idx_train, test_size=validation_fraction, stratify=labels,
            random_state=int(rng.integers(2**31 - 1)),
        )
        valid_lc = light_curves.subset(idx_valid)
        kwargs["train_split"] = predefined_split(_Indices(len(idx_valid)))
        kwargs["iterator_valid__collate_fn"] = make(valid_lc, labels[idx_valid])
        callbacks.append(_early_stopping(patience, verbose))
    else:
        kwargs["train_split"] = None
    if verbose:
        callbacks.append(ProgressBar())
    train_lc = light_curves.subset(idx_train)
    net = NeuralNet(
        model,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        iterator_train__collate_fn=make(train_lc, labels[idx_train]),
        callbacks=callbacks,
        device=device,
        verbose=verbose,
        **kwargs,
    )
    net.fit(_Indices(len(train_lc)), y=None)
    model.eval()
    return _epochs(net)
