"""Scikit-learn building blocks of the Astromer methods of the few-shot benchmark.

* :class:`CachedTransform` caches per-light-curve outputs of a transformer whose fit does not
  depend on the data (a frozen pretrained embedder), so the draws of the protocol, which reuse
  the same objects many times, embed each object once.
* :class:`PoolFitted` fits a transformer without labels on the unlabelled pool of the draw plus
  the training curves (self-supervised fine-tuning), and caches the fitted transformer by the
  content of what it was fitted on: within a seed and protocol the pool plus the training
  curves is the same set at every training size, so one fine-tuning serves them all.
* :class:`PhaseFolded` folds each light curve at its period, so that an encoder sees one cycle
  of the variability instead of years of sparse sampling.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from _features import (
    LightCurveFeatures,
    _check_light_curves,
    _FeatureCache,
    _hash_light_curve,
    clean_light_curve,
)


def _estimator_hash(estimator):
    """Hash of an unfitted estimator's parameters (nested estimators included)."""
    return joblib.hash(clone(estimator).get_params(deep=True))


class CachedTransform(TransformerMixin, BaseEstimator):
    """Cache, per light curve, the output of a transformer whose fit ignores the data.

    Parameters
    ----------
    transformer : estimator
        Transformer mapping a list of light curves to one row per curve, whose fitted state
        does not depend on the curves it is fitted on (e.g. ``AstromerEmbedder`` with
        ``max_epochs=0``, which only loads weights).
    cache_dir : str or Path or None, default=None
        Where rows are stored, keyed by the curve's content and the transformer's parameters.
        None disables caching.

    Attributes
    ----------
    transformer_ : estimator
        The fitted clone of ``transformer``.
    """

    def __init__(self, transformer, cache_dir=None):
        self.transformer = transformer
        self.cache_dir = cache_dir

    def fit(self, X, y=None):
        """Fit a clone of ``transformer`` on a few curves of ``X`` (its fit ignores the data)."""
        curves = _check_light_curves(X)
        self.transformer_ = clone(self.transformer).fit(curves[:8])
        return self

    def transform(self, X):
        """Rows of ``X`` from the cache, computing and storing the missing ones."""
        check_is_fitted(self, "transformer_")
        curves = _check_light_curves(X)
        if self.cache_dir is None:
            return np.asarray(self.transformer_.transform(curves))
        cache = _FeatureCache(
            Path(self.cache_dir) / "transform" / _estimator_hash(self.transformer)[:16]
        )
        keys = [_hash_light_curve(curve) for curve in curves]
        known = cache.get(keys)
        missing = [i for i, key in enumerate(keys) if key not in known]
        if missing:
            rows = np.asarray(self.transformer_.transform([curves[i] for i in missing]))
            new = {keys[i]: row for i, row in zip(missing, rows)}
            cache.put(list(new), list(new.values()))
            known.update(new)
        return np.stack([known[key] for key in keys])


