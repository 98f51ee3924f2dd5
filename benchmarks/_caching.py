"""Caches of the few-shot benchmark: what is computed once per light curve or per pool.

The draws of the protocol reuse the same objects many times (every seed, training size and
method sees most of the file), so the harness computes what depends only on a light curve
once, and what depends only on the unlabelled pool once per pool:

* :class:`CachedTransform` caches per-light-curve outputs of a transformer whose fit does not
  depend on the data (hand-crafted features, a frozen pretrained embedder);
* :class:`PoolFitted` fits a transformer without labels on the unlabelled pool of the draw plus
  the training curves (self-supervised fine-tuning, a PCA), and caches the fitted transformer
  by the content of what it was fitted on: within a seed and protocol the pool plus the
  training curves is the same set at every training size, so one fit serves them all.

Cache entries are keyed by content (a hash of each light curve's arrays) and by the
transformer's parameters. Delete the cache directory after changing code that computes
cached values, or bump :data:`CACHE_VERSION`.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import ClassVar

import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from sklearn_astromer import as_light_curves

#: Part of every cache key; bump it when cached values change for the same parameters.
CACHE_VERSION = "3"


def _package_versions():
    """Versions of the packages that compute cached values (light-curve is optional)."""
    import sklearn_astromer

    versions = {"sklearn_astromer": sklearn_astromer.__version__, "cache": CACHE_VERSION}
    try:
        import light_curve
    except ImportError:
        pass
    else:
        versions["light_curve"] = light_curve.__version__
    return versions


def estimator_hash(estimator):
    """Hash of an unfitted estimator's parameters (nested ones included) and of the versions.

    ``n_jobs`` parameters are left out: they change how fast values are computed, not the
    values, so runs with different ``--n-jobs`` share the cache.
    """
    params = {
        key: value
        for key, value in clone(estimator).get_params(deep=True).items()
        if key.rsplit("__", 1)[-1] != "n_jobs"
    }
    return joblib.hash({"params": params, "versions": _package_versions()})


def light_curve_keys(lc):
    """Content hash of each light curve of a :class:`~sklearn_astromer.LightCurves`.

    Parameters
    ----------
    lc : LightCurves

    Returns
    -------
    keys : list of str of length n_objects
        Hashes of each object's float64 times, magnitudes and errors (after the input
        funnel's sort, so the same observations in another order give the same key).
    """
    keys = []
    for time, mag, err in lc:
        digest = hashlib.blake2b(digest_size=16)
        for column in (time, mag, err):
            if column is not None:
                digest.update(np.ascontiguousarray(column).tobytes())
            digest.update(b"|")  # keeps (time, mag) apart from a longer time column
        keys.append(digest.hexdigest())
    return keys


def _is_multiband(source):
    """Whether ``source`` holds multi-band objects (dicts band -> light curve)."""
    from sklearn_astromer.multiband import MultiBandLightCurves

    return isinstance(source, MultiBandLightCurves) or isinstance(source[0], dict)


def _multiband_objects(source):
    """``{key: {band: (time, mag, err)}}`` of multi-band objects, keyed by their content."""
    from sklearn_astromer.multiband import as_multiband_light_curves

    mb = as_multiband_light_curves(source)
    keys = [[] for _ in range(len(mb))]
    for band in mb.bands:
        for position, key in zip(mb.positions[band], light_curve_keys(mb.light_curves[band])):
            keys[position].append(f"{band}={key}")
    return {"+".join(parts): mb[k] for k, parts in enumerate(keys)}


class RowCache:
    """Rows (one per light curve) stored as ``.npz`` shards in one directory.

    Each call that computes new rows writes one new shard with a unique name, so concurrent
    processes never write the same file; readers load every shard they have not seen yet.

    Parameters
    ----------
    directory : str or Path
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
        """Store rows for ``keys`` (``values`` of shape (len(keys), n_columns))."""
        if not keys:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"shard-{uuid.uuid4().hex}.npz"
        tmp = self.directory / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=np.asarray(keys), values=np.asarray(values))
        # Rename is atomic: readers never see a half-written shard.
        tmp.replace(self.directory / name)
        seen, rows = self._memory.setdefault(self.directory, (set(), {}))
        rows.update(zip(keys, values))
        seen.add(name)


class CachedTransform(TransformerMixin, BaseEstimator):
    """Cache, per light curve, the output of a transformer whose fit ignores the data.

    Parameters
    ----------
    transformer : estimator
        Transformer mapping light curves to one row per curve, whose fitted state does not
        depend on the curves it is fitted on (e.g. ``LightCurveFeatures``, or
        ``AstromerEmbedder`` with ``max_epochs=0``, which only loads weights).
    cache_dir : str or Path or None, default=None
        Where rows are stored, keyed by the curve's content and the transformer's parameters
        (see :func:`estimator_hash`). None disables caching.

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
        lc = as_light_curves(X)
        self.transformer_ = clone(self.transformer).fit(lc.subset(np.arange(min(8, len(lc)))))
        return self

    def transform(self, X):
        """Rows of ``X`` from the cache, computing and storing the missing ones.

        Returns
        -------
        rows : ndarray of shape (n_objects, n_columns)
        """
        check_is_fitted(self, "transformer_")
        lc = as_light_curves(X)
        if self.cache_dir is None:
            return np.asarray(self.transformer_.transform(lc))
        cache = RowCache(Path(self.cache_dir) / "transform" / estimator_hash(self.transformer)[:16])
        keys = light_curve_keys(lc)
        known = cache.get(keys)
        missing = [i for i, key in enumerate(keys) if key not in known]
        if missing:
            rows = np.asarray(self.transformer_.transform(lc.subset(missing)))
            new = {keys[i]: row for i, row in zip(missing, rows)}
            cache.put(list(new), list(new.values()))
            known.update(new)
        return np.stack([known[key] for key in keys])

    def get_feature_names_out(self, input_features=None):
        """Output names of the fitted transformer."""
        check_is_fitted(self, "transformer_")
        return self.transformer_.get_feature_names_out(input_features)


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
    unlabelled : light curves, default=()
        The unlabelled pool (``MethodContext.unlabelled``), in any form the input funnel
        accepts.
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
        sources = [self.unlabelled] + ([X] if self.with_training else [])
        by_key = {}
        for source in sources:
            if len(source) and _is_multiband(source):
                by_key.update(_multiband_objects(source))
            elif len(source):
                lc = as_light_curves(source)
                # (time, mag, err) views, or (time, mag) for curves without errors.
                objects = [obj if obj[2] is not None else obj[:2] for obj in lc]
                by_key.update(zip(light_curve_keys(lc), objects))
        keys = sorted(by_key)
        path = None
        if self.cache_dir is not None:
            digest = hashlib.blake2b(digest_size=16)
            digest.update(estimator_hash(self.transformer).encode())
            for key in keys:
                digest.update(key.encode())
            path = Path(self.cache_dir) / "fitted" / f"{digest.hexdigest()}.joblib"
            if path.exists():
                self.transformer_ = joblib.load(path)
                return self
        # A list of column tuples: the funnel's per-object column form.
        self.transformer_ = clone(self.transformer).fit([by_key[key] for key in keys])
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
            joblib.dump(self.transformer_, tmp)
            tmp.replace(path)
        return self

    def transform(self, X):
        """Transform ``X`` with the fitted transformer."""
        check_is_fitted(self, "transformer_")
        return self.transformer_.transform(X)
