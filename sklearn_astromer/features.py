"""Hand-crafted light-curve features, phase folding, and the features + embedding hybrid.

On variable stars observed about once a night, a random forest on hand-crafted features
(variability statistics, a periodogram, the shape of the folded curve) is the baseline that
embeddings must beat; the few-shot benchmark (``benchmarks/README.md``) finds that the best
pipeline puts a reduced Astromer embedding next to these features. This module holds:

* :class:`LightCurveFeatures`: features from the `light-curve
  <https://github.com/light-curve/light-curve-python>`_ package (statistics of the magnitudes,
  variability indices, a Lomb-Scargle periodogram that reaches sub-day periods, features of
  the curve folded at its highest peak) and a Fourier decomposition of the folded curve at an
  alias-aware period;
* :class:`PhaseFolded` and :func:`fold_light_curve`: light curves folded at their period, so
  that an encoder sees one cycle of the variability instead of years of sparse sampling;
* :func:`make_hybrid_pipeline`: features next to a reduced embedding, then a random forest.

``light-curve`` is an optional dependency: ``pip install "sklearn-astromer[features]"``.

Three properties of real survey data are handled on purpose:

* **Duplicated times.** Several light-curve features need strictly increasing times.
  Observations sharing a time stamp are merged into one, with the inverse-variance weighted
  mean magnitude and the error of that mean (``1 / sqrt(sum(1 / err**2))``), which keeps the
  information of every exposure.
* **Each survey's own sampling.** The periodogram's default grid in light-curve stops at an
  "average Nyquist" frequency of ``pi * n / duration``, i.e. near 10-20 day periods for ~300
  observations over 8 years, while short-period variables need far shorter periods (RR Lyrae
  and contact binaries ~0.2-0.8 d, most HADS under 0.1 d). A grid fixed for one survey does
  not fit another either: too coarse for a long baseline, or reaching frequencies that a
  sparse cadence cannot constrain and that only add false peaks. So by default each light
  curve gets its own grid (:func:`frequency_grid`): the highest frequency comes from its
  cadence (``1 / (2 dt)`` for the shortest intervals ``dt`` it routinely takes, kept between
  10 cycles/day, the reach every irregular survey has on RR Lyrae and contact binaries, and
  20 cycles/day, periods of 0.05 d, which only intra-night repeats such as CRTS's visits of
  four exposures constrain), and the step from its baseline (a fraction of a peak's width,
  ``1 / baseline``).
* **Daily aliases.** Observed about once a night, a period ``P`` has aliases at frequencies
  ``1/P +- 1`` cycles/day with nearly the same Lomb-Scargle power. Among the top ``n_peaks``
  peaks, the Fourier features use the period whose folded curve a multi-harmonic series fits
  best.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from ._lightcurves import LightCurves, check_light_curves

__all__ = [
    "FOURIER_FEATURE_NAMES",
    "FREQUENCY_BOUNDS",
    "MIN_OBSERVATIONS",
    "LightCurveFeatures",
    "PhaseFolded",
    "fold_light_curve",
    "frequency_grid",
    "make_hybrid_pipeline",
]

#: Light curves with fewer clean observations get NaN features: with fewer points the
#: periodogram, the Fourier fit and the higher moments are meaningless.
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
#: Names of the Fourier features, the last columns of :class:`LightCurveFeatures`.
FOURIER_FEATURE_NAMES = _FOURIER_NAMES_BEST + _FOURIER_NAMES_DOUBLE


def _light_curve_package():
    """The ``light_curve`` module, or an ImportError saying how to install it."""
    try:
        import light_curve
    except ImportError as exc:
        raise ImportError(
            "sklearn_astromer.features needs the light-curve package: "
            'pip install "sklearn-astromer[features]"'
        ) from exc
    return light_curve


# --------------------------------------------------------------------------- one light curve


def _clean(time, mag, err):
    """Strictly increasing ``(t, m, err)`` float64 arrays of one light curve.

    ``time`` is sorted and finite (the input funnel guarantees it). Zero errors (allowed by
    the funnel) are replaced by the median of the positive ones, by 1 when none is positive,
    since inverse-variance weights need them; ``err=None`` means equal weights. Duplicated
    times are merged with inverse-variance weights.
    """
    t = np.asarray(time, dtype=np.float64)
    m = np.asarray(mag, dtype=np.float64)
    if err is None:
        err = np.ones_like(t)
    else:
        err = np.array(err, dtype=np.float64)  # a copy: filled in place below
        valid = np.isfinite(err) & (err > 0)
        if not valid.all():
            err[~valid] = np.median(err[valid]) if valid.any() else 1.0
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


def _magnitude_features(lc):
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


def _phase_features(lc):
    """Order-dependent features, computed by light-curve on the curve folded at its top peak.

    Statistics of the magnitude distribution are the same folded or not, so only features
    that depend on the order of the observations are repeated: on a folded curve they
    measure how smooth (how truly periodic) the curve is at the best period.
    """
    return [lc.Eta(), lc.LaflerKinmanStringLength(), lc.Cusum(), lc.LinearTrend()]


#: Bounds of the automatic highest frequency (cycles/day), see :func:`frequency_grid`.
FREQUENCY_BOUNDS = (10.0, 20.0)


def frequency_grid(
    time, *, max_frequency="auto", grid_log2="auto", frequency_bounds=FREQUENCY_BOUNDS,
    oversampling=5.0, interval_quantile=0.1,
):
    """The periodogram grid of one light curve: highest frequency and ``log2`` of its size.

    light-curve's fast periodogram takes linear grids of ``2**grid_log2 + 1`` frequencies from
    0 to ``max_frequency``; this chooses both from the light curve's own sampling when they
    are ``"auto"``.

    * **Highest frequency, from the cadence.** ``1 / (2 dt)`` cycles/day, ``dt`` the
      ``interval_quantile`` quantile of the intervals between consecutive distinct times
      (the shortest intervals the survey routinely takes), clipped to ``frequency_bounds``
      and rounded up to a whole number of cycles/day. Irregular nightly sampling reaches
      far beyond its ``1 / (2 dt)``, so the lower bound (10 cycles/day, periods of 0.1 d)
      keeps RR Lyrae and contact binaries in reach on any survey; the upper bound (20,
      periods of 0.05 d) is reached only by curves with intra-night repeats (a CRTS visit of
      four exposures 10 minutes apart), the only ones whose shortest periods are not lost
      among as many aliases.
    * **Resolution, from the baseline.** The step is at most ``1 / (oversampling *
      baseline)``: a peak's width is ``1 / baseline``, so ``oversampling`` grid points per
      width find every peak's top. The size is the next power of two.

    Parameters
    ----------
    time : ndarray of shape (n_observations,)
        Sorted observation times in days (at least 2 distinct ones for ``"auto"``).
    max_frequency : float or "auto", default="auto"
        Highest frequency in cycles/day, or ``"auto"`` (from the cadence, as above).
    grid_log2 : int or "auto", default="auto"
        ``log2`` of the number of frequency steps, or ``"auto"`` (from the baseline).
    frequency_bounds : tuple of (float, float), default=(10.0, 20.0)
        Bounds of the automatic highest frequency, in cycles/day.
    oversampling : float, default=5.0
        Grid points per peak width for the automatic size.
    interval_quantile : float, default=0.1
        Quantile of the intervals between consecutive times that sets the cadence.

    Returns
    -------
    max_frequency : float
        Cycles/day.
    grid_log2 : int
        The grid has ``2**grid_log2 + 1`` frequencies (between 8 and 22 when automatic).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_astromer.features import frequency_grid
    >>> nightly = np.arange(0.0, 900.0, 7.5)  # one observation a week over 900 days
    >>> frequency_grid(nightly)
    (10.0, 16)
    >>> visits = np.sort(np.concatenate([nightly + k * 0.007 for k in range(4)]))
    >>> frequency_grid(visits)  # visits of 4 exposures 10 minutes apart
    (20.0, 17)
    """
    t = np.unique(np.asarray(time, dtype=np.float64))
    if max_frequency == "auto":
        low, high = frequency_bounds
        intervals = np.diff(t)
        if intervals.size:
            reach = 0.5 / max(np.quantile(intervals, interval_quantile), 1e-12)
            max_frequency = float(np.ceil(min(max(reach, low), high)))
        else:
            max_frequency = float(high)
    if grid_log2 == "auto":
        baseline = t[-1] - t[0] if t.size > 1 else 1.0
        steps = max(max_frequency * oversampling * max(baseline, 1.0), 2.0)
        grid_log2 = int(np.clip(np.ceil(np.log2(steps)), 8, 22))
    return float(max_frequency), int(grid_log2)


def _extractor(n_peaks, max_frequency, grid_log2):
    """The light-curve extractor: magnitude features, then the periodogram block."""
    lc = _light_curve_package()
    # light-curve takes angular frequencies (radians per day); its fast (FFT) periodogram
    # only accepts linear grids of 2**k + 1 frequencies starting at 0.
    freqs = np.linspace(0.0, 2.0 * np.pi * max_frequency, 2**grid_log2 + 1)
    periodogram = lc.Periodogram(
        peaks=n_peaks, freqs=freqs, fast=True, phase_features=_phase_features(lc)
    )
    return lc.Extractor(*_magnitude_features(lc), periodogram)


def _fourier_fit(phase, m, weight, n_harmonics):
    """Weighted least-squares fit of ``m`` by a Fourier series in ``phase`` (cycles).

    Returns the amplitudes ``A_k`` and phases ``phi_k`` (each of shape (n_harmonics,)) of
    ``m = A_0 + sum_k A_k sin(2 pi k phase + phi_k)``, the fraction of the weighted variance
    explained, and the fitted series as a callable of the phase.
    """
    k = np.arange(1, n_harmonics + 1)
    angle = 2.0 * np.pi * np.outer(phase, k)  # (n, n_harmonics)
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


def _fourier_features(t, m, err, period, n_harmonics):
    """Fourier decomposition of the curve folded at ``period`` and at ``2 * period``.

    The first set (at ``period``) gives the classic RR Lyrae / Cepheid descriptors: amplitude
    ratios ``R21``, ``R31``, phase differences ``phi21``, ``phi31`` (as cosine and sine, since
    they are angles), the variance explained and the rise fraction (part of the cycle spent
    brightening). The second set folds at twice the period: the Lomb-Scargle peak of an
    eclipsing binary with two similar eclipses sits at half its orbital period, and the power
    in the odd harmonics at ``2 * period`` (and the ratio of the two minima depths) measures
    how different the two halves are.

    Returns an array of shape (14,) in the order of :data:`FOURIER_FEATURE_NAMES`; NaN when
    the period is undefined or the curve too short for the fit.
    """
    if not np.isfinite(period) or period <= 0 or t.size < 2 * (2 * n_harmonics + 1):
        return np.full(len(FOURIER_FEATURE_NAMES), np.nan)
    weight = 1.0 / err**2
    # Subtracting the first time keeps the phase accurate: t / period with MJD ~ 5e4 and
    # periods ~0.3 d would lose digits needed over thousands of cycles.
    elapsed = t - t[0]
    grid = np.linspace(0.0, 1.0, 400, endpoint=False)

    amp, phi, explained, model = _fourier_fit((elapsed / period) % 1.0, m, weight, n_harmonics)
    curve = model(grid)
    # Magnitudes: the faintest phase is the curve's maximum.
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


def _best_fourier_period(t, m, err, periods, n_harmonics, step=None):
    """The candidate period whose folded curve a Fourier series fits best (NaN if none).

    Sampling once a night makes the 1-day aliases of a period (``|1/P +- 1|``) almost as high
    in the Lomb-Scargle periodogram as the true peak. A sinusoid fits the true period and its
    aliases about equally, but a non-sinusoidal shape (RR Lyrae, eclipses) folds cleanly only
    at the true period, so the multi-harmonic fit separates them better than the peak height.
    Non-finite and non-positive candidates are skipped.

    With ``step`` (the periodogram grid's step, cycles/day), each candidate's frequency is
    first refined within half a step on either side: a peak found on a grid is off by up to
    half a step, which over a baseline ``T`` shifts the phase of harmonic ``k`` by up to
    ``k * step * T / 2`` cycles and blurs the folded shape the Fourier features describe.
    """
    candidates = [p for p in np.asarray(periods, dtype=np.float64) if np.isfinite(p) and p > 0]
    if not candidates or t.size < 2 * n_harmonics + 2:
        return np.nan
    weight = 1.0 / err**2
    elapsed = t - t[0]

    def score(period):
        return _fourier_fit((elapsed / period) % 1.0, m, weight, n_harmonics)[2]

    if step is not None and step > 0:
        offsets = np.linspace(-0.5, 0.5, _REFINE_POINTS) * step
        refined = []
        for period in candidates:
            trials = [1.0 / (1.0 / period + d) for d in offsets if 1.0 / period + d > 0]
            trial_scores = [score(p) for p in trials]
            refined.append(
                trials[int(np.nanargmax(trial_scores))]
                if np.any(np.isfinite(trial_scores)) else period
            )
        candidates = refined
    scores = [score(p) for p in candidates]
    if not np.any(np.isfinite(scores)):
        return candidates[0]
    return candidates[int(np.nanargmax(scores))]


#: Trial frequencies across one grid step when refining a candidate period.
_REFINE_POINTS = 9


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


# --------------------------------------------------------------------------- transformers


class LightCurveFeatures(TransformerMixin, BaseEstimator):
    """Hand-crafted features of light curves, as a scikit-learn transformer.

    Features of the `light-curve <https://github.com/light-curve/light-curve-python>`_
    package (35 values of magnitude and variability features, then for each of the
    ``n_peaks`` highest Lomb-Scargle peaks its period and signal-to-noise ratio, then 6
    values of order-dependent features of the curve folded at the highest peak), then the 14
    :data:`FOURIER_FEATURE_NAMES`: a ``n_harmonics``-term Fourier decomposition of the curve
    folded at the peak period that such a series fits best (which avoids the 1-day aliases of
    nightly sampling), and at twice that period (which tells an eclipsing binary's two unequal
    eclipses apart).

    Parameters
    ----------
    n_peaks : int, default=5
        Number of Lomb-Scargle peaks (period and signal-to-noise of each); they are also the
        candidate periods of the Fourier features.
    max_frequency : float or "auto", default="auto"
        Highest periodogram frequency in cycles per day. ``"auto"`` chooses it per light
        curve from its cadence, between 10 and 20 cycles/day (periods of 0.1 and 0.05 d):
        see :func:`frequency_grid`. A number fixes it for every curve (before the automatic
        grid, the default was 20).
    grid_log2 : int or "auto", default="auto"
        The periodogram grid has ``2**grid_log2 + 1`` frequencies from 0 to
        ``max_frequency``. Its step should be a fraction of a peak's width, ``1 /
        baseline``; ``"auto"`` makes it at most a fifth of it for each light curve (see
        :func:`frequency_grid`). A number fixes it for every curve (before the automatic
        grid, the default was 18, which suits curves of up to ~10 years at 20 cycles/day).
    n_harmonics : int, default=4
        Harmonics of the Fourier decomposition of the folded curve (at least 3, since the
        features include the third harmonic's ratios).
    n_jobs : int, default=None
        Threads of light-curve's batched extraction. None means 1 unless in a
        :func:`joblib.parallel_backend` context; -1 means all cores.
    columns : dict, default=None
        DataFrame column names, as for :func:`~sklearn_astromer.as_light_curves`.

    Attributes
    ----------
    n_features_out_ : int
        Number of output features (65 with the defaults).
    n_features_in_ : int
        Number of magnitudes per object, set only when ``fit`` got the regular-grid 2-D form.

    See Also
    --------
    make_hybrid_pipeline : These features next to a reduced Astromer embedding.

    Notes
    -----
    The features have no fitted state: ``fit`` only checks the input. Each light curve is
    cleaned first: duplicated times are merged with inverse-variance weights, zero errors
    take the median of the positive ones, and a light curve without errors gets equal
    weights (error 1). Curves with fewer than :data:`MIN_OBSERVATIONS` clean observations,
    and features that are undefined for a curve, are NaN (infinite values too): put an
    imputer after this transformer, as :func:`make_hybrid_pipeline` does.

    Extraction takes about 16 ms per CRTS light curve (~300 observations over ~3,000 days,
    visits of four exposures: a grid of ``2**19`` frequencies up to 20 cycles/day) on two
    cores, mostly in the periodogram: 1.35 times the former fixed ``2**18`` grid, measured
    side by side. Nightly cadences stop at 10 cycles/day and shorter baselines get smaller
    grids, both faster.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_astromer.features import LightCurveFeatures
    >>> rng = np.random.default_rng(0)
    >>> t = np.sort(rng.uniform(0, 1000, 300))
    >>> curve = np.column_stack([t, 15 + 0.3 * np.sin(2 * np.pi * t / 0.55), np.full(300, 0.02)])
    >>> features = LightCurveFeatures()
    >>> X = features.fit_transform([curve])
    >>> names = list(features.get_feature_names_out())
    >>> X.shape == (1, len(names))
    True
    >>> round(float(X[0, names.index("fourier_period")]), 3)
    0.55
    """

    _parameter_constraints = {
        "n_peaks": [Interval(Integral, 1, None, closed="left")],
        "max_frequency": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "grid_log2": [Interval(Integral, 1, 30, closed="both"), StrOptions({"auto"})],
        "n_harmonics": [Interval(Integral, 3, None, closed="left")],
        "n_jobs": [Integral, None],
        "columns": [dict, None],
    }

    def __init__(
        self, n_peaks=5, max_frequency="auto", grid_log2="auto", n_harmonics=4, n_jobs=None,
        columns=None,
    ):
        self.n_peaks = n_peaks
        self.max_frequency = max_frequency
        self.grid_log2 = grid_log2
        self.n_harmonics = n_harmonics
        self.n_jobs = n_jobs
        self.columns = columns

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the light curves; the features have no fitted state.

        Parameters
        ----------
        X : light curves
            Any form :func:`~sklearn_astromer.as_light_curves` accepts.
        y : None
            Ignored.

        Returns
        -------
        self : LightCurveFeatures
        """
        _light_curve_package()  # fail here, not at transform, when it is missing
        check_light_curves(self, X, reset=True)
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def transform(self, X):
        """Compute the features of each light curve.

        Parameters
        ----------
        X : light curves
            Any form :func:`~sklearn_astromer.as_light_curves` accepts.

        Returns
        -------
        features : ndarray of shape (n_objects, n_features_out)
            Float64, NaN where a feature is undefined. A DataFrame indexed by object id (when
            known) under ``set_output(transform="pandas")``.
        """
        check_is_fitted(self, "n_features_out_")
        lc = check_light_curves(self, X, reset=False)
        out = self._compute(lc)
        if _get_output_config("transform", self)["dense"] == "pandas":
            import pandas as pd

            index = pd.Index(lc.ids, name="object_id") if lc.ids is not None else None
            return pd.DataFrame(out, index=index, columns=self.get_feature_names_out())
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : None
            Ignored: the features do not depend on input columns.

        Returns
        -------
        names : ndarray of str of shape (n_features_out,)
        """
        # The names do not depend on the grid.
        names = _extractor(self.n_peaks, 1.0, 8).names
        return np.asarray(list(names) + FOURIER_FEATURE_NAMES, dtype=object)

    def _compute(self, lc):
        """Features of every object of ``lc``, shape (n_objects, n_features_out)."""
        names = list(_extractor(self.n_peaks, 1.0, 8).names)
        n_lc_features = len(names)
        cleaned = [_clean(*curve) for curve in lc]
        usable = [i for i, (t, _, _) in enumerate(cleaned) if t.size >= MIN_OBSERVATIONS]
        out = np.full((len(lc), n_lc_features + len(FOURIER_FEATURE_NAMES)), np.nan)
        # Curves sharing a grid are extracted in one batch (few grids: the automatic highest
        # frequency is a whole number of cycles/day and the size a power of two).
        groups = {}
        for i in usable:
            grid = frequency_grid(
                cleaned[i][0], max_frequency=self.max_frequency, grid_log2=self.grid_log2
            )
            groups.setdefault(grid, []).append(i)
        for (max_frequency, grid_log2), members in groups.items():
            extractor = _extractor(self.n_peaks, max_frequency, grid_log2)
            # light-curve parallelises over curves in its own threads.
            out[members, :n_lc_features] = extractor.many(
                [cleaned[i] for i in members], fill_value=np.nan, sorted=True,
                n_jobs=effective_n_jobs(self.n_jobs),
            )
        period_columns = [
            names.index(f"periodogram_period_{k}") for k in range(self.n_peaks)
        ]
        steps = {}  # the grid step of each curve, cycles/day
        for (max_frequency, grid_log2), members in groups.items():
            steps.update(dict.fromkeys(members, max_frequency / 2**grid_log2))
        for i in usable:
            t, m, err = cleaned[i]
            period = _best_fourier_period(
                t, m, err, out[i, period_columns], self.n_harmonics, steps[i]
            )
            out[i, n_lc_features:] = _fourier_features(t, m, err, period, self.n_harmonics)
        out[~np.isfinite(out)] = np.nan
        return out



def fold_light_curve(time, mag, err, period, n_cycles=2):
    """Fold one light curve over ``n_cycles`` periods, sorted by phase, one period = 2 pi.

    Parameters
    ----------
    time, mag : ndarray of shape (n_observations,)
        Observation times (days, sorted ascending) and magnitudes.
    err : ndarray of shape (n_observations,) or None
        Magnitude errors, or None.
    period : float
        Folding period in days, positive.
    n_cycles : int, default=2
        Cycles shown: 2 keeps both eclipses of a binary whose periodogram peak sits at half
        its orbital period, and shows two copies of a pulsator's cycle.

    Returns
    -------
    folded_time : ndarray of shape (n_clean,)
        ``2 pi n_cycles * phase``, with ``phase = ((time - time[0]) / (n_cycles * period)) % 1``,
        sorted ascending: one period spans ``2 pi``.
    mag : ndarray of shape (n_clean,)
        Magnitudes in the same order.
    err : ndarray of shape (n_clean,) or None
        Errors in the same order (None when ``err`` is None).

    Notes
    -----
    Duplicated times are merged first, as for :class:`LightCurveFeatures`, so ``n_clean`` is
    the number of distinct times. One period spans ``2 pi`` time units, so the fastest
    sinusoid of Astromer's time encoding (``sin(t)``, ``cos(t)``) turns exactly once per
    cycle: the encoder receives the phase itself.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_astromer.features import fold_light_curve
    >>> t = np.array([0.0, 0.25, 1.0, 1.5])
    >>> phase_time, mag, _ = fold_light_curve(t, np.array([1.0, 2.0, 3.0, 4.0]), None, 1.0, 1)
    >>> (phase_time / (2 * np.pi)).tolist(), mag.tolist()
    ([0.0, 0.0, 0.25, 0.5], [1.0, 3.0, 2.0, 4.0])
    """
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"period must be a positive number of days, got {period!r}")
    t, m, e = _clean(time, mag, err)
    phase = ((t - t[0]) / (n_cycles * period)) % 1.0
    order = np.argsort(phase, kind="stable")
    return 2 * np.pi * n_cycles * phase[order], m[order], None if err is None else e[order]


class PhaseFolded(TransformerMixin, BaseEstimator):
    """Fold each light curve at the period found by its features.

    The period is the ``fourier_period`` feature of ``features``: among the highest
    Lomb-Scargle peaks, the one whose folded curve a Fourier series fits best. The output
    is light curves again, so this goes in front of an
    :class:`~sklearn_astromer.AstromerEmbedder` in a pipeline.

    Parameters
    ----------
    n_cycles : int, default=2
        Cycles of the period shown (see :func:`fold_light_curve`).
    features : estimator, default=None
        Transformer whose ``get_feature_names_out`` includes ``"fourier_period"``, fitted
        on the light curves: a :class:`LightCurveFeatures` (the default, with its default
        parameters) or a wrapper of one (e.g. a cache).
    columns : dict, default=None
        DataFrame column names, as for :func:`~sklearn_astromer.as_light_curves`.

    Attributes
    ----------
    features_ : estimator
        The fitted clone of ``features``.
    n_features_in_ : int
        Number of magnitudes per object, set only when ``fit`` got the regular-grid 2-D form.

    Notes
    -----
    A light curve whose period is undefined (fewer than :data:`MIN_OBSERVATIONS`
    observations, or no usable periodogram peak) is folded at 1 day.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_astromer.features import LightCurveFeatures, PhaseFolded
    >>> rng = np.random.default_rng(0)
    >>> t = np.sort(rng.uniform(0, 500, 200))
    >>> curve = np.column_stack([t, 15 + 0.3 * np.sin(2 * np.pi * t / 0.4), np.full(200, 0.02)])
    >>> folded = PhaseFolded(features=LightCurveFeatures(grid_log2=16)).fit_transform([curve])
    >>> time, mag, err = folded[0]
    >>> bool(time.max() < 4 * np.pi), len(time)
    (True, 200)
    """

    _parameter_constraints = {
        "n_cycles": [Interval(Integral, 1, None, closed="left")],
        "features": [HasMethods(["fit", "transform", "get_feature_names_out"]), None],
        "columns": [dict, None],
    }

    def __init__(self, n_cycles=2, features=None, columns=None):
        self.n_cycles = n_cycles
        self.features = features
        self.columns = columns

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the period features on the light curves (they have no fitted state).

        Parameters
        ----------
        X : light curves
            Any form :func:`~sklearn_astromer.as_light_curves` accepts.
        y : None
            Ignored.

        Returns
        -------
        self : PhaseFolded
        """
        lc = check_light_curves(self, X, reset=True)
        features = LightCurveFeatures() if self.features is None else self.features
        self.features_ = clone(features).fit(lc)
        if "fourier_period" not in list(self.features_.get_feature_names_out()):
            raise ValueError("features must output a 'fourier_period' column")
        return self

    def transform(self, X):
        """Fold each light curve at its period.

        Parameters
        ----------
        X : light curves
            Any form :func:`~sklearn_astromer.as_light_curves` accepts.

        Returns
        -------
        folded : LightCurves
            One folded light curve per object, with the input's ids; times are
            ``2 pi n_cycles * phase`` (see :func:`fold_light_curve`).
        """
        check_is_fitted(self, "features_")
        lc = check_light_curves(self, X, reset=False)
        column = list(self.features_.get_feature_names_out()).index("fourier_period")
        periods = np.asarray(self.features_.transform(lc), dtype=np.float64)[:, column]
        periods = np.where(np.isfinite(periods) & (periods > 0), periods, 1.0)
        folded = [
            fold_light_curve(*curve, period, self.n_cycles) for curve, period in zip(lc, periods)
        ]
        lengths = [len(time) for time, _, _ in folded]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return LightCurves(
            time=np.concatenate([time for time, _, _ in folded]),
            mag=np.concatenate([mag for _, mag, _ in folded]),
            err=None if lc.err is None else np.concatenate([err for _, _, err in folded]),
            offsets=offsets,
            ids=lc.ids,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags


# --------------------------------------------------------------------------- the hybrid


def make_hybrid_pipeline(
    embedder=None, *, features=None, n_components=8, classifier=None, random_state=None
):
    """Hand-crafted features next to a reduced Astromer embedding, then a classifier.

    The best pipeline of the few-shot benchmark (``astromer-hybrid-pca-rf`` in
    ``benchmarks/README.md``), and the one to start from: the embedding alone is far behind
    the features on sparsely sampled periodic variables, and concatenated whole (hundreds of
    columns) it drowns the ~65 features in a random forest's feature sampling, so it is
    standardised and reduced to ``n_components`` principal components first.

    Parameters
    ----------
    embedder : estimator, default=None
        Light curves -> embedding rows. None means ``AstromerEmbedder(weights="macho",
        max_epochs=0, pooling="layers")``: the released MACHO weights used as they are,
        every layer's mean embedding concatenated.
    features : estimator, default=None
        Light curves -> feature rows. None means :class:`LightCurveFeatures` with its
        defaults.
    n_components : int, default=8
        Principal components kept of the standardised embedding.
    classifier : estimator, default=None
        None means ``RandomForestClassifier(n_estimators=500)``.
    random_state : int, RandomState instance or None, default=None
        Seed of the default embedder, the PCA and the default classifier.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        ``Pipeline([("union", FeatureUnion([("features", Pipeline([("features", ...),
        ("imputer", SimpleImputer)])), ("embedding", Pipeline([("embedder", ...),
        ("scaler", StandardScaler), ("pca", PCA)]))])), ("classifier", ...)])``; the
        names let ``set_params`` reach every step, e.g.
        ``union__embedding__pca__n_components``.

    Notes
    -----
    Undefined features (NaN) are imputed by the median of the training curves, keeping
    all-NaN columns so that the width is fixed. Here the scaler and the PCA are fitted on
    the training curves only. The benchmark's ``astromer-hybrid-pca-rf`` fits them, without
    labels, on the training curves plus the unlabelled pool of each draw (thousands of
    curves), which its protocol allows; everything else is the same.

    Examples
    --------
    >>> from sklearn_astromer import AstromerEmbedder
    >>> from sklearn_astromer.datasets import make_light_curves
    >>> from sklearn_astromer.features import LightCurveFeatures, make_hybrid_pipeline
    >>> X, y = make_light_curves(n_per_class=10, random_state=0)
    >>> tiny = AstromerEmbedder(weights=None, n_layers=1, n_heads=2, d_model=16, d_ff=16,
    ...                         max_epochs=0, random_state=0)
    >>> model = make_hybrid_pipeline(tiny, features=LightCurveFeatures(grid_log2=14),
    ...                              n_components=4, random_state=0).fit(X, y)
    >>> model.predict(X[:3]).shape
    (3,)
    """
    from ._embedder import AstromerEmbedder

    if embedder is None:
        embedder = AstromerEmbedder(
            weights="macho", max_epochs=0, pooling="layers", random_state=random_state
        )
    if features is None:
        features = LightCurveFeatures()
    if classifier is None:
        classifier = RandomForestClassifier(n_estimators=500, random_state=random_state)
    # The median is a neutral value for trees; keeping all-NaN columns keeps the width fixed.
    imputer = SimpleImputer(strategy="median", keep_empty_features=True)
    embedding = Pipeline([
        ("embedder", embedder),
        ("scaler", StandardScaler()),
        ("pca", PCA(n_components=n_components, random_state=random_state)),
    ])
    union = FeatureUnion([
        ("features", Pipeline([("features", features), ("imputer", imputer)])),
        ("embedding", embedding),
    ])
    return Pipeline([("union", union), ("classifier", classifier)])
