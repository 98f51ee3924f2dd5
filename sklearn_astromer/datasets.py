"""Light-curve data sets: a synthetic generator, readers and a writer.

- :func:`make_light_curves` generates labelled synthetic light curves;
- :func:`load_crts_sample` loads the sample of real CRTS light curves shipped with the
  package;
- :func:`load_light_curves` reads a parquet file of the schema below whole, as a list of
  arrays or (``as_light_curves=True``) one :class:`~sklearn_astromer.LightCurves`;
- :func:`iter_light_curves` reads parquet or CSV files, nested or one row per
  observation, in batches of whole objects (what the command line streams);
- :func:`drop_placeholder_times` is the cleaning rule both readers apply;
- :func:`write_light_curves` writes the schema.

The parquet schema (one row per object and band) is the one of the shared survey files:

=========== ================ =====================================================
column      type             meaning
=========== ================ =====================================================
object_id   string           survey identifier
label       string           class (optional)
band        string           passband (optional)
ra, dec     float64          degrees, NaN where unknown
mjd         list<float64>    observation times in days, sorted ascending
mag         list<float32>    magnitudes
mag_err     list<float32>    1-sigma magnitude errors (optional)
=========== ================ =====================================================
"""

from __future__ import annotations

import numbers
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sklearn.utils import check_random_state

from ._lightcurves import (
    DEFAULT_COLUMNS,
    LightCurves,
    NonNumericDataError,
    _as_arrays,
    _column_names,
    _object_name,
    _offsets_from_lengths,
    _validated,
)
from ._lightcurves import as_light_curves as _as_light_curves

__all__ = [
    "drop_placeholder_times",
    "iter_light_curves",
    "load_crts_sample",
    "load_light_curves",
    "make_light_curves",
    "make_multiband_light_curves",
    "load_multiband_light_curves",
    "write_multiband_light_curves",
    "write_light_curves",
]

_DAYS_PER_YEAR = 365.25
# Exposures of one visit are this far apart (10 minutes), as in the Catalina survey.
_EXPOSURE_SPACING = 10.0 / (24 * 60)


# --------------------------------------------------------------------------- synthetic


def _sawtooth(phase, rise):
    """Brightness in [0, 1]: linear rise over ``rise`` of the cycle, then linear decline."""
    return np.where(phase < rise, phase / rise, 1.0 - (phase - rise) / (1.0 - rise))


def _smooth_asymmetric(phase, rise):
    """Brightness in [0, 1]: half-cosine rise over ``rise`` of the cycle, half-cosine decline."""
    up = 0.5 - 0.5 * np.cos(np.pi * phase / rise)
    down = 0.5 + 0.5 * np.cos(np.pi * (phase - rise) / (1.0 - rise))
    return np.where(phase < rise, up, down)


def _phase_distance(phase, centre):
    """Distance in phase from ``centre``, wrapping around the cycle."""
    return np.abs((phase - centre + 0.5) % 1.0 - 0.5)


def _rrab(phase, rng):
    # Fundamental-mode RR Lyrae: steep rise, slow decline, large amplitude.
    amplitude = rng.uniform(0.6, 1.2)
    return -amplitude * (_sawtooth(phase, rng.uniform(0.1, 0.18)) - 0.5)


def _rrc(phase, rng):
    # First-overtone RR Lyrae: nearly sinusoidal, small amplitude.
    amplitude = rng.uniform(0.25, 0.5)
    harmonic = rng.uniform(0.05, 0.2) * np.sin(4 * np.pi * phase + rng.uniform(0, 2 * np.pi))
    return -0.5 * amplitude * (np.sin(2 * np.pi * phase) + harmonic)


def _ea(phase, rng):
    # Detached eclipsing binary: constant light broken by two narrow dips of unequal depth.
    primary = rng.uniform(0.3, 1.2)
    secondary = primary * rng.uniform(0.1, 0.7)
    width = rng.uniform(0.02, 0.05)
    return primary * np.exp(-0.5 * (_phase_distance(phase, 0.0) / width) ** 2) + (
        secondary * np.exp(-0.5 * (_phase_distance(phase, 0.5) / width) ** 2)
    )


def _ew(phase, rng):
    # Contact binary: continuous variation with two nearly equal minima per period.
    amplitude = rng.uniform(0.2, 0.7)
    unequal = rng.uniform(0.0, 0.15)
    return (
        0.5
        * amplitude
        * (1 + np.cos(4 * np.pi * phase))
        * (1 + unequal * np.cos(2 * np.pi * phase))
    )


def _lpv(phase, rng):
    # Mira-like long-period variable: large, slightly non-sinusoidal amplitude.
    amplitude = rng.uniform(1.5, 5.0)
    harmonic = rng.uniform(0.05, 0.2) * np.sin(4 * np.pi * phase + rng.uniform(0, 2 * np.pi))
    return -0.5 * amplitude * (np.sin(2 * np.pi * phase) + harmonic)


def _cepheid(phase, rng):
    # Classical Cepheid: smooth but asymmetric, rising over a third of the cycle.
    amplitude = rng.uniform(0.4, 1.0)
    return -amplitude * (_smooth_asymmetric(phase, rng.uniform(0.25, 0.4)) - 0.5)


# name -> (period range in days, shape function); periods are drawn log-uniformly.
_CLASSES = {
    "RRab": ((0.45, 0.75), _rrab),
    "RRc": ((0.25, 0.4), _rrc),
    "EA": ((1.0, 5.0), _ea),
    "EW": ((0.25, 0.5), _ew),
    "LPV": ((100.0, 400.0), _lpv),
    "Cepheid": ((3.0, 30.0), _cepheid),
}


