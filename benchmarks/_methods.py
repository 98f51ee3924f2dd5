"""The methods of the few-shot benchmark: one factory per method, and the registry.

A method is a top-level function ``factory(seed, context) -> estimator`` returning an unfitted
scikit-learn classifier, fit on light curves (any form the package's input funnel accepts;
the harness passes lists of ``(n_i, 3)`` arrays: time, magnitude, error) and their labels,
which predicts one label per light curve. ``context`` (a :class:`MethodContext`) gives the
unlabelled pool of the draw, the cache directory and the number of jobs.
:data:`METHODS` maps the names used on the command line to the factories; add a method by
writing its factory and adding it there.

The feature and hybrid pipelines are the package's own (:mod:`sklearn_astromer.features`),
wrapped in the harness's caches (``_caching.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier, StackingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _caching import CachedTransform, PoolFitted
from sklearn_astromer import AstromerClassifier, AstromerEmbedder, as_light_curves
from sklearn_astromer.features import LightCurveFeatures, PhaseFolded, _clean, make_hybrid_pipeline
from sklearn_astromer.multiband import MultiBandEmbedder, MultiBandFeatures


@dataclass(frozen=True)
class MethodContext:
    """What a method factory may use besides the seed.

    Attributes
    ----------
    seed : int
        Seed of the draw (also passed to the factory directly).
    protocol : str
        Protocol name (``"CRTS-5"``, ``"CRTS-9"`` or the ``+``-joined custom classes).
    classes : tuple of str
        Classes of the task.
    spc : int
        Training samples per class requested.
    unlabelled : list of ndarray of shape (n_observations_i, 3)
        Light curves of the training file neither drawn for training nor in the test set, of any
        class, without labels: for self-supervised fine-tuning. With ``--shared-pool``, the
        objects in no test set of the whole run, the same for every draw.
    cache_dir : Path or None
        Directory where methods may cache what depends only on the data (features,
        embeddings); None disables caching.
    n_jobs : int
        Parallel jobs for the method, in scikit-learn's convention (-1: all cores).
    shared_pool : bool, default=False
        Whether ``unlabelled`` is the run's shared pool: unsupervised fits then leave out the
        training curves (some are test objects of other seeds), so all draws share them.
    bands : tuple of str, default=()
        With several bands, the light curves are dicts band -> curve, and the methods that
        have a multi-band variant build it (features per band and colours, embeddings per
        band side by side; :mod:`sklearn_astromer.multiband`); the others raise.
    """

    seed: int
    protocol: str
    classes: tuple
    spc: int
    unlabelled: list
    cache_dir: Path | None
    n_jobs: int
    shared_pool: bool = False
    bands: tuple = ()


MethodFactory = Callable[[int, MethodContext], object]


# --------------------------------------------------------------------------- building blocks


def multiband(context):
    """Whether the draw has several bands (dicts band -> curve per object)."""
    return len(context.bands) > 1


def single_band_only(name, context):
    """Refuse a method without a multi-band variant on several bands."""
    if multiband(context):
        raise ValueError(f"{name} takes one band; run it with --band B (one band)")


def features(context):
    """The package's hand-crafted features, cached per light curve; on several bands, the
    features of each band and the colours (MultiBandFeatures)."""
    cached = CachedTransform(LightCurveFeatures(n_jobs=context.n_jobs), cache_dir=context.cache_dir)
    if multiband(context):
        return MultiBandFeatures(bands=list(context.bands), features=cached)
    return cached


def imputer():
    """Median imputation of undefined (NaN) features, all-NaN columns kept (fixed width)."""
    return SimpleImputer(strategy="median", keep_empty_features=True)


def forest(seed, context):
    """The random forest of every tree-based method (500 trees)."""
    return RandomForestClassifier(n_estimators=500, n_jobs=context.n_jobs, random_state=seed)


def frozen(seed, context, pooling="mean", weights="macho"):
    """Zero-shot embeddings with released weights, cached per light curve."""
    embedder = AstromerEmbedder(weights=weights, max_epochs=0, pooling=pooling, random_state=seed)
    cached = CachedTransform(embedder, cache_dir=context.cache_dir)
    if multiband(context):
        # Each band's embedding side by side, zeros and a 0 mask column for a missing band.
        return MultiBandEmbedder(cached, bands=list(context.bands))
    return cached


def pool_fitted(transformer, context, pool=True):
    """``transformer`` fit without labels on the pool.

    The training curves are added unless the pool is shared by all draws. ``pool=False`` fits
    on what it is given, for use inside another pool-fitted pipeline: both then see the same
    curves and share one cached fit.
    """
    return PoolFitted(
        transformer, unlabelled=context.unlabelled if pool else (),
        cache_dir=context.cache_dir, with_training=not (pool and context.shared_pool),
    )


def finetuned(seed, context, pool=True):
    """MACHO weights fine-tuned (self-supervised, 5 epochs) on the pool (see
    :func:`pool_fitted` for ``pool``)."""
    embedder = AstromerEmbedder(weights="macho", max_epochs=5, random_state=seed)
    if multiband(context):
        embedder = MultiBandEmbedder(embedder, bands=list(context.bands))
    return pool_fitted(embedder, context, pool)


def folded(context):
    """Light curves folded at their features' period, the features cached."""
    single_band_only("a folded-curve method", context)
    return PhaseFolded(features=features(context))


