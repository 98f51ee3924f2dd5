"""Period-aware inputs: each light curve's best period, and the curve folded at it.

Pure preprocessing (numpy and the ``light-curve`` periodogram, no torch), computed once per
light curve. A model whose :class:`~sklearn_astromer.AstromerConfig` has ``fold_cycles > 0``
is trained on, and given, the folded view that :func:`fold_light_curves` makes; the
estimators apply it themselves, so users pass light curves as observed.

Why folding: the classes of periodic variables differ by their period and the shape of one
cycle, but over a baseline of thousands of days a 0.3-day period makes thousands of cycles,
which attention over sinusoids of the raw times cannot line up (finding the period takes a
periodogram over ~10^5 trial frequencies). Folded over ``k`` cycles, with times in days
from the start of the fold, a curve spans ``k`` periods: a time encoding that reaches
sub-day periods (``time_encoding="log-period"``) then sees both the period (the span of the
times) and the phase of every observation.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._lightcurves import LightCurves, as_light_curves

__all__ = ["find_periods", "fold_light_curves"]


def find_periods(X, features=None, columns=None):
    """Best period of each light curve, in days (NaN where none is defined).

    The period is :class:`~sklearn_astromer.features.LightCurveFeatures`'s
    ``fourier_period``: among the highest Lomb-Scargle peaks, the one at which a Fourier
    series fits the folded curve best, which avoids the 1-day aliases of nightly sampling.

    Parameters
    ----------
    X : light curves
        Any form :func:`~sklearn_astromer.as_light_curves` accepts.
    features : LightCurveFeatures, default=None
        The feature extractor whose ``fourier_period`` is used (default parameters when
        None).
    columns : dict, default=None
        DataFrame column names, as for :func:`~sklearn_astromer.as_light_curves`.

    Returns
    -------
    periods : ndarray of shape (n_objects,)
        Days; NaN for a curve with fewer than
        :data:`~sklearn_astromer.features.MIN_OBSERVATIONS` distinct times or no usable
        periodogram peak.
    """
    from .features import LightCurveFeatures

    lc = X if isinstance(X, LightCurves) else as_light_curves(X, columns=columns)
    extractor = LightCurveFeatures() if features is None else features
    values = extractor.fit(lc).transform(lc)
    names = list(extractor.get_feature_names_out())
    return np.asarray(values[:, names.index("fourier_period")], dtype=np.float64)


def _thin(n, size):
    """Indices of ``size`` of ``n`` items spread evenly, the first and last kept."""
    if n <= size:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, size).round().astype(np.int64))


def fold_light_curves(X, periods, n_cycles=2, max_observations=None, columns=None):
    """Fold each light curve at its period over ``n_cycles`` cycles, times in days.

    Parameters
    ----------
    X : light curves
        Any form :func:`~sklearn_astromer.as_light_curves` accepts.
    periods : array-like of shape (n_objects,)
        Folding period of each curve in days (e.g. from :func:`find_periods`); NaN or a
        non-positive value leaves that curve unfolded.
    n_cycles : int, default=2
        Cycles shown. Two keep both eclipses of a binary whose periodogram peak sits at
        half its orbital period.
    max_observations : int, default=None
        Keep at most this many observations per curve, spread evenly in phase (a model's
        ``window_length``), so that one window holds the whole folded cycle instead of a
        slice of phases. None keeps all.
    columns : dict, default=None
        DataFrame column names, as for :func:`~sklearn_astromer.as_light_curves`.

    Returns
    -------
    folded : LightCurves
        Same objects and ids. For a folded curve, ``time`` is
        ``(t - t[0]) mod (n_cycles * period)`` in days, sorted, so it spans ``n_cycles``
        periods; duplicated times are merged first as for the features.

    Warns
    -----
    UserWarning
        When some curves have no period and are left unfolded (their count and the first
        ids or indices are named).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_astromer.periods import fold_light_curves
    >>> t = np.arange(0.0, 10.0, 0.25)
    >>> curve = np.column_stack([t, np.sin(2 * np.pi * t / 0.5), np.full(t.size, 0.01)])
    >>> folded = fold_light_curves([curve], [0.5], n_cycles=2)
    >>> time, mag, err = folded[0]
    >>> float(time.max()) < 1.0, len(time)
    (True, 40)
    """
    from .features import fold_light_curve

    lc = X if isinstance(X, LightCurves) else as_light_curves(X, columns=columns)
    periods = np.asarray(periods, dtype=np.float64).reshape(-1)
    if periods.shape[0] != len(lc):
        raise ValueError(f"got {periods.shape[0]} periods for {len(lc)} light curves")
    if int(n_cycles) < 1:
        raise ValueError(f"n_cycles must be at least 1, got {n_cycles}")
    times, mags, errs, lengths, unfolded = [], [], [], [], []
    for k in range(len(lc)):
        t, m, e = lc[k]
        period = periods[k]
        if np.isfinite(period) and period > 0:
            phase_time, m, e = fold_light_curve(t, m, e, period, n_cycles)
            # fold_light_curve spans 2 pi per cycle; back to days.
            t = phase_time * (period / (2.0 * np.pi))
        else:
            unfolded.append(k)
        keep = _thin(t.size, max_observations) if max_observations else slice(None)
        times.append(t[keep])
        mags.append(m[keep])
        errs.append(None if e is None else e[keep])
        lengths.append(times[-1].size)
    if unfolded:
        names = lc.ids[unfolded[:5]].tolist() if lc.ids is not None else unfolded[:5]
        warnings.warn(
            f"{len(unfolded)} of {len(lc)} light curves have no period (too few "
            f"observations or no usable periodogram peak) and are left unfolded, e.g. "
            f"{names}",
            UserWarning,
            stacklevel=2,
        )
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    err = None if lc.err is None else np.concatenate(errs)
    return LightCurves(
        time=np.concatenate(times), mag=np.concatenate(mags), err=err, offsets=offsets,
        ids=lc.ids,
    )