def _visit_times(n, rng):
    """``n`` sorted times over two to six yearly observing seasons (~400 to ~2100 days).

    Visits fall uniformly inside the seasons, the last one cut short; each visit holds one
    to four exposures a few minutes apart, as in ground-based surveys.
    """
    season = rng.uniform(150.0, 270.0)  # days per year the field is observable
    n_seasons = rng.randint(2, 7)
    last_season = season * rng.uniform(0.3, 1.0)
    observable = (n_seasons - 1) * season + last_season

    per_visit = rng.randint(1, 5)
    n_visits = -(-n // per_visit)
    # Draw in the concatenated seasons, then map back to calendar days.
    u = np.sort(rng.uniform(0.0, observable, n_visits))
    which = np.minimum(u // season, n_seasons - 1)
    visits = which * _DAYS_PER_YEAR + (u - which * season)
    exposures = np.repeat(visits, per_visit) + np.tile(
        _EXPOSURE_SPACING * np.arange(per_visit), n_visits
    )
    start = rng.uniform(53000.0, 55000.0)  # MJD-like epoch
    # Visits closer than their exposure sequence interleave, hence the final sort.
    return start + np.sort(exposures[:n])


def _one_light_curve(name, n, noise, rng):
    (low, high), shape = _CLASSES[name]
    period = np.exp(rng.uniform(np.log(low), np.log(high)))
    time = _visit_times(n, rng)
    phase = ((time - time[0]) / period + rng.uniform()) % 1.0
    true_mag = rng.uniform(13.0, 17.0) + shape(phase, rng)
    # Photon noise: errors grow with magnitude (fainter is noisier) and scatter per point.
    err = noise * 10 ** (0.2 * (true_mag - 15.0)) * rng.uniform(0.7, 1.4, n)
    mag = true_mag + err * rng.standard_normal(n)
    return np.column_stack([time, mag, err])


def make_light_curves(
    n_per_class=50, *, classes=None, n_obs=(60, 300), noise=0.05, random_state=None
):
    """Generate labelled synthetic light curves of periodic variable stars.

    Each object is irregularly sampled over two to six yearly observing seasons of 150 to
    270 days (about 400 to 2100 days in all), in visits of one to four exposures ten
    minutes apart. Classes differ in light-curve shape and period:

    =========== ======================================================= ==============
    class       shape                                                   period (days)
    =========== ======================================================= ==============
    ``RRab``    sawtooth: steep rise, slow decline, 0.6-1.2 mag         0.45-0.75
    ``RRc``     near-sinusoid, 0.25-0.5 mag                             0.25-0.4
    ``EA``      flat with two narrow eclipses of unequal depth          1-5
    ``EW``      continuous double wave, two near-equal minima           0.25-0.5
    ``LPV``     large-amplitude (1.5-5 mag) near-sinusoid               100-400
    ``Cepheid`` smooth, asymmetric rise over a quarter to 40% of cycle  3-30
    =========== ======================================================= ==============

    Periods are drawn log-uniformly in the class range, mean magnitudes uniformly in
    13-17, and the Gaussian noise is heteroscedastic: its 1-sigma error (the third
    column) is ``noise`` at magnitude 15, scales like photon noise with brightness and
    varies by up to a factor 2 between points.

    Parameters
    ----------
    n_per_class : int, default=50
        Number of light curves of each class.
    classes : sequence of str, default=None
        Classes to generate, from ``"RRab"``, ``"RRc"``, ``"EA"``, ``"EW"``, ``"LPV"``
        and ``"Cepheid"``; None means all of them.
    n_obs : int or tuple of (int, int), default=(60, 300)
        Number of observations per light curve, or the inclusive range it is drawn from.
    noise : float, default=0.05
        Typical 1-sigma magnitude error at magnitude 15; 0 gives noiseless curves whose
        errors are all 0.
    random_state : int, RandomState instance or None, default=None
        Seed or generator; the output is fully determined by it.

    Returns
    -------
    X : list of ndarray of shape (n_obs_i, 3)
        Light curves with columns time (days, MJD-like), magnitude and error, float64,
        sorted by time. Objects are shuffled.
    y : ndarray of shape (n_objects,)
        Class name of each light curve (str).

    Examples
    --------
    >>> from sklearn_astromer.datasets import make_light_curves
    >>> X, y = make_light_curves(n_per_class=2, classes=["RRab", "EA"], random_state=0)
    >>> len(X), sorted(y.tolist())
    (4, ['EA', 'EA', 'RRab', 'RRab'])
    >>> X[0].shape[1]
    3
    """
    classes = list(_CLASSES) if classes is None else _check_classes(classes)
    low, high = _check_n_obs(n_obs)
    if not isinstance(n_per_class, numbers.Integral) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be non-negative, got {noise!r}")
    rng = check_random_state(random_state)

    labels = np.repeat(np.array(classes, dtype=str), n_per_class)
    X = [_one_light_curve(name, rng.randint(low, high + 1), noise, rng) for name in labels]
    order = rng.permutation(len(labels))
    return [X[i] for i in order], labels[order]


# Per class: (range of the blue-minus-red colour, range of the blue-over-red amplitude ratio).
# Pulsators change temperature along the cycle, so their amplitude is larger in the blue
# (ratio 1.25-1.7 for RR Lyrae and Cepheids, more for Miras); eclipses of stars of similar
# temperature are nearly grey (ratio ~1). Colours are those of the stars' spectral types.
_CLASS_COLOURS = {
    "RRab": ((0.25, 0.45), (1.3, 1.5)),
    "RRc": ((0.15, 0.3), (1.25, 1.45)),
    "EA": ((-0.1, 1.0), (0.95, 1.15)),
    "EW": ((0.35, 0.9), (0.97, 1.08)),
    "LPV": ((1.2, 2.5), (1.6, 2.5)),
    "Cepheid": ((0.5, 0.9), (1.45, 1.7)),
}

#: Multi-band cadences of :func:`make_multiband_light_curves`: observations per band,
#: observing seasons, days between visits, and whether the bands are taken together.
MULTIBAND_CADENCES = {
    # EROS-like: ~120 observations over ~900 days, both bands at once (a dichroic).
    "eros": {"n_obs": (80, 160), "seasons": 3, "season_days": (180.0, 240.0), "simultaneous": True},
    # ZTF-like: ~100 observations per band over ~3 years, bands on separate visits.
    "ztf": {"n_obs": (70, 130), "seasons": 3, "season_days": (200.0, 260.0), "simultaneous": False},
}


def _night_times(n, seasons, season_days, rng):
    """``n`` sorted times on distinct random nights of ``seasons`` yearly seasons (days).

    Each observation falls within 0.15 d of its night's midpoint: sampling once a night at
    most, as sparse surveys do, so the 1-day aliases are there.
    """
    season = rng.uniform(*season_days)
    nights = np.arange(int(season))
    per_season = [nights + k * _DAYS_PER_YEAR for k in range(seasons)]
    available = np.concatenate(per_season).round()
    chosen = np.sort(rng.choice(available, size=min(n, available.size), replace=False))
    return chosen + rng.uniform(-0.15, 0.15, chosen.size)


def make_multiband_light_curves(
    n_per_class=50, *, classes=None, bands=("B", "R"), cadence="eros", noise=0.03,
    missing_band=0.0, random_state=None,
):
    """Generate labelled synthetic light curves of variable stars in two passbands.

    The shapes and periods are those of :func:`make_light_curves`; each object is seen in a
    blue and a red band whose mean colour and amplitude ratio depend on the class, as in real
    stars: pulsators (RR Lyrae, Cepheids, Miras) change temperature along the cycle, so
    their amplitude is 1.25 to 2.5 times larger in the blue band, while eclipses of stars of
    similar temperature are nearly grey (ratio about 1).

    =========== ================================ =================================
    class       colour (blue - red, mag)          amplitude ratio (blue / red)
    =========== ================================ =================================
    ``RRab``    0.25-0.45                         1.3-1.5
    ``RRc``     0.15-0.3                          1.25-1.45
    ``EA``      -0.1-1.0                          0.95-1.15
    ``EW``      0.35-0.9                          0.97-1.08
    ``LPV``     1.2-2.5                           1.6-2.5
    ``Cepheid`` 0.5-0.9                           1.45-1.7
    =========== ================================ =================================

    Cadences (:data:`MULTIBAND_CADENCES`) are sparse, at most one observation a night:
    ``"eros"`` takes both bands at once (80-160 observations over three seasons, ~900
    days); ``"ztf"`` observes each band on its own nights (70-130 observations per band
    over three seasons).

    Parameters
    ----------
    n_per_class : int, default=50
        Number of objects of each class.
    classes : sequence of str, default=None
        Classes, among those of :func:`make_light_curves`; None means all.
    bands : tuple of (str, str), default=("B", "R")
        Names of the blue and the red band.
    cadence : {"eros", "ztf"}, default="eros"
        Sampling, see above.
    noise : float, default=0.03
        1-sigma error at magnitude 15 in the red band (1.5 times more in the blue), scaled
        like photon noise with brightness.
    missing_band : float, default=0.0
        Fraction of objects that lack one of the two bands (drawn at random), to exercise
        the handling of missing bands.
    random_state : int, RandomState instance or None, default=None
        Seed or generator; the output is fully determined by it.

    Returns
    -------
    X : list of dict
        One dict per object mapping a band name to an ndarray of shape (n_obs, 3) with
        columns time (days, MJD-like), magnitude and error; an object lacking a band has no
        key for it. Objects are shuffled.
    y : ndarray of shape (n_objects,)
        Class of each object (str).

    Examples
    --------
    >>> from sklearn_astromer.datasets import make_multiband_light_curves
    >>> X, y = make_multiband_light_curves(n_per_class=2, classes=["RRab", "EW"], random_state=0)
    >>> len(X), sorted(X[0]), X[0]["B"].shape[1]
    (4, ['B', 'R'], 3)
    """
    classes = list(_CLASSES) if classes is None else _check_classes(classes)
    if cadence not in MULTIBAND_CADENCES:
        raise ValueError(f"cadence must be one of {sorted(MULTIBAND_CADENCES)}, got {cadence!r}")
    bands = tuple(str(band) for band in bands)
    if len(bands) != 2 or bands[0] == bands[1]:
        raise ValueError(f"bands must name two different bands (blue, red), got {bands!r}")
    if not isinstance(n_per_class, numbers.Integral) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be non-negative, got {noise!r}")
    if not 0 <= missing_band <= 1:
        raise ValueError(f"missing_band must be a fraction in [0, 1], got {missing_band!r}")
    rng = check_random_state(random_state)
    spec = MULTIBAND_CADENCES[cadence]

    labels = np.repeat(np.array(classes, dtype=str), n_per_class)
    X = []
    for name in labels:
        (low, high), shape = _CLASSES[name]
        (colour_low, colour_high), (ratio_low, ratio_high) = _CLASS_COLOURS[name]
        period = np.exp(rng.uniform(np.log(low), np.log(high)))
        colour = rng.uniform(colour_low, colour_high)
        ratio = rng.uniform(ratio_low, ratio_high)
        red_mean = rng.uniform(13.0, 17.5)
        start = rng.uniform(47000.0, 50000.0)
        initial_phase = rng.uniform()
        n_obs = rng.randint(spec["n_obs"][0], spec["n_obs"][1] + 1)
        # The same shape draw in both bands: the blue one is the red one scaled by `ratio`.
        shape_state = rng.randint(2**31 - 1)
        times = _night_times(2 * n_obs, spec["seasons"], spec["season_days"], rng)
        if spec["simultaneous"]:
            per_band = [times[: 2 * n_obs : 2]] * 2
        else:
            # Each band on its own nights, as in alternating surveys.
            shuffled = rng.permutation(times)
            per_band = [np.sort(shuffled[:n_obs]), np.sort(shuffled[n_obs : 2 * n_obs])]
        curves = {}
        for band, scale, offset, noise_scale, band_times in zip(
            bands, (ratio, 1.0), (colour, 0.0), (1.5, 1.0), per_band
        ):
            t = start + band_times
            phase = ((t - start) / period + initial_phase) % 1.0
            true_mag = red_mean + offset + scale * shape(phase, np.random.RandomState(shape_state))
            err = noise * noise_scale * 10 ** (0.2 * (true_mag - 15.0))
            err = err * rng.uniform(0.7, 1.4, t.size)
            curves[band] = np.column_stack([t, true_mag + err * rng.standard_normal(t.size), err])
        if rng.uniform() < missing_band:
            del curves[bands[rng.randint(2)]]
        X.append(curves)
    order = rng.permutation(len(labels))
    return [X[i] for i in order], labels[order]


def _check_classes(classes):
    classes = [classes] if isinstance(classes, str) else list(classes)
    unknown = [name for name in classes if name not in _CLASSES]
    if unknown or not classes:
        raise ValueError(f"unknown classes {unknown}; choose from {list(_CLASSES)}")
    return classes


def _check_n_obs(n_obs):
    low, high = (n_obs, n_obs) if isinstance(n_obs, numbers.Integral) else n_obs
    if not 1 <= low <= high:
        raise ValueError(f"n_obs must be a positive int or a (low, high) range, got {n_obs!r}")
    return int(low), int(high)


# --------------------------------------------------------------------------- cleaning


def drop_placeholder_times(X, *, columns=None):
    """Drop the observations made before MJD 0: placeholders for a missing time.

    Survey files mark a missing time with an impossible value: in the Catalina (CRTS)
    file, four light curves start with one observation at MJD -2409998.5, a Julian date
    of 0. No real observation precedes MJD 0 (17 November 1858), so an observation at a
    finite negative time is dropped. A time of exactly 0 is kept, as the origin of
    relative time scales (days since the first observation); NaN and infinite times are
    not placeholders but errors, left to validation.

    This is the package's one cleaning rule. :func:`load_light_curves`,
    :func:`iter_light_curves` and the command line apply it to the files they read,
    where a light curve left without observations is dropped with a warning. The
    estimators do not apply it: times relative to an epoch may rightly be negative.

    Parameters
    ----------
    X : list of ndarray, array-like, pandas.DataFrame or LightCurves
        Light curves in any form accepted by :func:`~sklearn_astromer.as_light_curves`,
        with times in days on an absolute scale (MJD, HJD or JD).
    columns : dict, default=None
        DataFrame column names, as in :func:`~sklearn_astromer.as_light_curves`.

    Returns
    -------
    LightCurves
        The same objects in the same order, without their placeholder observations;
        ``X`` itself when it is a :class:`~sklearn_astromer.LightCurves` without any.

    Raises
    ------
    ValueError
        If a light curve holds placeholder times only (the message names it): dropping
        the object would misalign any labels kept beside ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_astromer.datasets import drop_placeholder_times
    >>> X = [np.array([[-2409998.5, 15.1], [53500.0, 15.2]]), np.array([[0.0, 12.0]])]
    >>> lc = drop_placeholder_times(X)
    >>> lc.time.tolist(), lc.lengths.tolist()
    ([53500.0, 0.0], [1, 1])
    """
    lc = _as_light_curves(X, columns=columns)
    cleaned, kept = _drop_placeholders(lc)
    if not kept.all():
        k = int(np.argmin(kept))
        raise ValueError(
            f"{_object_name(k, lc.ids)}: every observation is at a placeholder time "
            "(before MJD 0); remove the light curve"
        )
    return cleaned


def _drop_placeholders(lc):
    """The rule of :func:`drop_placeholder_times`, on values not yet validated.

    Parameters
    ----------
    lc : LightCurves

    Returns
    -------
    cleaned : LightCurves
        ``lc`` without placeholder observations nor the objects left empty by their
        removal; ``lc`` itself (no copy) when it holds no placeholder.
    kept : ndarray of shape (len(lc),)
        Boolean, True for the objects of ``lc`` that are in ``cleaned``.
    """
    placeholder = (lc.time < 0) & np.isfinite(lc.time)
    if not placeholder.any():
        return lc, np.ones(len(lc), dtype=bool)
    keep = ~placeholder
    owner = np.repeat(np.arange(len(lc)), lc.lengths)  # (n_observations,) object of each row
    lengths = np.bincount(owner[keep], minlength=len(lc))
    # An object that had observations and lost them all; one empty to begin with
    # is left for validation to report.
    kept = (lengths > 0) | (lc.lengths == 0)
    cleaned = LightCurves(
        time=lc.time[keep],
        mag=lc.mag[keep],
        err=None if lc.err is None else lc.err[keep],
        offsets=_offsets_from_lengths(lengths[kept]),
        ids=None if lc.ids is None else lc.ids[kept],
    )
    return cleaned, kept


def _warn_emptied(path, ids, kept):
    """Warn that the objects of ``ids`` not ``kept`` held placeholder times only."""
    if kept.all():
        return
    dropped = [str(i) for i in np.asarray(ids)[~kept].tolist()]
    shown = ", ".join(repr(i) for i in dropped[:5])
    more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
    warnings.warn(
        f"{path}: dropped {len(dropped)} light curve(s) whose observations are all at "
        f"placeholder times (before MJD 0): {shown}{more}",
        UserWarning,
        stacklevel=3,
    )


# --------------------------------------------------------------------------- parquet


def load_light_curves(
    path,
    *,
    classes=None,
    band=None,
    min_obs=1,
    return_ids=False,
    as_light_curves=False,
    drop_placeholders=True,
):
    """Read light curves from a parquet file in the schema of this module.

    The whole file is read at once; :func:`iter_light_curves` reads it in batches, and
    also reads CSV files and tables of one row per observation.

    Parameters
    ----------
    path : str or path-like
        The parquet file.
    classes : str or sequence of str, default=None
        Keep only objects with these labels; None keeps all. Names absent from the file
        raise an error, to catch typos.
    band : str or sequence of str, default=None
        Keep only rows of these passbands; None keeps all.
    min_obs : int, default=1
        Keep only light curves with at least this many observations, counted after
        dropping placeholder times.
    return_ids : bool, default=False
        Also return the object ids.
    as_light_curves : bool, default=False
        Return ``X`` as one validated :class:`~sklearn_astromer.LightCurves` (the type
        the estimators work on, which they take as it is) rather than a list of arrays.
        The values are then checked on loading: a NaN time, for instance, raises a
        ValueError naming the light curve. The list form is not checked, so that bad
        values can be cleaned after loading.
    drop_placeholders : bool, default=True
        Drop the observations at placeholder times, by the rule of
        :func:`drop_placeholder_times`; a light curve left without observations is
        dropped with a warning. False keeps the file's times as they are.

    Returns
    -------
    X : list of ndarray of shape (n_obs_i, 3), or LightCurves
        A list of arrays with columns time, magnitude, error (float64), in file order;
        shape (n_obs_i, 2) when the file has no ``mag_err`` column. The arrays are views
        of one shared buffer. With ``as_light_curves=True``, a
        :class:`~sklearn_astromer.LightCurves` of the same objects whose ``ids`` are
        the object ids.
    y : ndarray of shape (n_objects,) or None
        Labels (str), or None when the file has no ``label`` column.
    ids : ndarray of shape (n_objects,)
        Object ids (object dtype; ``"obj0"``, ``"obj1"``, ... when the file has no
        ``object_id`` column), returned only when ``return_ids`` is True.

    Raises
    ------
    ValueError
        If a column is missing, an unknown class is asked for, list columns of one
        object differ in length or (with ``as_light_curves=True``) a value is invalid;
        the message names the file and, where it applies, the light curve.

    See Also
    --------
    iter_light_curves : read a file in batches of whole objects.
    drop_placeholder_times : the cleaning rule applied here.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_astromer.datasets import load_light_curves, make_light_curves
    >>> from sklearn_astromer.datasets import write_light_curves
    >>> X, y = make_light_curves(n_per_class=3, random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "synthetic.parquet")
    >>> write_light_curves(path, X, y, band="V")
    >>> X2, y2 = load_light_curves(path, classes=["EA", "EW"])
    >>> len(X2), sorted(set(y2.tolist()))
    (6, ['EA', 'EW'])
    >>> lc, y2 = load_light_curves(path, classes="EA", as_light_curves=True)
    >>> lc
    LightCurves(n_objects=3, n_observations=576, with errors)
    >>> lc.ids.tolist(), lc.lengths.tolist()
    (['obj0', 'obj8', 'obj13'], [197, 206, 173])
    """
    parquet = pq.ParquetFile(path)
    available = parquet.schema_arrow.names
    missing = [name for name in ("mjd", "mag") if name not in available]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; it has {available}")
    wanted = ["object_id", "label", "band", "mjd", "mag", "mag_err"]
    table = parquet.read(columns=[name for name in wanted if name in available])

    if classes is not None:
        table = table.filter(_isin(table, "label", classes, path, check_known=True))
    if band is not None:
        table = table.filter(_isin(table, "band", band, path, check_known=False))

    with _named_file(path):
        ids = _object_ids(table, DEFAULT_COLUMNS["id"], first=0)
        lc = _from_lists(table, DEFAULT_COLUMNS, ids)
        rows = np.arange(len(lc))  # (n_objects,) table row of each object
        if drop_placeholders:
            lc, kept = _drop_placeholders(lc)
            _warn_emptied(path, ids, kept)
            rows = rows[kept]
        short = lc.lengths < min_obs
        if short.any():
            lc, rows = lc.subset(~short), rows[~short]
        if as_light_curves:
            lc = _validated(lc)

    y = _text(table["label"].take(rows)) if "label" in table.column_names else None
    X = lc if as_light_curves else _as_arrays(lc)
    return (X, y, lc.ids) if return_ids else (X, y)


def load_crts_sample(*, as_light_curves=False, return_ids=False):
    """Load 300 real light curves of periodic variable stars, shipped with the package.

    60 objects of each of the five most common classes of the Catalina Real-Time
    Transient Survey (CRTS) periodic variables, ``"EA"``, ``"EW"``, ``"RRab"``, ``"RRc"``
    and ``"RS_CVn"``, drawn with a fixed seed from the training half of the catalogue as
    collected in the public repository ``kvmu/lightcurve-classification``. One unfiltered
    band calibrated to V; typically 150 to 400 observations over about 3,000 days, in
    visits of four exposures ten minutes apart. The objects are sorted by class, then id.

    Source: Drake et al. 2014, ApJS 213, 9 (the Catalina Surveys Periodic Variable Star
    Catalog); cite it and the Catalina Sky Survey when you use these data. The file is
    read with :func:`load_light_curves` (placeholder times dropped), and
    ``benchmarks/make_crts_sample.py`` makes it.

    Parameters
    ----------
    as_light_curves : bool, default=False
        Return ``X`` as one validated :class:`~sklearn_astromer.LightCurves` rather than a
        list of arrays, as in :func:`load_light_curves`.
    return_ids : bool, default=False
        Also return the CRTS object ids.

    Returns
    -------
    X : list of ndarray of shape (n_obs_i, 3), or LightCurves
        Columns time (MJD), magnitude and error, float64.
    y : ndarray of shape (300,)
        Class names (str).
    ids : ndarray of shape (300,)
        Object ids, returned only when ``return_ids`` is True.

    Examples
    --------
    >>> from sklearn_astromer.datasets import load_crts_sample
    >>> X, y = load_crts_sample()
    >>> len(X), sorted(set(y.tolist()))
    (300, ['EA', 'EW', 'RRab', 'RRc', 'RS_CVn'])
    >>> X[0].shape[1]
    3
    """
    from importlib.resources import as_file, files

    with as_file(files(__package__) / "data" / "crts_sample.parquet") as path:
        return load_light_curves(path, return_ids=return_ids, as_light_curves=as_light_curves)


def _list_lengths(column):
    # A null list counts as empty.
    return pc.fill_null(pc.list_value_length(column), 0)


def _isin(table, name, values, path, *, check_known):
    if name not in table.column_names:
        raise ValueError(f"{path}: cannot filter on {name!r}, the file has no such column")
    values = [values] if isinstance(values, str) else list(values)
    if check_known:
        known = set(pc.unique(table[name]).to_pylist())
        unknown = [value for value in values if value not in known]
        if unknown:
            raise ValueError(f"{path}: no {name} {unknown}; it has {sorted(known - {None})}")
    return pc.fill_null(pc.is_in(table[name], value_set=pa.array(values, pa.string())), False)


def _object_ids(table, column, *, first):
    """Object ids of a table with one row per object; ``obj{first}``, ... without ids."""
    if column in table.column_names:
        return table[column].to_numpy(zero_copy_only=False).astype(object)
    return np.array([f"obj{first + k}" for k in range(len(table))], dtype=object)


def _from_lists(table, names, ids):
    """Unvalidated :class:`LightCurves` of a table whose time/mag/err columns hold lists.

    One pass over the flattened list columns, no loop over rows; values are checked
    later (``_validated``) or not at all (the list form of
    :func:`load_light_curves`).
    """
    keys = [key for key in ("time", "mag", "err") if names[key] in table.column_names]
    for key in keys:
        kind = table.schema.field(names[key]).type
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
            raise ValueError(
                f"column {names[key]!r} holds {kind} values, not lists: a table of one row "
                "per observation is read by iter_light_curves, with an object id column"
            )
    lengths = {key: _list_lengths(table[names[key]]).to_numpy() for key in keys}
    for key in keys[1:]:
        bad = np.flatnonzero(lengths[key] != lengths["time"])
        if bad.size:
            k = int(bad[0])
            raise ValueError(
                f"{_object_name(k, ids)}: mismatched column lengths ({names['time']} has "
                f"{lengths['time'][k]}, {names[key]} has {lengths[key][k]} values)"
            )
    values = {}
    for key in keys:
        column = table[names[key]]
        kind = column.type.value_type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise NonNumericDataError(
                f"column {names[key]!r}: non-numeric data (lists of {kind}); convert it "
                "to numbers first"
            )
        # Null values inside a list become NaN, reported by validation.
        values[key] = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    return LightCurves(
        time=values["time"],
        mag=values["mag"],
        err=values.get("err"),
        offsets=_offsets_from_lengths(lengths["time"]),
        ids=ids,
    )


def _text(values):
    """Per-object text values (labels, bands) as str, or object with None where missing."""
    import pandas as pd

    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = values.to_numpy(zero_copy_only=False)
    values = np.asarray(values, dtype=object)
    missing = pd.isna(values)
    if not missing.any():
        return values.astype(str)
    out = np.empty(len(values), dtype=object)
    out[~missing] = [str(v) for v in values[~missing]]
    return out


@contextmanager
def _named_file(path, first=0):
    """Prefix errors with the file, and number light curves from ``first`` on.

    The funnel numbers objects within what it was given; a reader hands it one batch
    at a time, and the user needs positions in the file (the id, when the file has
    ids, follows the position in the message).
    """
    try:
        yield
    except ValueError as exc:
        message = re.sub(
            r"^light curve (\d+)",
            lambda m: f"light curve {int(m.group(1)) + first}",
            str(exc),
        )
        raise type(exc)(f"{path}: {message}") from exc


# --------------------------------------------------------------------------- streaming


def iter_light_curves(
    path, *, batch_size=1024, columns=None, band=None, format="auto", drop_placeholders=True
):
    """Read a parquet or CSV file of light curves in batches of whole objects.

    Memory is bounded by the batch, so files larger than memory can be embedded or
    scored batch by batch. The file may be

    - *nested*: parquet with one row per object (and band) whose time, magnitude and
      error columns hold lists, the schema of :func:`load_light_curves`;
    - *long*: parquet or CSV with one row per observation and an object id column.
      The rows of one object must be consecutive (the file sorted or grouped by object),
      since a batch is cut only between objects; an object whose rows are split raises
      an error naming it. An object split across the file's row groups or read chunks
      is regrouped.

    Each batch is validated by :func:`~sklearn_astromer.as_light_curves` (objects of a
    long table sorted by time, bad values reported with the light curve's position in
    the file and its id) and cleaned by :func:`drop_placeholder_times`.

    Parameters
    ----------
    path : str or path-like
        The file.
    batch_size : int or None, default=1024
        Most light curves per batch; None reads the whole file as one batch (the rows of
        an object in a long table may then be anywhere).
    columns : dict, default=None
        Column names overriding the defaults ``{"id": "object_id", "time": "mjd",
        "mag": "mag", "err": "mag_err"}``, for the keys to change. The err column is
        optional; the id column is required in a long table only.
    band : str or sequence of str, default=None
        Keep only the rows of these passbands (needs a ``band`` column); None keeps all.
        A long table is grouped by id alone, so give it one band or choose one here.
    format : {"auto", "parquet", "csv"}, default="auto"
        File format; ``"auto"`` goes by the file name's extension.
    drop_placeholders : bool, default=True
        Drop observations at placeholder times (before MJD 0) as
        :func:`drop_placeholder_times` does; a light curve left without observations is
        dropped with a warning. Give False for times relative to an epoch, which may be
        negative.

    Yields
    ------
    light_curves : LightCurves
        At most ``batch_size`` validated light curves, in file order (long tables: order
        of first appearance); ``ids`` are the object ids, or ``"obj0"``, ``"obj1"``, ...
        (positions in the file) when a nested file has no id column.
    y : ndarray of shape (len(light_curves),) or None
        Labels (str; object dtype with None where missing) from a ``label`` column, the
        first row's of each object in a long table; None when the file has no such
        column.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        On calling, if the file cannot be read or lacks a column; while iterating, if a
        light curve is invalid or the rows of an object are not consecutive. The message
        names the file and, where it applies, the light curve.

    See Also
    --------
    load_light_curves : read a nested parquet file whole, with class and length filters.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_astromer.datasets import iter_light_curves, make_light_curves
    >>> from sklearn_astromer.datasets import write_light_curves
    >>> X, y = make_light_curves(n_per_class=2, random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "synthetic.parquet")
    >>> write_light_curves(path, X, y)
    >>> for lc, labels in iter_light_curves(path, batch_size=5):
    ...     print(len(lc), lc.ids[0], labels[0])
    5 obj0 Cepheid
    5 obj5 RRab
    2 obj10 RRc
    """
    if batch_size is not None and (
        not isinstance(batch_size, numbers.Integral) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    source = _LightCurveFile(path, format=format, columns=columns, band=band)
    batches = source.batches(batch_size, drop_placeholders=drop_placeholders)
    return ((lc, extra.get("label")) for lc, extra, _ in batches)


def _file_format(path, format, hint):
    if format not in ("auto", "parquet", "csv"):
        raise ValueError(f"format must be 'auto', 'parquet' or 'csv', got {format!r}")
    if format != "auto":
        return format
    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes or ".pq" in suffixes:
        return "parquet"
    if ".csv" in suffixes:
        return "csv"
    raise ValueError(f"{path}: cannot tell the format from the file name; {hint}")


class _LightCurveFile:
    """A parquet or CSV file of light curves, read whole or in batches of whole objects.

    Parameters
    ----------
    path : str or path-like
    format : {"auto", "parquet", "csv"}
    columns : dict or None
        Column names overriding :data:`DEFAULT_COLUMNS`.
    band : str, sequence of str or None
        Keep only rows of these passbands.

    Attributes
    ----------
    nested : bool
        True for one row per object (list columns), False for one row per observation.
    n_objects : int or None
        Number of objects in the file when known without reading it (a nested parquet
        file read without band filter), else None.
    """

    #: How to name other columns or the format, in the caller's terms (the command
    #: line says --columns and --format instead).
    hints = {
        "columns": "Pass columns={'time': ..., 'mag': ..., 'err': ...} to name other columns",
        "id": "Pass columns={'id': ...} to name it",
        "format": "give format='parquet' or format='csv'",
    }

    def __init__(self, path, *, format="auto", columns=None, band=None):
        self.path = path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        self.format = _file_format(path, format, self.hints["format"])
        self.names = _column_names(columns)
        self.bands = None if band is None else [band] if isinstance(band, str) else list(band)
        self.nested = False
        self.n_objects = None
        if self.format == "parquet":
            try:
                self._parquet = pq.ParquetFile(path)
            except pa.ArrowException as exc:
                raise ValueError(f"{path}: not a readable parquet file ({exc})") from exc
            schema = self._parquet.schema_arrow
            self.available = list(schema.names)
            self._check_columns()
            kind = schema.field(self.names["time"]).type
            self.nested = pa.types.is_list(kind) or pa.types.is_large_list(kind)
            if self.nested and band is None:
                self.n_objects = self._parquet.metadata.num_rows
        else:
            import pandas as pd

            try:
                self.available = list(pd.read_csv(path, nrows=0).columns)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f"{path}: not a readable CSV file ({exc})") from exc
            self._check_columns()
        if not self.nested and self.names["id"] not in self.available:
            raise ValueError(
                f"{path}: a table with one row per observation needs an object id column "
                f"{self.names['id']!r}; it has {self.available}. {self.hints['id']}"
            )

    def _check_columns(self):
        wanted = [self.names[key] for key in ("time", "mag")]
        missing = [name for name in wanted if name not in self.available]
        if self.bands is not None and "band" not in self.available:
            missing.append("band")
        if missing:
            raise ValueError(
                f"{self.path}: missing column(s) {missing}; it has {self.available}. "
                f"{self.hints['columns']}"
            )

    def _wanted(self):
        keys = [self.names[key] for key in ("id", "time", "mag", "err")]
        extra = [name for name in ("label", "band") if name in self.available]
        return list(dict.fromkeys(name for name in keys + extra if name in self.available))

    def batches(self, batch_size, *, drop_placeholders=True, skipped=None):
        """Yield ``(light_curves, extra, n_read)`` for batches of whole objects.

        ``extra`` maps ``"label"`` and ``"band"`` (those the file has) to one text value
        per light curve; ``n_read`` counts the objects read for the batch, including
        those dropped by the cleaning rule. ``batch_size=None`` reads the file whole.

        With a list as ``skipped``, a light curve that fails validation is left out
        and ``(id, position, reason)`` appended to the list, instead of raising
        (errors in the file's structure still raise).
        """
        first = 0  # position in the file of the batch's first object
        for chunk in self._chunks(batch_size):
            with _named_file(self.path, first):
                if skipped is None:
                    lc, extra = self._convert(chunk, first)
                    n_read = len(lc)
                else:
                    lc, extra, n_read = self._convert_skipping(chunk, first, skipped)
            first += n_read
            if lc is None:
                continue
            if drop_placeholders:
                cleaned, kept = _drop_placeholders(lc)
                _warn_emptied(self.path, lc.ids, kept)
                lc, extra = cleaned, {name: values[kept] for name, values in extra.items()}
            if len(lc):
                yield lc, extra, n_read

    def _chunks(self, batch_size):
        """Tables (nested: arrow, long: pandas) of whole objects, in file order."""
        import pandas as pd

        if batch_size is None:
            if self.format == "csv":
                table = pd.read_csv(self.path, usecols=self._wanted(), dtype=self._dtypes())
            else:
                table = self._parquet.read(columns=self._wanted())
                table = table if self.nested else table.to_pandas()
            table = self._filter(table)
            if len(table):
                yield table
            return
        if self.nested:
            for batch in self._parquet.iter_batches(batch_size=batch_size, columns=self._wanted()):
                table = self._filter(pa.Table.from_batches([batch]))
                if len(table):
                    yield table
            return
        # Rows per read: room for batch_size curves of a few hundred observations.
        rows = max(1024, 256 * batch_size)
        if self.format == "parquet":
            chunks = (
                self._filter(batch.to_pandas())
                for batch in self._parquet.iter_batches(batch_size=rows, columns=self._wanted())
            )
        else:
            chunks = (
                self._filter(chunk)
                for chunk in pd.read_csv(
                    self.path, usecols=self._wanted(), dtype=self._dtypes(), chunksize=rows
                )
            )
        yield from _whole_objects(chunks, self.names["id"], batch_size, self.path)

    def _filter(self, table):
        """Rows of the chosen passbands (an arrow or pandas table)."""
        if self.bands is None:
            return table
        if isinstance(table, pa.Table):
            return table.filter(_isin(table, "band", self.bands, self.path, check_known=False))
        return table[table["band"].isin(self.bands)]

    def _dtypes(self):
        # Ids, labels and bands stay text: a chunk of numeric-looking ids must not turn
        # into integers while another holds strings.
        return {name: str for name in (self.names["id"], "label", "band") if name in self.available}

    def _convert_skipping(self, chunk, first, skipped):
        """:meth:`_convert` leaving out the light curves that fail validation.

        Returns ``(light_curves or None, extra, n_objects)``. A batch that fails is
        validated again object by object to find the culprits, which costs time on
        bad batches only.
        """
        import pandas as pd

        try:
            lc, extra = self._convert(chunk, first)
            return lc, extra, len(lc)
        except ValueError:
            pass
        id_column = self.names["id"]
        if self.nested:
            ids = _object_ids(chunk, id_column, first=first)
            if id_column not in chunk.column_names:
                # Keep the position-based ids of the whole batch for the survivors.
                chunk = chunk.append_column(id_column, pa.array(ids.astype(str).tolist()))
            pieces = [chunk.slice(k, 1) for k in range(len(chunk))]
        else:
            codes, ids = pd.factorize(chunk[id_column])  # objects by first appearance
            pieces = [chunk[codes == k] for k in range(len(ids))]
        good = []
        for k, piece in enumerate(pieces):
            try:
                self._convert(piece, first + k)
            except ValueError as exc:
                reason = re.sub(r"^light curve 0\b", f"light curve {first + k}", str(exc))
                skipped.append((ids[k], first + k, reason))
            else:
                good.append(k)
        if not good:
            return None, {}, len(pieces)
        rest = chunk.take(good) if self.nested else chunk[np.isin(codes, good)]
        lc, extra = self._convert(rest, first)
        return lc, extra, len(pieces)

    def _convert(self, chunk, first):
        """Validated light curves and per-object extra columns of one table."""
        if self.nested:
            ids = _object_ids(chunk, self.names["id"], first=first)
            lc = _validated(_from_lists(chunk, self.names, ids))
            rows = chunk
        else:
            lc = _as_light_curves(chunk, columns=self.names)
            # The funnel orders a long table's objects by first appearance.
            rows = chunk[~chunk[self.names["id"]].duplicated()]
        return lc, {name: _text(rows[name]) for name in ("label", "band") if name in self.available}


def _whole_objects(chunks, id_column, n_objects, path):
    """Regroup row chunks of a long table into DataFrames of ``n_objects`` whole objects.

    Every table but the last holds exactly ``n_objects`` objects. The last object of a
    chunk may continue in the next one, so its rows are held back until another object
    starts; memory holds at most one batch of objects and one chunk. The ids of
    finished objects are remembered (not their rows) so that an object whose rows are
    not consecutive raises a ValueError instead of being read twice as two partial
    light curves.
    """
    import pandas as pd

    finished = set()
    pending = []  # chunks not yet yielded: whole objects, then the open one
    n_pending = 0  # objects in pending, the open one included
    open_id, has_open = None, False
    for chunk in chunks:
        if not len(chunk):
            continue
        ids = chunk[id_column]
        missing = ids.isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"{path}: missing object id in column {id_column!r} (after "
                f"{len(finished)} complete objects)"
            )
        runs = ids.to_numpy()[ids.ne(ids.shift()).to_numpy()]  # ids of consecutive row runs
        if has_open and runs[0] == open_id:
            runs = runs[1:]  # the open object continues in this chunk
        if len(runs):
            if has_open:
                finished.add(open_id)
            index = pd.Index(runs)
            repeated = [i for i in runs if i in finished] + list(index[index.duplicated()])
            if repeated:
                raise ValueError(
                    f"{path}: the rows of object {repeated[0]!r} are not consecutive; "
                    f"sort the file by {id_column!r} (it is read in batches of whole "
                    "objects)"
                )
            finished.update(runs[:-1])
            open_id, has_open = runs[-1], True
            n_pending += len(runs)
        pending.append(chunk)
        if n_pending > n_objects:
            # Yield full batches of finished objects; the rest (fewer than n_objects
            # finished ones, then the open one) waits for the next chunk.
            frame = pd.concat(pending, ignore_index=True)
            n_full = (n_pending - 1) // n_objects * n_objects
            run = _object_runs(frame[id_column])
            done = run < n_full
            yield from _groups(frame[done], id_column, n_objects)
            pending, n_pending = [frame[~done]], n_pending - n_full
    if pending:
        yield from _groups(pd.concat(pending, ignore_index=True), id_column, n_objects)


def _object_runs(ids):
    """ndarray of shape (n_rows,): index of each row's object, counting runs of equal ids."""
    return ids.ne(ids.shift()).cumsum().to_numpy() - 1


def _groups(frame, id_column, n_objects):
    """Split a long table of whole objects into tables of ``n_objects`` objects."""
    group = _object_runs(frame[id_column]) // n_objects
    bounds = np.flatnonzero(np.diff(group)) + 1
    for rows in np.split(np.arange(len(frame)), bounds):
        yield frame.iloc[rows[0] : rows[-1] + 1]


def write_light_curves(path, X, y=None, *, ids=None, band=None):
    """Write light curves to a parquet file in the schema read by :func:`load_light_curves`.

    Times are written as float64 and magnitudes and errors as float32, as in the shared
    survey files; ``ra`` and ``dec`` are written as NaN.

    Parameters
    ----------
    path : str or path-like
        The parquet file to create (overwritten if it exists).
    X : list of ndarray, array-like, pandas.DataFrame or LightCurves
        Light curves in any form accepted by the estimators; times are written sorted.
    y : array-like of shape (n_objects,), default=None
        Labels, written as strings; None writes no ``label`` column.
    ids : array-like of shape (n_objects,), default=None
        Object ids, written as strings. None uses the DataFrame ids of ``X`` if it has
        them, else ``"obj0"``, ``"obj1"``, ...
    band : str or array-like of shape (n_objects,), default=None
        Passband written for every row, or of each row; None writes no ``band`` column.
        :func:`write_multiband_light_curves` writes several bands per object.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from sklearn_astromer.datasets import load_light_curves, write_light_curves
    >>> path = os.path.join(tempfile.mkdtemp(), "two.parquet")
    >>> X = [np.array([[0.0, 15.0, 0.1], [1.0, 15.5, 0.1]]), np.array([[0.5, 12.0, 0.02]])]
    >>> write_light_curves(path, X, ["EA", "EW"])
    >>> X2, y2, ids = load_light_curves(path, return_ids=True)
    >>> X2[1].tolist(), y2.tolist(), ids.tolist()
    ([[0.5, 12.0, 0.019999999552965164]], ['EA', 'EW'], ['obj0', 'obj1'])
    """
    lc = _as_light_curves(X)
    n = len(lc)
    if ids is None:
        ids = lc.ids if lc.ids is not None else [f"obj{k}" for k in range(n)]
    columns = {"object_id": _strings(ids, n, "ids")}
    if y is not None:
        columns["label"] = _strings(y, n, "y")
    if band is not None:
        columns["band"] = _strings([str(band)] * n if isinstance(band, str) else band, n, "band")
    columns["ra"] = pa.array(np.full(n, np.nan))
    columns["dec"] = pa.array(np.full(n, np.nan))

    if lc.offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError("too many observations for one parquet list column (over 2**31)")
    offsets = pa.array(lc.offsets.astype(np.int32))
    columns["mjd"] = pa.ListArray.from_arrays(offsets, pa.array(lc.time))
    columns["mag"] = pa.ListArray.from_arrays(offsets, pa.array(lc.mag.astype(np.float32)))
    if lc.err is not None:
        columns["mag_err"] = pa.ListArray.from_arrays(offsets, pa.array(lc.err.astype(np.float32)))
    pq.write_table(pa.table(columns), path)


def _strings(values, n, name):
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(f"{name} has shape {values.shape}, expected ({n},)")
    return pa.array([str(value) for value in values.tolist()], pa.string())


def write_multiband_light_curves(path, X, y=None, *, ids=None):
    """Write multi-band light curves to parquet, one row per object and band.

    The schema is the one of :func:`write_light_curves`, with a ``band`` column; objects
    keep their id in every band, and a band an object lacks has no row.

    Parameters
    ----------
    path : str or path-like
        The parquet file to create (overwritten if it exists).
    X : multi-band light curves
        Any form :func:`~sklearn_astromer.multiband.as_multiband_light_curves` accepts.
    y : array-like of shape (n_objects,), default=None
        Labels, written on every row of the object; None writes no ``label`` column.
    ids : array-like of shape (n_objects,), default=None
        Object ids. None uses the ids of ``X`` if it has them, else ``"obj0"``, ...

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_astromer.datasets import (
    ...     load_multiband_light_curves, make_multiband_light_curves,
    ...     write_multiband_light_curves)
    >>> X, y = make_multiband_light_curves(n_per_class=2, classes=["RRab"], random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "two_bands.parquet")
    >>> write_multiband_light_curves(path, X, y)
    >>> mb, y2 = load_multiband_light_curves(path)
    >>> mb, y2.tolist()
    (MultiBandLightCurves(n_objects=2, objects per band {B: 2, R: 2}), ['RRab', 'RRab'])
    """
    from .multiband import as_multiband_light_curves

    mb = as_multiband_light_curves(X)
    n = len(mb)
    if ids is None:
        ids = mb.ids if mb.ids is not None else [f"obj{k}" for k in range(n)]
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"ids has shape {ids.shape}, expected ({n},)")
    labels = None if y is None else np.asarray(y)
    if labels is not None and labels.shape != (n,):
        raise ValueError(f"y has shape {labels.shape}, expected ({n},)")
    rows = []  # (object, band, curve), object-major
    for band in mb.bands:
        lc = mb.light_curves[band]
        for k, position in enumerate(mb.positions[band]):
            time, mag, err = lc[k]
            curve = np.column_stack([time, mag] + ([] if err is None else [err]))
            rows.append((position, band, curve))
    rows.sort(key=lambda row: row[0])
    objects = [row[0] for row in rows]
    write_light_curves(
        path, [row[2] for row in rows], None if labels is None else labels[objects],
        ids=ids[objects], band=[row[1] for row in rows],
    )