class PoolFitted(TransformerMixin, BaseEstimator):
    """Fit a transformer without labels on the unlabelled pool plus the training light curves.

    The protocol lets a method use the light curves not drawn for training, without their
    labels: this wrapper hands them to an unsupervised ``transformer.fit`` together with the
    training curves (whose labels it also ignores), then transforms with the result.

    Parameters
    ----------
    transformer : estimator
        Unfitted transformer whose ``fit(X)`` needs no labels (e.g. ``AstromerEmbedder``, whose
        fit is masked self-supervised training, or a pipeline ending in a PCA).
    unlabelled : list of ndarray of shape (n_observations_i, 3), default=()
        The unlabelled pool (``MethodContext.unlabelled``).
    cache_dir : str or Path or None, default=None
        Where fitted transformers are stored, keyed by the transformer's parameters and the
        content of the curves it was fitted on. None disables caching.
    with_training : bool, default=True
        Fit on the training curves too. False fits on ``unlabelled`` alone, so that draws
        with different training sets but the same pool share one fit.

    Attributes
    ----------
    transformer_ : estimator
        The fitted clone of ``transformer``.
    """

    def __init__(self, transformer, unlabelled=(), cache_dir=None, with_training=True):
        self.transformer = transformer
        self.unlabelled = unlabelled
        self.cache_dir = cache_dir
        self.with_training = with_training

    def fit(self, X, y=None):
        """Fit a clone of ``transformer`` on ``unlabelled`` + ``X``; ``y`` is ignored.

        The fit sees each distinct light curve once, in an order fixed by content: the same
        set of curves, reached through any draw or order, gives the same fit and the same
        cache entry.
        """
        curves = _check_light_curves(list(self.unlabelled) + list(X if self.with_training else []))
        by_key = {_hash_light_curve(curve): curve for curve in curves}
        keys = sorted(by_key)
        path = None
        if self.cache_dir is not None:
            digest = hashlib.blake2b(digest_size=16)
            digest.update(_estimator_hash(self.transformer).encode())
            for key in keys:
                digest.update(key.encode())
            path = Path(self.cache_dir) / "fitted" / f"{digest.hexdigest()}.joblib"
            if path.exists():
                self.transformer_ = joblib.load(path)
                return self
        self.transformer_ = clone(self.transformer).fit([by_key[key] for key in keys])
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            joblib.dump(self.transformer_, tmp)
            tmp.replace(path)
        return self

    def transform(self, X):
        """Transform ``X`` with the fitted transformer."""
        check_is_fitted(self, "transformer_")
        return self.transformer_.transform(X)


def fold_light_curve(curve, period, n_cycles=2):
    """Fold a light curve over ``n_cycles`` periods, sorted by phase, one period = 2 pi.

    Parameters
    ----------
    curve : ndarray of shape (n_observations, 3)
        Time (days), magnitude, error.
    period : float
        Period in days; a non-finite or non-positive one folds at 1 day.
    n_cycles : int, default=2
        Cycles shown: 2 keeps both eclipses of a binary whose periodogram peak is at half the
        orbital period, and two copies of a pulsator's cycle.

    Returns
    -------
    folded : ndarray of shape (n_clean, 3)
        Columns ``2 pi n_cycles * phase`` (phase in [0, 1) over ``n_cycles`` periods),
        magnitude and error, cleaned by :func:`clean_light_curve` (duplicated times merged).

    Notes
    -----
    One period spans ``2 pi`` time units, so the fastest sinusoid of Astromer's positional
    encoding (``sin(t)``, ``cos(t)``) turns exactly once per cycle: the encoder receives the
    phase itself, and the slower ones a near-linear ramp over the folded cycles.
    """
    t, m, err = clean_light_curve(curve)
    if not np.isfinite(period) or period <= 0:
        period = 1.0
    phase = ((t - t[0]) / (n_cycles * period)) % 1.0
    order = np.argsort(phase, kind="stable")
    return np.column_stack([2 * np.pi * n_cycles * phase[order], m[order], err[order]])


class PhaseFolded(TransformerMixin, BaseEstimator):
    """Fold each light curve at the period of its hand-crafted features.

    The period is ``fourier_period`` of :class:`~_features.LightCurveFeatures`: the Lomb-Scargle
    peak, among the highest five, that a 4-harmonic Fourier series fits best.

    Parameters
    ----------
    n_cycles : int, default=2
        See :func:`fold_light_curve`.
    n_jobs : int or None, default=None
        Threads for the feature extraction.
    cache_dir : str or Path or None, default=None
        Feature cache (see :class:`~_features.LightCurveFeatures`).
    """

    def __init__(self, n_cycles=2, n_jobs=None, cache_dir=None):
        self.n_cycles = n_cycles
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir

    def fit(self, X, y=None):
        """Check the input; folding has no fitted state."""
        _check_light_curves(X)
        self.is_fitted_ = True
        return self

    def transform(self, X):
        """Return the folded light curves, a list of ``(n_i, 3)`` arrays."""
        curves = _check_light_curves(X)
        features = LightCurveFeatures(n_jobs=self.n_jobs, cache_dir=self.cache_dir)
        column = list(features.get_feature_names_out()).index("fourier_period")
        periods = features.fit(curves).transform(curves)[:, column]
        return [fold_light_curve(c, p, self.n_cycles) for c, p in zip(curves, periods)]