def fold_scratch(seed, context, pool=True):
    """Small Astromer 2 trained from scratch without labels on folded pool curves (see
    :func:`pool_fitted` for ``pool``)."""
    embedder = AstromerEmbedder(
        weights=None, preset="astromer2", n_layers=2, n_heads=4, d_model=64, d_ff=128,
        max_epochs=10, pooling="layers", random_state=seed,
    )
    return pool_fitted(make_pipeline(folded(context), embedder), context, pool)


def hybrid(embedder, seed, context):
    """The package's hybrid (:func:`~sklearn_astromer.features.make_hybrid_pipeline`), with the
    features cached and the embedding branch (embedder, scaler, 8-component PCA) fit without
    labels on the pool.

    ``embedder`` must be pool-fittable without its own pool (``pool=False``), so that it and
    the PCA see the same curves and share one cached fit.
    """
    model = make_hybrid_pipeline(
        embedder, features=features(context), n_components=8,
        classifier=forest(seed, context), random_state=seed,
    )
    branch = model.named_steps["union"].named_transformers["embedding"]
    return model.set_params(union__embedding=pool_fitted(branch, context))


class PlainFeatures(TransformerMixin, BaseEstimator):
    """The plain light-curve feature set the survey checks compare against (not tuned).

    Statistics of the magnitudes, then light-curve's Lomb-Scargle periodogram on one fixed
    linear grid from 0 to 10 cycles/day (``2**16`` steps) with its three highest peaks and
    a few features of the curve folded at the highest: what a user would write first with
    the `light-curve` package. Duplicated times are merged as in
    :class:`~sklearn_astromer.features.LightCurveFeatures`; curves with fewer than 8
    observations get NaN rows.
    """

    def __init__(self, n_jobs=None):
        self.n_jobs = n_jobs

    def _extractor(self):
        import light_curve as lc

        freqs = np.linspace(0.0, 2 * np.pi * 10.0, 2**16 + 1)
        periodogram = lc.Periodogram(
            peaks=3, freqs=freqs, fast=True,
            phase_features=[lc.Eta(), lc.LaflerKinmanStringLength(), lc.Amplitude()],
        )
        return lc.Extractor(
            lc.Amplitude(), lc.BeyondNStd(1.0), lc.Cusum(), lc.Eta(), lc.EtaE(),
            lc.InterPercentileRange(0.1), lc.InterPercentileRange(0.25), lc.Kurtosis(),
            lc.LinearTrend(), lc.MedianAbsoluteDeviation(), lc.ReducedChi2(), lc.Skew(),
            lc.StandardDeviation(), lc.StetsonK(), lc.WeightedMean(), periodogram,
        )

    def fit(self, X, y=None):
        self.n_features_out_ = len(self._extractor().names)
        return self

    def transform(self, X):
        extractor = self._extractor()
        cleaned = [_clean(*curve) for curve in as_light_curves(X)]
        out = np.full((len(cleaned), len(extractor.names)), np.nan)
        usable = [i for i, (t, _, _) in enumerate(cleaned) if t.size >= 8]
        if usable:
            out[usable] = extractor.many(
                [cleaned[i] for i in usable], fill_value=np.nan, sorted=True,
                n_jobs=effective_n_jobs(self.n_jobs),
            )
        out[~np.isfinite(out)] = np.nan
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self._extractor().names, dtype=object)