def load_multiband_light_curves(path, *, bands=None, classes=None, min_obs=1):
    """Read a parquet file of several bands per object (one row per object and band).

    Each band is read by :func:`load_light_curves` (with its cleaning rule), and the rows
    of one ``object_id`` in different bands become one object.

    Parameters
    ----------
    path : str or path-like
        Parquet file of the schema of :func:`load_light_curves`, with a ``band`` column.
    bands : str or sequence of str, default=None
        Bands to read, in this order; None reads every band of the file, sorted.
    classes : str or sequence of str, default=None
        Keep only objects with these labels.
    min_obs : int, default=1
        A band with fewer observations counts as missing for that object.

    Returns
    -------
    X : MultiBandLightCurves
        Objects in order of first appearance in the file, with their ids.
    y : ndarray of shape (n_objects,) or None
        Labels (str), or None when the file has no ``label`` column.

    Raises
    ------
    ValueError
        If the file has no ``band`` column, a requested band is absent, or one object has
        different labels in different bands.
    """
    import pandas as pd

    from .multiband import MultiBandLightCurves, _band_list

    parquet = pq.ParquetFile(path)
    if "band" not in parquet.schema_arrow.names:
        raise ValueError(f"{path}: no 'band' column; read a single-band file with load_light_curves")
    meta = parquet.read(columns=[c for c in ("object_id", "band") if c in parquet.schema_arrow.names])
    available = sorted(set(meta["band"].to_pylist()) - {None})
    bands = available if bands is None else _band_list(bands)
    unknown = [band for band in bands if band not in available]
    if unknown:
        raise ValueError(f"{path}: no band(s) {unknown}; the file has {available}")
    per_band = {}
    for band in bands:
        lc, labels, ids = load_light_curves(
            path, classes=classes, band=band, min_obs=min_obs, return_ids=True,
            as_light_curves=True,
        )
        per_band[band] = (lc, labels, np.asarray(ids).astype(str))
    all_ids = pd.unique(np.concatenate([ids for _, _, ids in per_band.values()]))
    index = pd.Index(all_ids)
    y = None
    light_curves, positions = {}, {}
    for band, (lc, labels, ids) in per_band.items():
        if pd.Index(ids).duplicated().any():
            repeated = ids[pd.Index(ids).duplicated()][0]
            raise ValueError(
                f"{path}: object {str(repeated)!r} has several rows in band {band!r}"
            )
        where = index.get_indexer(ids)
        order = np.argsort(where, kind="stable")
        light_curves[band], positions[band] = lc.subset(order), where[order]
        if labels is not None:
            if y is None:
                y = np.full(len(all_ids), None, dtype=object)
            known = np.array([value is not None for value in y[where]])
            clash = known & (y[where] != labels)
            if clash.any():
                k = int(np.argmax(clash))
                raise ValueError(
                    f"{path}: object {str(ids[k])!r} is labelled {str(y[where][k])!r} and "
                    f"{str(labels[k])!r} in different bands"
                )
            y[where] = labels
    present = [band for band in bands if len(light_curves[band])]
    mb = MultiBandLightCurves(
        tuple(present), {b: light_curves[b] for b in present}, {b: positions[b] for b in present},
        len(all_ids), np.asarray(all_ids, dtype=object),
    )
    return mb, (None if y is None else y.astype(str))
