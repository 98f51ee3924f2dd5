"""Contrastive self-supervised training of an Astromer on folded light curves.

Masked reconstruction alone rewards predicting every magnitude, noise and amplitude
included; nothing in it asks that two curves of the same kind of star embed close together.
The contrastive objective (SimCLR's NT-Xent) does: each light curve is seen through two
random *views* that keep its class, and the pooled embedding must tell the two views of one
curve apart from every other curve of the batch. The views:

- a random subset of the observations (``keep`` fraction), i.e. another cadence;
- Gaussian noise with the curve's own errors, scaled by a random factor up to ``noise``;
- a random phase shift of the fold (folded curves only): times move by ``u * span`` modulo
  the fold's span of ``n_cycles`` periods, so the cycle starts elsewhere;
- the masking of masked reconstruction, which also hides some magnitudes.

The period (the span of the folded times) and the amplitude are left untouched: they are
class information. With ``reconstruction_weight > 0`` the masked reconstruction loss of the
same views is added, so the model still fills gaps.

Shapes in comments: B light curves per batch, L positions, D model width, P projection width.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from ._lightcurves import LightCurves
from ._losses import masked_rmse
from ._masking import mask_windows
from ._pooling import masked_mean
from ._training import (
    BatchObjects,
    TrainingNet,
    _as_tensors,
    _Indices,
    _random_windows,
    build_net,
    fit_net,
    split_objects,
)

__all__ = ["AugmentedPairs", "ContrastiveModel", "NTXentLoss", "train_contrastive"]


class AugmentedPairs:
    """Turn a batch of light-curve indices into two augmented, masked windows of each.

    The ``collate_fn`` of contrastive training. All randomness comes from ``rng``.

    Parameters
    ----------
    light_curves : LightCurves
        Folded (or not) light curves, as the model reads them.
    spans : ndarray of shape (n_objects,)
        Fold span in days of each curve (``n_cycles * period``); NaN for a curve that is not
        folded, which gets no phase shift.
    length : int
        Window length ``L``.
    rng : numpy.random.Generator
    masking : dict
        ``probed``, ``same`` and ``random`` fractions of the masking.
    pad_full : bool
        Pad windows to ``L`` (legacy attention).
    keep : tuple of (float, float), default=(0.5, 1.0)
        Range of the fraction of observations a view keeps.
    noise : float, default=1.0
        Largest factor of the errors of the added Gaussian noise.
    """

    def __init__(self, light_curves, spans, length, rng, masking, pad_full,
                 keep=(0.5, 1.0), noise=1.0):
        self.light_curves = light_curves
        self.spans = np.asarray(spans, dtype=np.float64)
        self.length = length
        self.rng = rng
        self.masking = masking
        self.pad_full = pad_full
        self.keep = keep
        self.noise = noise

    def _view(self, k):
        """One augmented copy of light curve ``k``: (time, mag, err) arrays."""
        t, m, e = self.light_curves[k]
        rng = self.rng
        n = t.size
        n_keep = max(2, int(round(rng.uniform(*self.keep) * n))) if n > 2 else n
        chosen = np.sort(rng.choice(n, size=min(n_keep, n), replace=False))
        t, m = t[chosen], m[chosen]
        e = None if e is None else e[chosen]
        if e is not None and self.noise > 0:
            m = m + rng.normal(size=m.size) * e * rng.uniform(0.0, self.noise)
        span = self.spans[k]
        if np.isfinite(span) and span > 0:
            t = (t + rng.uniform(0.0, span)) % span
            order = np.argsort(t, kind="stable")
            t, m = t[order], m[order]
            e = None if e is None else e[order]
        return t, m, e

    def arrays(self, indices):
        """The (X, y) dicts of numpy arrays, each (2B, L): first views, then second views."""
        indices = np.asarray(indices, dtype=np.int64)
        views = [self._view(k) for k in np.concatenate([indices, indices])]
        lengths = [v[0].size for v in views]
        has_err = self.light_curves.err is not None
        pair = LightCurves(
            time=np.concatenate([v[0] for v in views]),
            mag=np.concatenate([v[1] for v in views]),
            err=np.concatenate([v[2] for v in views]) if has_err else None,
            offsets=np.concatenate([[0], np.cumsum(lengths)]),
        )
        w = _random_windows(pair, np.arange(len(views)), self.length, self.rng, self.pad_full)
        plan = mask_windows(w.mags, w.obs_mask, self.rng, **self.masking)
        X = {"times": w.times, "mags": plan.mags, "obs_mask": w.obs_mask, "hidden": plan.hidden}
        y = {"target": w.mags, "probed": plan.probed, "obs_mask": w.obs_mask}
        return X, y

    def __call__(self, batch):
        # Remembered to name the batch's objects should its loss be NaN.
        self.last_indices = np.asarray(batch, dtype=np.int64)
        X, y = self.arrays(batch)
        return _as_tensors(X), _as_tensors(y)


class ContrastiveModel(nn.Module):
    """An Astromer and a projection head: the pooled embedding of visible observations.

    Parameters
    ----------
    encoder : Astromer
    projection_dim : int, default=64
        Width ``P`` of the projection the contrastive loss compares. The embedding the
        estimators use is the pooled encoder output before this head, as in SimCLR.
    """

    def __init__(self, encoder, projection_dim=64):
        super().__init__()
        self.encoder = encoder
        d = encoder.config.d_model
        self.projection = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, projection_dim))

    def forward(self, times, mags, obs_mask, hidden):
        out = self.encoder(times, mags, obs_mask, hidden)
        visible = obs_mask.bool() & ~hidden.bool()  # (2B, L)
        pooled = masked_mean(out["layers"][-1], visible)  # (2B, D)
        return {"projection": self.projection(pooled), "reconstruction": out["reconstruction"]}


class NTXentLoss(nn.Module):
    """SimCLR's normalised temperature-scaled cross entropy, plus masked reconstruction.

    Parameters
    ----------
    temperature : float, default=0.1
    reconstruction_weight : float, default=0.0
        Weight of the masked RMSE of the reconstruction added to the contrastive loss.
    """

    def __init__(self, temperature=0.1, reconstruction_weight=0.0):
        super().__init__()
        self.temperature = temperature
        self.reconstruction_weight = reconstruction_weight

    def forward(self, y_pred, y):
        z = F.normalize(y_pred["projection"].float(), dim=1)  # (2B, P)
        n = z.shape[0] // 2
        logits = z @ z.T / self.temperature  # (2B, 2B)
        logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), -1e9)
        # The positive of view i is the other view of the same light curve.
        targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
        loss = F.cross_entropy(logits, targets)
        if self.reconstruction_weight > 0:
            loss = loss + self.reconstruction_weight * masked_rmse(
                y_pred["reconstruction"], y["target"], y["probed"].bool()
            )
        return loss


class _ContrastiveNet(TrainingNet):
    """skorch net of contrastive training; the loss reads both views of the batch."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = {k: v.to(self.device) for k, v in y_true.items()}
        return self.criterion_(y_pred, y_true)


