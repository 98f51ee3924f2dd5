"""Masked reconstruction losses of Astromer (torch)."""

from __future__ import annotations

import torch

__all__ = ["masked_rmse", "per_window_mse", "uncertainty_weights"]


def masked_rmse(pred, target, probed, weights=None):
    """Root of the batch mean of per-window mean squared errors.

    Parameters
    ----------
    pred, target : torch.Tensor of shape (B, L)
        Reconstructed and true magnitudes.
    probed : torch.Tensor of shape (B, L), bool
        Positions that enter the loss.
    weights : torch.Tensor of shape (B, L), default=None
        Per-position weights of the squared errors (Astromer 2's
        uncertainty weighting); the denominator stays the probed count.

    Returns
    -------
    loss : torch.Tensor, scalar
        Windows with no probed position are left out; 0 if none has one.
    """
    per_window = per_window_mse(pred, target, probed, weights)
    if not per_window.numel():
        return pred.sum() * 0.0
    return torch.sqrt(per_window.mean())


def per_window_mse(pred, target, probed, weights=None):
    """Mean squared error of each window with a probed position (see :func:`masked_rmse`).

    Returns
    -------
    per_window : torch.Tensor of shape (B',)
        One value per window with at least one probed position.
    """
    probed = probed.to(pred.dtype)
    sq = (pred - target) ** 2 * probed
    if weights is not None:
        sq = sq * weights
    count = probed.sum(dim=1)
    keep = count > 0
    return sq.sum(dim=1)[keep] / count[keep]


def uncertainty_weights(errs, obs_mask, floor=1e-3):
    """Astromer 2 weights: min-max scaled inverse errors per window, plus 1e-3.

    Parameters
    ----------
    errs : torch.Tensor of shape (B, L)
        Magnitude errors; NaN when unknown (then weights are uniform).
    obs_mask : torch.Tensor of shape (B, L), bool
        True at real observations.
    floor : float, default=1e-3
        Added to every weight so no observation counts for nothing.

    Returns
    -------
    weights : torch.Tensor of shape (B, L)
        A window whose errors are all equal (or unknown) gets weight 1.
    """
    # Zero errors would give infinite inverse: bound them from below.
    inv = 1.0 / errs.clamp(min=1e-6)
    known = obs_mask & torch.isfinite(inv)
    big = torch.finfo(inv.dtype).max
    lo = torch.where(known, inv, big).amin(dim=1, keepdim=True)
    hi = torch.where(known, inv, -big).amax(dim=1, keepdim=True)
    span = hi - lo
    scaled = torch.where(span > 0, (inv - lo) / span.clamp(min=1e-12), torch.ones_like(inv))
    scaled = torch.where(known, scaled, torch.ones_like(inv))
    return (scaled + floor) * obs_mask.to(inv.dtype)
