"""Which positions of a window are probed, hidden or randomised.

Pure numpy, all randomness from an explicit ``numpy.random.Generator``.
The fractions are nested, as in Astromer: of the ``n`` real observations of
a window, ``floor(n * probed)`` enter the loss; of these, ``floor(. * same)``
keep their true value, ``floor(rest * random)`` get a magnitude drawn from
another observation of the same window, and the remainder is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MaskPlan", "nested_counts", "mask_windows"]

# Guards floor() against fractions that are not exact in binary
# (0.29 * 100 = 28.999999999999996).
_EPS = 1e-9


@dataclass(frozen=True)
class MaskPlan:
    """Result of :func:`mask_windows`.

    Attributes
    ----------
    mags : ndarray of shape (W, L), float32
        Input magnitudes, with the randomised positions replaced (hidden ones
        still hold their true value: the model hides them).
    probed : ndarray of shape (W, L), bool
        Positions whose reconstruction enters the loss.
    hidden : ndarray of shape (W, L), bool
        Positions the model must not see.
    """

    mags: np.ndarray
    probed: np.ndarray
    hidden: np.ndarray


def nested_counts(n_obs, probed=0.5, same=0.2, random=0.2):
    """Numbers of probed, same, random and hidden positions per window.

    Parameters
    ----------
    n_obs : array-like of int
        Real observations per window.
    probed, same, random : float
        Nested fractions.

    Returns
    -------
    n_probed, n_same, n_random, n_hidden : ndarray of int64

    Examples
    --------
    >>> [int(c) for c in nested_counts(200, 0.5, 0.2, 0.2)]
    [100, 20, 16, 64]
    """
    n_obs = np.asarray(n_obs, dtype=np.int64)
    n_probed = np.floor(n_obs * probed + _EPS).astype(np.int64)
    n_same = np.floor(n_probed * same + _EPS).astype(np.int64)
    n_random = np.floor((n_probed - n_same) * random + _EPS).astype(np.int64)
    return n_probed, n_same, n_random, n_probed - n_same - n_random


def mask_windows(mags, obs_mask, rng, probed=0.5, same=0.2, random=0.2):
    """Draw the masked-reconstruction plan for a batch of windows.

    Parameters
    ----------
    mags : ndarray of shape (W, L)
        Window magnitudes.
    obs_mask : ndarray of shape (W, L), bool
        True at real observations, which must come first in each row.
    rng : numpy.random.Generator
        Source of all randomness.
    probed, same, random : float, default=0.5, 0.2, 0.2
        Nested fractions (Astromer 1 defaults).

    Returns
    -------
    plan : MaskPlan
    """
    mags = np.asarray(mags, dtype=np.float32)
    W, L = mags.shape
    n_obs = obs_mask.sum(axis=1)
    n_probed, n_same, n_random, _ = nested_counts(n_obs, probed, same, random)

    # A random rank for every real observation (padding ranks last): the
    # lowest ranks are probed, and among those the lowest are "same", the
    # next "random", the rest hidden.
    keys = np.where(obs_mask, rng.random((W, L)), 2.0)
    order = np.argsort(keys, axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(L)[None, :], axis=1)

    is_probed = rank < n_probed[:, None]
    is_random = (rank >= n_same[:, None]) & (rank < (n_same + n_random)[:, None])
    hidden = is_probed & (rank >= (n_same + n_random)[:, None])

    # Replacement from *another* real observation of the window: an offset
    # in [1, n - 1] from the position itself, wrapped.
    pos = np.arange(L)[None, :]
    span = np.maximum(n_obs - 1, 1)[:, None]
    source = (pos + 1 + np.floor(rng.random((W, L)) * span).astype(np.int64)) % np.maximum(
        n_obs, 1
    )[:, None]
    replaced = np.take_along_axis(mags, source, axis=1)
    out = np.where(is_random, replaced, mags).astype(np.float32)
    return MaskPlan(mags=out, probed=is_probed, hidden=hidden)