# --------------------------------------------------------------------------- methods


def features_rf(seed, context):
    """Hand-crafted light-curve features + random forest (500 trees)."""
    return make_pipeline(features(context), imputer(), forest(seed, context))


def plain_features_rf(seed, context):
    """The plain light-curve feature set (:class:`PlainFeatures`) + random forest (500 trees)."""
    single_band_only("plain-features-rf", context)
    plain = CachedTransform(PlainFeatures(n_jobs=context.n_jobs), cache_dir=context.cache_dir)
    return make_pipeline(plain, imputer(), forest(seed, context))


def features_brf(seed, context):
    """Hand-crafted features + balanced random forest (each tree on a class-balanced sample)."""
    from imblearn.ensemble import BalancedRandomForestClassifier

    balanced = BalancedRandomForestClassifier(
        n_estimators=500, n_jobs=context.n_jobs, random_state=seed
    )
    return make_pipeline(features(context), imputer(), balanced)


def astromer_rf(seed, context):
    """Frozen pretrained Astromer (MACHO weights) mean embeddings + random forest."""
    return make_pipeline(frozen(seed, context), forest(seed, context))


def astromer_atlas_rf(seed, context):
    """Frozen pretrained Astromer (ATLAS weights) mean embeddings + random forest."""
    return make_pipeline(frozen(seed, context, weights="atlas"), forest(seed, context))


def astromer_ft_rf(seed, context):
    """Astromer fine-tuned without labels on the unlabelled pool + training curves, + RF."""
    return make_pipeline(finetuned(seed, context), forest(seed, context))


def astromer_clf(seed, context):
    """AstromerClassifier: fine-tuned encoder, layer-weighted embedding and MLP head."""
    single_band_only("astromer-clf", context)
    return AstromerClassifier(weights="macho", random_state=seed)


def astromer_fold_rf(seed, context):
    """Frozen MACHO embeddings of the curve folded at its period (2 cycles) + RF."""
    embedder = AstromerEmbedder(weights="macho", max_epochs=0, random_state=seed)
    embedding = CachedTransform(make_pipeline(folded(context), embedder), context.cache_dir)
    return make_pipeline(embedding, forest(seed, context))


def astromer_fold_scratch_rf(seed, context):
    """Astromer 2 (2 x 64) trained from scratch on folded pool curves, 10 epochs, + RF."""
    return make_pipeline(fold_scratch(seed, context), forest(seed, context))


def astromer_fold_scratch_hybrid_pca_rf(seed, context):
    """Features + 8 principal components of the from-scratch folded-curve embeddings + RF."""
    return hybrid(fold_scratch(seed, context, pool=False), seed, context)


#: The period-aware weights shipped with the package (``benchmarks/pretrain_period.py``).
PERIOD_WEIGHTS = "crts-asas-period"


def period_embedding(seed, context, pooling="mean"):
    """Zero-shot embeddings of the shipped period-aware Astromer, cached per light curve.

    The embedder folds each curve at the period of the harness's own (cached) features.
    """
    embedder = AstromerEmbedder(
        weights=PERIOD_WEIGHTS, max_epochs=0, pooling=pooling, random_state=seed,
        period_features=CachedTransform(
            LightCurveFeatures(n_jobs=context.n_jobs), cache_dir=context.cache_dir
        ),
    )
    return CachedTransform(embedder, cache_dir=context.cache_dir)


