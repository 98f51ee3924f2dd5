"""Windows, padding and centring of light curves.

Pure numpy. A window is at most ``L`` consecutive observations of one light
curve; its times and magnitudes are centred on the mean of its real
observations (in float64, since MJD ~ 5e4 loses ~0.01 d in float32) and
padded with zeros to ``L`` positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Windows",
    "official_window_starts",
    "covering_windows",
    "random_windows",
    "make_windows",
]


@dataclass(frozen=True)
class Windows:
    """A batch of padded, centred windows.

    Attributes
    ----------
    times : ndarray of shape (W, L), float32
        Window-centred times, 0 at padding.
    mags : ndarray of shape (W, L), float32
        Window-centred magnitudes, 0 at padding.
    errs : ndarray of shape (W, L), float32
        Magnitude errors as given (not centred), 0 at padding; NaN when the
        light curves have no errors.
    obs_mask : ndarray of shape (W, L), bool
        True at real observations.
    objects : ndarray of shape (W,), int64
        Index of the light curve each window comes from.
    """

    times: np.ndarray
    mags: np.ndarray
    errs: np.ndarray
    obs_mask: np.ndarray
    objects: np.ndarray

    @property
    def n_obs(self):
        """Number of real observations per window, shape (W,)."""
        return self.obs_mask.sum(axis=1)

    def __len__(self):
        return len(self.objects)


def official_window_starts(n, length):
    """Window starts of the official Astromer inference rule.

    ``floor(n / L) + 1`` starts ``0, L, 2L, ...``, each clipped to ``n - L``:
    the last window is right-aligned and may overlap (or, when ``n`` is a
    multiple of ``L``, repeat) the one before.

    Parameters
    ----------
    n : int
        Number of observations.
    length : int
        Window length ``L``.

    Returns
    -------
    starts : ndarray of shape (n // length + 1,), int64

    Examples
    --------
    >>> official_window_starts(450, 200).tolist()
    [0, 200, 250]
    >>> official_window_starts(400, 200).tolist()
    [0, 200, 200]
    """
    k = np.arange(n // length + 1, dtype=np.int64)
    return np.minimum(k * length, max(n - length, 0))


def covering_windows(lengths, length):
    """Windows that cover every light curve, none repeated.

    The official starts without the repeated window: ``max(1, ceil(n / L))``
    windows per light curve.

    Parameters
    ----------
    lengths : array-like of shape (n_objects,)
        Observations per light curve.
    length : int
        Window length ``L``.

    Returns
    -------
    objects : ndarray of shape (W,), int64
        Light curve of each window, in order.
    starts : ndarray of shape (W,), int64
        First observation of each window.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    counts = np.maximum(1, -(-lengths // length))
    objects = np.repeat(np.arange(len(lengths), dtype=np.int64), counts)
    # k-th window of its light curve: position within the run of repeats.
    first = np.cumsum(counts) - counts
    k = np.arange(counts.sum(), dtype=np.int64) - np.repeat(first, counts)
    starts = np.minimum(k * length, np.maximum(lengths[objects] - length, 0))
    return objects, starts


def random_windows(lengths, length, rng):
    """One random window per light curve, start uniform in ``[0, n - L]``.

    Parameters
    ----------
    lengths : array-like of shape (n_objects,)
    length : int
    rng : numpy.random.Generator

    Returns
    -------
    starts : ndarray of shape (n_objects,), int64
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    return rng.integers(0, np.maximum(lengths - length, 0) + 1)


def make_windows(light_curves, objects, starts, length, pad_to=None):
    """Cut, centre and pad windows.

    Parameters
    ----------
    light_curves : LightCurves
        The light curves.
    objects : array-like of shape (W,)
        Light curve index of each window.
    starts : array-like of shape (W,)
        First observation of each window.
    length : int
        Maximum observations per window ``L``.
    pad_to : int, default=None
        Width of the padded arrays; ``length`` when None. A smaller value
        (at least the longest window) saves work for models that ignore
        padding.

    Returns
    -------
    windows : Windows
    """
    objects = np.asarray(objects, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    width = length if pad_to is None else int(pad_to)
    n_obs = np.minimum(light_curves.lengths[objects] - starts, length)
    pos = np.arange(width)
    obs_mask = pos < n_obs[:, None]  # (W, width)
    rows = light_curves.offsets[objects] + starts
    index = np.where(obs_mask, rows[:, None] + pos, 0)

    def centred(values):
        x = np.where(obs_mask, values[index], 0.0)
        mean = x.sum(axis=1) / n_obs
        return np.where(obs_mask, x - mean[:, None], 0.0).astype(np.float32)

    if light_curves.err is None:
        errs = np.full(obs_mask.shape, np.nan, dtype=np.float32)
    else:
        errs = np.where(obs_mask, light_curves.err[index], 0.0).astype(np.float32)
    return Windows(
        times=centred(light_curves.time),
        mags=centred(light_curves.mag),
        errs=errs,
        obs_mask=obs_mask,
        objects=objects,
    )