def train_contrastive(module, light_curves, spans, config, *, masking, rng,
                      temperature=0.1, reconstruction_weight=0.0, projection_dim=64,
                      keep=(0.5, 1.0), noise=1.0):
    """Train ``module`` (an Astromer) contrastively on ``light_curves``, in place.

    Parameters
    ----------
    module : Astromer
    light_curves : LightCurves
        As the model reads them (folded for a folded-input model).
    spans : ndarray of shape (n_objects,)
        Fold span of each curve in days, NaN for curves that are not folded.
    config : TrainingConfig
        Batch size (light curves per step, each seen twice), epochs, learning rate,
        validation share and patience.
    masking : dict
        Masking fractions applied to every view.
    rng : numpy.random.Generator
    temperature, reconstruction_weight : float
        See :class:`NTXentLoss`.
    projection_dim : int, default=64
    keep, noise
        See :class:`AugmentedPairs`.

    Returns
    -------
    history : list of dict
        Per-epoch losses and durations.
    """
    arch = module.config
    if config.batch_size < 2:
        raise ValueError("contrastive training needs at least 2 light curves per batch")
    train, valid = split_objects(len(light_curves), config.validation_fraction, rng)
    spans = np.asarray(spans, dtype=np.float64)

    def pairs(index):
        return AugmentedPairs(
            light_curves.subset(index), spans[index], arch.window_length, rng, masking,
            arch.pad_full, keep=keep, noise=noise,
        )

    valid_set, valid_rows = None, valid
    if len(valid):
        # Validation views drawn once. Batches must keep each curve's two views together,
        # so the fixed set holds whole batches: items are batches, not windows.
        batches = [valid[i:i + config.batch_size] for i in range(0, len(valid), config.batch_size)]
        batches = [b for b in batches if len(b) >= 2]
        fixed = pairs(valid)
        positions = {int(v): i for i, v in enumerate(valid)}
        valid_set = _FixedBatches([fixed.arrays([positions[int(v)] for v in b]) for b in batches])
        # Each validation row, in order: both views of every curve of each batch.
        valid_rows = np.concatenate([np.concatenate([b, b]) for b in batches] or [valid[:0]])
    model = ContrastiveModel(module, projection_dim)
    train_index = train if len(valid) else np.arange(len(light_curves))
    net = build_net(
        model, config,
        criterion=NTXentLoss, criterion__temperature=temperature,
        criterion__reconstruction_weight=reconstruction_weight,
        valid=valid_set, collate_fn=pairs(train_index), net_class=_ContrastiveNet,
        objects=BatchObjects(train_index, valid_rows, light_curves.ids),
        iterator_train__drop_last=True,
        iterator_valid__batch_size=1, iterator_valid__collate_fn=_unbatch,
    )
    history = fit_net(net, _Indices(len(train_index)))
    module.eval()
    return history


class _FixedBatches(Dataset):
    """Validation batches made once: item i is the (X, y) of batch i."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def _unbatch(items):
    """The validation loader yields one fixed batch at a time (its batch size is 1)."""
    (X, y), = items
    return _as_tensors(X), _as_tensors(y)