def astromer_period_rf(seed, context):
    """Period-aware Astromer (folded curves, log-period time encoding), zero-shot, + RF."""
    return make_pipeline(period_embedding(seed, context), forest(seed, context))


def astromer_period_layers_rf(seed, context):
    """Period-aware Astromer, every layer's mean side by side, zero-shot, + RF."""
    return make_pipeline(period_embedding(seed, context, "layers"), forest(seed, context))


def astromer_period_hybrid_rf(seed, context):
    """Features and the whole period-aware embedding side by side + RF."""
    model = make_hybrid_pipeline(
        features=features(context), classifier=forest(seed, context), random_state=seed
    )
    return model.set_params(union__embedding=period_embedding(seed, context))


def astromer_period_hybrid_pca_rf(seed, context):
    """Features + 8 principal components of the period-aware per-layer embeddings + RF."""
    return hybrid(period_embedding(seed, context, "layers"), seed, context)


def astromer_hybrid_rf(seed, context):
    """Hand-crafted features and frozen Astromer embeddings side by side + random forest."""
    model = make_hybrid_pipeline(
        features=features(context), classifier=forest(seed, context), random_state=seed
    )
    # The whole 256-column embedding, not reduced.
    return model.set_params(union__embedding=frozen(seed, context))


def astromer_hybrid_pca_rf(seed, context):
    """Features + 8 principal components of the frozen per-layer embeddings + RF."""
    return hybrid(frozen(seed, context, pooling="layers"), seed, context)


def astromer_ft_hybrid_pca_rf(seed, context):
    """Features + 8 principal components of the pool-fine-tuned embeddings + RF."""
    return hybrid(finetuned(seed, context, pool=False), seed, context)


def astromer_stack(seed, context):
    """Stacking of features + RF and frozen per-layer embeddings + logistic regression.

    A logistic regression combines the two models' cross-validated class probabilities.
    """
    embedding_model = make_pipeline(
        frozen(seed, context, pooling="layers"), StandardScaler(),
        LogisticRegression(C=0.1, max_iter=2000),
    )
    return StackingClassifier(
        [("features", features_rf(seed, context)), ("astromer", embedding_model)],
        final_estimator=LogisticRegression(max_iter=2000),
        # Five folds, or fewer when a class has fewer than five training curves.
        cv=StratifiedKFold(min(5, context.spc), shuffle=True, random_state=seed),
    )


#: Registered methods: name (``--methods``, the results' ``method`` column) -> factory.
METHODS: dict[str, MethodFactory] = {
    "features-rf": features_rf,
    "features-brf": features_brf,
    "plain-features-rf": plain_features_rf,
    "astromer-rf": astromer_rf,
    "astromer-atlas-rf": astromer_atlas_rf,
    "astromer-ft-rf": astromer_ft_rf,
    "astromer-clf": astromer_clf,
    "astromer-fold-rf": astromer_fold_rf,
    "astromer-fold-scratch-rf": astromer_fold_scratch_rf,
    "astromer-fold-scratch-hybrid-pca-rf": astromer_fold_scratch_hybrid_pca_rf,
    "astromer-hybrid-rf": astromer_hybrid_rf,
    "astromer-hybrid-pca-rf": astromer_hybrid_pca_rf,
    "astromer-ft-hybrid-pca-rf": astromer_ft_hybrid_pca_rf,
    "astromer-stack": astromer_stack,
    "astromer-period-rf": astromer_period_rf,
    "astromer-period-layers-rf": astromer_period_layers_rf,
    "astromer-period-hybrid-rf": astromer_period_hybrid_rf,
    "astromer-period-hybrid-pca-rf": astromer_period_hybrid_pca_rf,
}
