"""Hand-crafted light-curve features: the baseline the Astromer embeddings must beat.

The features come from the `light-curve` package (statistics of the magnitude distribution,
variability indices, a Lomb-Scargle periodogram and features of the curve folded at its highest
peak), completed by a Fourier decomposition of the folded curve computed here with numpy.

Three properties of real survey data are handled on purpose:

* **Duplicated times.** Several light-curve features need strictly increasing times. Observations
  sharing a time stamp are merged into one, with the inverse-variance weighted mean magnitude and
  the error of that mean (``1 / sqrt(sum(1 / err**2))``). Unlike dropping all but one, this keeps
  the information of every exposure.
* **Sparse sampling.** The periodogram's default grid stops at an "average Nyquist" frequency of
  ``pi * n / duration``, i.e. near 10-20 day periods for ~300 observations over 8 years. Short
  period variables need far shorter periods (RR Lyrae and contact binaries ~0.2-0.8 d, and most
  CRTS HADS under 0.1 d), so the grid is set explicitly: linear from 0 to ``max_frequency``
  cycles/day (20 by default, periods down to 0.05 d) with ``2**grid_log2`` steps (with the
  defaults a step of 7.6e-5 cycles/day, about a quarter of the width of a peak over a 3,000-day
  baseline).
* **Daily aliases.** Observed about once a night, a period ``P`` has aliases at frequencies
  ``1/P +- 1`` cycles/day with nearly the same Lomb-Scargle power. Among the top ``n_peaks``
  peaks, the Fourier features use the period whose folded curve a 4-harmonic series fits best
  (see :func:`best_fourier_period`).

Features are cached per light curve, keyed by a hash of its arrays and of the feature
configuration, so that the draws of the few-shot protocol, which reuse the same objects many
times, extract each object only once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import ClassVar

import light_curve as lc
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

# Bump when the preprocessing or the feature list changes, so that old cache entries are ignored.
FEATURES_VERSION = "2"

# Light curves shorter than this get NaN features: with fewer points the periodogram, the
# Fourier fit and the higher moments are meaningless.
MIN_OBSERVATIONS = 8

_FOURIER_NAMES_BEST = [
    "fourier_period",
    "fourier_amplitude",
    "fourier_r21",
    "fourier_r31",
    "fourier_cos_phi21",
    "fourier_sin_phi21",
    "fourier_cos_phi31",
    "fourier_sin_phi31",
    "fourier_explained_variance",
    "fourier_rise_fraction",
]
_FOURIER_NAMES_DOUBLE = [
    "fourier_2p_amplitude",
    "fourier_2p_explained_variance",
    "fourier_2p_odd_power_fraction",
    "fourier_2p_minima_depth_ratio",
]


def clean_light_curve(lc_array):
    """Return sorted, finite, strictly increasing ``(t, m, err)`` arrays for light-curve.

    Parameters
    ----------
    lc_array : array-like of shape (n_observations, 3)
        Columns are time (days), magnitude and magnitude error.

    Returns
    -------
    t, m, err : ndarray of shape (n_clean,), float64
        Observations with a non-finite time or magnitude are dropped; non-finite or
        non-positive errors are replaced by the median of the valid ones (by 1 when none is
        valid), since inverse-variance weights need them; duplicated times are merged with
        inverse-variance weights.
    """
    arr = np.asarray(lc_array, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(
            f"a light curve must be an array of shape (n, 3) (time, mag, err), got {arr.shape}"
        )
    arr = arr[np.isfinite(arr[:, 0]) & np.isfinite(arr[:, 1])]
    t, m, err = arr[:, 0], arr[:, 1], arr[:, 2].copy()
    valid_err = np.isfinite(err) & (err > 0)
    if not valid_err.all():
        err[~valid_err] = np.median(err[valid_err]) if valid_err.any() else 1.0
    order = np.argsort(t, kind="stable")
    t, m, err = t[order], m[order], err[order]
    if t.size > 1 and np.any(np.diff(t) == 0):
        t, m, err = _merge_duplicate_times(t, m, err)
    return t, m, err


def _merge_duplicate_times(t, m, err):
    """Merge observations with equal times by inverse-variance weighting (``t`` is sorted)."""
    t_unique, inverse = np.unique(t, return_inverse=True)
    weight = 1.0 / err**2
    weight_sum = np.bincount(inverse, weights=weight)
    m_mean = np.bincount(inverse, weights=weight * m) / weight_sum
    return t_unique, m_mean, 1.0 / np.sqrt(weight_sum)


def _magnitude_features():
    """Features of the magnitude distribution and of the time series as observed."""
    return [
        lc.Amplitude(),
        lc.AndersonDarlingNormal(),
        lc.BeyondNStd(1.0),
        lc.BeyondNStd(2.0),
        lc.Cusum(),
        lc.Eta(),
        lc.EtaE(),
        lc.ExcessVariance(),
        lc.InterPercentileRange(0.02),
        lc.InterPercentileRange(0.1),
        lc.InterPercentileRange(0.25),
        lc.Kurtosis(),
        lc.LinearFit(),
        lc.LinearTrend(),
        lc.MagnitudePercentageRatio(0.4, 0.05),
        lc.MagnitudePercentageRatio(0.2, 0.1),
        lc.MedianAbsoluteDeviation(),
        lc.MedianBufferRangePercentage(0.1),
        lc.MedianBufferRangePercentage(0.2),
        lc.OtsuSplit(),
        lc.PercentAmplitude(),
        lc.PercentDifferenceMagnitudePercentile(0.05),
        lc.PercentDifferenceMagnitudePercentile(0.1),
        lc.ReducedChi2(),
        lc.Roms(),
        lc.Skew(),
        lc.StandardDeviation(),
        lc.StetsonK(),
    ]


def _phase_features():
    """Order-dependent features, computed by light-curve on the curve folded at its top peak.

    Statistics of the magnitude distribution are the same folded or not, so only features
    that depend on the order of the observations are repeated here: on a folded curve they
    measure how smooth (how truly periodic) the curve is at the best period.
    """
    return [
        lc.Eta(),
        lc.LaflerKinmanStringLength(),
        lc.Cusum(),
        lc.LinearTrend(),
    ]


def build_extractor(n_peaks=5, max_frequency=20.0, grid_log2=18):
    """Build the light-curve extractor: magnitude features plus the periodogram block.

    Parameters
    ----------
    n_peaks : int, default=5
        Number of periodogram peaks whose period and significance are returned.
    max_frequency : float, default=20.0
        Highest frequency of the grid in cycles per day (shortest period ``1 / max_frequency``).
    grid_log2 : int, default=18
        The grid has ``2**grid_log2 + 1`` frequencies from 0 to ``max_frequency`` (the fast
        periodogram only accepts such grids).

    Returns
    -------
    extractor : light_curve.Extractor
    """
    # light-curve expects angular frequencies (radians per day).
    freqs = np.linspace(0.0, 2.0 * np.pi * max_frequency, 2**grid_log2 + 1)
    periodogram = lc.Periodogram(
        peaks=n_peaks,
        freqs=freqs,
        fast=True,
        phase_features=_phase_features(),
    )
    return lc.Extractor(*_magnitude_features(), periodogram)


def _fourier_fit(phase, m, weight, n_harmonics):
    """Weighted least-squares fit of ``m`` by a Fourier series in ``phase`` (cycles).

    Returns the amplitudes ``A_k`` and phases ``phi_k`` of ``m = A_0 + sum A_k sin(2 pi k phase
    + phi_k)``, the fraction of the weighted variance explained, and a callable model.
    """
    k = np.arange(1, n_harmonics + 1)
    angle = 2.0 * np.pi * np.outer(phase, k)
    design = np.hstack([np.ones((phase.size, 1)), np.sin(angle), np.cos(angle)])
    sqrt_w = np.sqrt(weight)
    coef, *_ = np.linalg.lstsq(design * sqrt_w[:, None], m * sqrt_w, rcond=None)
    a, b = coef[1 : n_harmonics + 1], coef[n_harmonics + 1 :]
    residual = m - design @ coef
    m_mean = np.average(m, weights=weight)
    total = np.sum(weight * (m - m_mean) ** 2)
    explained = 1.0 - np.sum(weight * residual**2) / total if total > 0 else np.nan

    def model(grid):
        grid_angle = 2.0 * np.pi * np.outer(grid, k)
        return coef[0] + np.sin(grid_angle) @ a + np.cos(grid_angle) @ b

    return np.hypot(a, b), np.arctan2(b, a), explained, model


def fourier_features(t, m, err, period, n_harmonics=4):
    """Fourier decomposition of the curve folded at ``period`` and at ``2 * period``.

    The first set (at ``period``) gives the classic RR Lyrae / Cepheid descriptors:
    amplitude ratios ``R21``, ``R31``, phase differences ``phi21``, ``phi31`` (as cosine and sine
    since they are angles), the variance explained and the rise fraction (part of the cycle spent
    brightening). The second set folds at twice the period: the Lomb-Scargle peak of an
    eclipsing binary with two similar eclipses sits at half its orbital period, and the power in
    the odd harmonics at ``2 * period`` (and the ratio of the two minima depths) measures how
    different the two halves are.

    Parameters
    ----------
    t, m, err : ndarray of shape (n,)
        Clean light curve (see :func:`clean_light_curve`).
    period : float
        Period in days; NaN or non-positive gives NaN features.
    n_harmonics : int, default=4
        Harmonics fitted at each period.

    Returns
    -------
    features : ndarray of shape (14,)
        In the order of ``FOURIER_FEATURE_NAMES``.
    """
    n_features = len(_FOURIER_NAMES_BEST) + len(_FOURIER_NAMES_DOUBLE)
    if not np.isfinite(period) or period <= 0 or t.size < 2 * (2 * n_harmonics + 1):
        return np.full(n_features, np.nan)
    weight = 1.0 / err**2
    # Subtracting the first time keeps the phase accurate: t / period with MJD ~ 5e4 and
    # periods ~0.3 d would lose digits needed over thousands of cycles.
    elapsed = t - t[0]
    grid = np.linspace(0.0, 1.0, 400, endpoint=False)

    amp, phi, explained, model = _fourier_fit((elapsed / period) % 1.0, m, weight, n_harmonics)
    curve = model(grid)
    faintest, brightest = grid[np.argmax(curve)], grid[np.argmin(curve)]
    phi21 = phi[1] - 2.0 * phi[0]
    phi31 = phi[2] - 3.0 * phi[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        best = [
            period,
            np.ptp(curve),
            amp[1] / amp[0],
            amp[2] / amp[0],
            np.cos(phi21),
            np.sin(phi21),
            np.cos(phi31),
            np.sin(phi31),
            explained,
            (brightest - faintest) % 1.0,
        ]

    amp2, _, explained2, model2 = _fourier_fit(
        (elapsed / (2.0 * period)) % 1.0, m, weight, n_harmonics
    )
    curve2 = model2(grid)
    power = amp2**2
    with np.errstate(divide="ignore", invalid="ignore"):
        double = [
            np.ptp(curve2),
            explained2,
            power[0::2].sum() / power.sum(),
            _minima_depth_ratio(curve2),
        ]
    return np.asarray(best + double, dtype=np.float64)


def best_fourier_period(t, m, err, periods, n_harmonics=4):
    """The candidate period whose folded curve a Fourier series fits best.

    Sampling once a night makes the 1-day aliases of a period (``|1/P +- 1|``) almost as high
    in the Lomb-Scargle periodogram as the true peak. A sinusoid fits the true period and its
    aliases about equally, but a non-sinusoidal shape (RR Lyrae, eclipses) folds cleanly only
    at the true period, so the multi-harmonic fit separates them better than the peak height.

    Parameters
    ----------
    t, m, err : ndarray of shape (n,)
        Clean light curve.
    periods : ndarray of shape (n_candidates,)
        Candidate periods (days), e.g. the periodogram peaks; non-finite ones are skipped.
    n_harmonics : int, default=4

    Returns
    -------
    period : float
        NaN when no candidate is usable.
    """
    candidates = [p for p in np.asarray(periods, dtype=np.float64) if np.isfinite(p) and p > 0]
    if not candidates or t.size < 2 * n_harmonics + 2:
        return np.nan
    weight = 1.0 / err**2
    elapsed = t - t[0]
    scores = [
        _fourier_fit((elapsed / p) % 1.0, m, weight, n_harmonics)[2] for p in candidates
    ]
    if not np.any(np.isfinite(scores)):
        return candidates[0]
    return candidates[int(np.nanargmax(scores))]


def _minima_depth_ratio(curve):
    """Depth of the shallower of the two half-cycle minima over the deeper one.

    ``curve`` covers two cycles of the best period; in magnitudes a minimum of brightness is a
    maximum of the curve. Close to 1 for equal eclipses or a pulsator folded at twice its period.
    """
    half = curve.size // 2
    level = np.median(curve)
    depths = np.array([curve[:half].max(), curve[half:].max()]) - level
    if depths.max() <= 0:
        return np.nan
    return depths.min() / depths.max()


FOURIER_FEATURE_NAMES = _FOURIER_NAMES_BEST + _FOURIER_NAMES_DOUBLE


def _hash_light_curve(lc_array):
    """Content hash of one input light curve (its float64 values and shape)."""
    arr = np.ascontiguousarray(lc_array, dtype=np.float64)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(arr.shape).encode())
    digest.update(arr.tobytes())
    return digest.hexdigest()


class _FeatureCache:
    """Per-light-curve feature rows stored as ``.npz`` shards in one directory per config.

    Each call that computes new rows writes one new shard with a unique name, so concurrent
    processes never write the same file; readers load every shard they have not seen yet.
    """

    # Shared by all instances: rows already read in this process, per cache directory.
    _memory: ClassVar[dict[Path, tuple[set[str], dict[str, np.ndarray]]]] = {}

    def __init__(self, directory):
        self.directory = Path(directory)

    def _rows(self):
        seen, rows = self._memory.setdefault(self.directory, (set(), {}))
        if self.directory.is_dir():
            for shard in sorted(self.directory.glob("shard-*.npz")):
                if shard.name in seen:
                    continue
                with np.load(shard) as data:
                    rows.update(zip(data["keys"].astype(str), data["values"]))
                seen.add(shard.name)
        return rows

    def get(self, keys):
        """Return ``{key: row}`` for the keys already cached."""
        rows = self._rows()
        return {key: rows[key] for key in keys if key in rows}

    def put(self, keys, values):
        """Store rows for ``keys`` (``values`` of shape (len(keys), n_features))."""
        if not keys:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"shard-{uuid.uuid4().hex}.npz"
        tmp = self.directory / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=np.asarray(keys), values=np.asarray(values, dtype=np.float64))
        # Rename is atomic: readers never see a half-written shard.
        tmp.replace(self.directory / name)
        seen, rows = self._memory.setdefault(self.directory, (set(), {}))
        rows.update(zip(keys, values))
        seen.add(name)


class LightCurveFeatures(TransformerMixin, BaseEstimator):
    """Hand-crafted features of light curves, as a scikit-learn transformer.

    Parameters
    ----------
    n_peaks : int, default=5
        Number of Lomb-Scargle peaks (period and signal-to-noise of each); they are also the
        candidate periods of the Fourier features.
    max_frequency : float, default=20.0
        Highest periodogram frequency in cycles per day (shortest period 0.05 d by default).
    grid_log2 : int, default=18
        Periodogram grid of ``2**grid_log2 + 1`` frequencies from 0 to ``max_frequency``.
    n_harmonics : int, default=4
        Harmonics of the Fourier decomposition of the folded curve.
    n_jobs : int or None, default=None
        Threads used by light-curve's batched extraction; None or -1 means all cores.
    cache_dir : str or Path or None, default=None
        Where features are cached per light curve (keyed by content and configuration).
        None disables caching.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        Names of the output features.

    Notes
    -----
    Input light curves are cleaned by :func:`clean_light_curve` (non-finite values dropped,
    duplicated times merged with inverse-variance weights). Curves with fewer than
    ``MIN_OBSERVATIONS`` clean observations, and features that are undefined for a curve, are
    NaN: put an imputer after this transformer.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = np.sort(rng.uniform(0, 1000, 300))
    >>> curve = np.column_stack([t, 15 + 0.3 * np.sin(2 * np.pi * t / 0.55), np.full(300, 0.02)])
    >>> features = LightCurveFeatures(n_jobs=1).fit_transform([curve])
    >>> period = features[0, list(LightCurveFeatures().get_feature_names_out()).index(
    ...     "periodogram_period_0")]
    >>> round(float(period), 3)
    0.55
    """

    def __init__(
        self, n_peaks=5, max_frequency=20.0, grid_log2=18, n_harmonics=4, n_jobs=None,
        cache_dir=None,
    ):
        self.n_peaks = n_peaks
        self.max_frequency = max_frequency
        self.grid_log2 = grid_log2
        self.n_harmonics = n_harmonics
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir

    def _extractor(self):
        return build_extractor(self.n_peaks, self.max_frequency, self.grid_log2)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : ignored
            Present for API consistency.

        Returns
        -------
        names : ndarray of str
        """
        return np.asarray(list(self._extractor().names) + FOURIER_FEATURE_NAMES, dtype=object)

    def fit(self, X, y=None):
        """Check the input; the features have no fitted state.

        Parameters
        ----------
        X : list of array-like of shape (n_observations_i, 3)
            Light curves (time, magnitude, error).
        y : ignored

        Returns
        -------
        self : LightCurveFeatures
        """
        _check_light_curves(X)
        self.feature_names_out_ = self.get_feature_names_out()
        return self

    def transform(self, X):
        """Compute the features of each light curve.

        Parameters
        ----------
        X : list of array-like of shape (n_observations_i, 3)
            Light curves (time, magnitude, error).

        Returns
        -------
        features : ndarray of shape (n_curves, n_features)
            Float64; NaN where a feature is undefined. Infinite values are turned into NaN.
        """
        curves = _check_light_curves(X)
        keys = [_hash_light_curve(curve) for curve in curves]
        cache = None
        if self.cache_dir is not None:
            cache = _FeatureCache(Path(self.cache_dir) / "lcfeatures" / self._config_hash())
        known = cache.get(keys) if cache is not None else {}
        missing = [i for i, key in enumerate(keys) if key not in known]
        if missing:
            computed = self._compute([curves[i] for i in missing])
            new = dict(zip((keys[i] for i in missing), computed))
            if cache is not None:
                cache.put(list(new), list(new.values()))
            known = {**known, **new}
        n_features = len(self.get_feature_names_out())
        out = np.empty((len(curves), n_features))
        for i, key in enumerate(keys):
            out[i] = known[key]
        out[~np.isfinite(out)] = np.nan
        return out

    def _config_hash(self):
        """Hash of everything that changes the feature values (not ``n_jobs``/``cache_dir``)."""
        config = {
            "version": FEATURES_VERSION,
            "light_curve": lc.__version__,
            "n_peaks": self.n_peaks,
            "max_frequency": float(self.max_frequency),
            "grid_log2": self.grid_log2,
            "n_harmonics": self.n_harmonics,
        }
        blob = json.dumps(config, sort_keys=True).encode()
        return hashlib.blake2b(blob, digest_size=8).hexdigest()

    def _compute(self, curves):
        """Features of ``curves`` without the cache."""
        extractor = self._extractor()
        n_lc_features = len(extractor.names)
        cleaned = [clean_light_curve(curve) for curve in curves]
        usable = [i for i, (t, _, _) in enumerate(cleaned) if t.size >= MIN_OBSERVATIONS]
        out = np.full((len(curves), n_lc_features + len(FOURIER_FEATURE_NAMES)), np.nan)
        if not usable:
            return out
        n_jobs = -1 if self.n_jobs is None else self.n_jobs
        out[usable, :n_lc_features] = extractor.many(
            [cleaned[i] for i in usable], fill_value=np.nan, sorted=True, n_jobs=n_jobs
        )
        period_columns = [
            list(extractor.names).index(f"periodogram_period_{k}") for k in range(self.n_peaks)
        ]
        for i in usable:
            t, m, err = cleaned[i]
            period = best_fourier_period(t, m, err, out[i, period_columns], self.n_harmonics)
            out[i, n_lc_features:] = fourier_features(t, m, err, period, self.n_harmonics)
        return out


def _check_light_curves(X):
    """Return ``X`` as a list of float64 arrays of shape (n, 3), with a clear error otherwise."""
    if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 3:
        X = list(X)
    if not isinstance(X, (list, tuple, np.ndarray)):
        raise TypeError(
            f"expected a list of (n_observations, 3) arrays, got {type(X).__name__}"
        )
    curves = []
    for i, curve in enumerate(X):
        arr = np.asarray(curve, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise ValueError(
                f"light curve {i} has shape {arr.shape}; expected (n_observations, 3) with "
                "columns time, magnitude, error"
            )
        curves.append(arr)
    return curves
