"""Poolings: how a light curve's per-observation embeddings become one row.

Inference reduces each window to *statistics* (:data:`STATISTICS`: a
masked mean or max over the window's real observations) and averages them
over the object's windows; a *pooling* (:data:`POOLINGS`) turns one of
those statistics into the estimator's output row. Adding a pooling is one
entry in :data:`POOLINGS` (and, if it needs a new reduction, one in
:data:`STATISTICS`); parameter checks, the command line's choices and the
output widths derive from the table.

Shapes in comments: B windows, L positions, D model width, M layers
(input embedding + blocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

__all__ = [
    "masked_mean",
    "masked_max",
    "STATISTICS",
    "Pooling",
    "POOLINGS",
    "LayerWeighting",
]


def masked_mean(z, obs_mask):
    """Mean of ``z`` (B, L, D) over the real observations ``obs_mask`` (B, L).

    A (B, 1, L) x (B, L, D) product: one pass over ``z``, and the same
    operation with or without gradients.

    Returns
    -------
    torch.Tensor of shape (B, D), float32
    """
    weights = (obs_mask / obs_mask.sum(dim=1, keepdim=True)).unsqueeze(1)  # (B, 1, L)
    return torch.bmm(weights.to(torch.float32), z.float()).squeeze(1)


def masked_max(z, obs_mask):
    """Maximum of ``z`` (B, L, D) over the real observations ``obs_mask`` (B, L).

    Returns
    -------
    torch.Tensor of shape (B, D), float32
    """
    z = z.float()
    obs_mask = obs_mask.bool()
    if not bool(obs_mask.all()):
        z = z.masked_fill(~obs_mask.unsqueeze(-1), float("-inf"))
    return z.amax(dim=1)


# Per-window reductions of the encoder's layers (list of M tensors (B, L, D)).
STATISTICS = {
    # (B, D): masked mean of the last block.
    "mean": lambda layers, obs_mask: masked_mean(layers[-1], obs_mask),
    # (B, D): masked max of the last block.
    "max": lambda layers, obs_mask: masked_max(layers[-1], obs_mask),
    # (B, M, D): masked mean of the input embedding and of every block.
    "layer_means": lambda layers, obs_mask: torch.stack(
        [masked_mean(z, obs_mask) for z in layers], dim=1
    ),
}


@dataclass(frozen=True)
class LayerWeighting:
    """Softmax layer weights over standardised per-layer means.

    The per-layer means differ in scale by orders of magnitude (the input
    embedding's mean barely varies between objects), so each dimension is
    standardised with training-set statistics before the layers are
    combined: ``sum_m weights[m] * (Z_m - center_m) / scale_m``. The
    classifier's head does the same in torch
    (:class:`~sklearn_astromer._heads.LayerWeightedHead`).

    Parameters
    ----------
    weights : ndarray of shape (M,)
        Non-negative, summing to one.
    center, scale : ndarray of shape (M, D)
        Kept in float64: the input embedding's mean varies between objects
        by ~1e-5 of its value, so a float32 centre would leave rounding
        errors of ~1e-2 standard deviations.
    """

    weights: np.ndarray
    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def equal(cls, layer_means):
        """Equal weights, standardisation fitted on ``layer_means`` (N, M, D)."""
        layer_means = np.asarray(layer_means, dtype=np.float64)
        n_layers = layer_means.shape[1]
        spread = layer_means.std(axis=0, ddof=1) if len(layer_means) > 1 else 1.0
        return cls(
            weights=np.full(n_layers, 1.0 / n_layers),
            center=layer_means.mean(axis=0),
            scale=np.broadcast_to(np.maximum(spread, 1e-5), layer_means.shape[1:]).copy(),
        )

    def __call__(self, layer_means):
        """Combine per-layer means (N, M, D) into (N, D), float32."""
        standardised = (np.asarray(layer_means, dtype=np.float64) - self.center) / self.scale
        return np.einsum("nmd,m->nd", standardised, self.weights).astype(np.float32)

    def to_dict(self):
        """JSON-serialisable form (saved with a model)."""
        return {k: np.asarray(getattr(self, k)).tolist() for k in ("weights", "center", "scale")}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: np.asarray(data[k], dtype=np.float64) for k in ("weights", "center", "scale")})


@dataclass(frozen=True)
class Pooling:
    """One way of turning a light curve's embeddings into one row.

    Parameters
    ----------
    statistic : str
        Key of :data:`STATISTICS` that inference computes for it.
    combine : callable
        ``combine(statistic, weighting)`` -> ndarray (N, width), with
        ``statistic`` the object-level array and ``weighting`` the
        estimator's :class:`LayerWeighting` (used by ``"weighted"`` only).
    n_blocks : callable
        ``n_blocks(config)`` -> number of ``d_model``-wide blocks in a row.
    description : str
        One line for documentation and the command line's help.
    fitted : bool, default=False
        Whether it needs a :class:`LayerWeighting` learned in ``fit``.
    """

    statistic: str
    combine: Callable
    n_blocks: Callable
    description: str
    fitted: bool = False

    def width(self, config):
        """Output width for an encoder of this :class:`AstromerConfig`."""
        return self.n_blocks(config) * config.d_model


POOLINGS = {
    "mean": Pooling(
        "mean", lambda s, w: s, lambda c: 1,
        "masked mean of the last block over real observations",
    ),
    "max": Pooling(
        "max", lambda s, w: s, lambda c: 1,
        "masked max of the last block over real observations",
    ),
    "layers": Pooling(
        "layer_means", lambda s, w: s.reshape(len(s), -1), lambda c: c.n_layers + 1,
        "masked means of the input embedding and of every block, concatenated",
    ),
    "weighted": Pooling(
        "layer_means", lambda s, w: w(s), lambda c: 1,
        "standardised per-layer means combined with softmax layer weights "
        "(learned from labels, equal without)",
        fitted=True,
    ),
}
