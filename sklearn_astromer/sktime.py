"""sktime adapters: Astromer as an sktime transformer and time series classifier.

:class:`AstromerTransformer` wraps :class:`~sklearn_astromer.AstromerEmbedder` and
:class:`AstromerTimeSeriesClassifier` wraps :class:`~sklearn_astromer.AstromerClassifier`,
so that Astromer can sit in sktime pipelines, grid searches and benchmarks. Both take
panels of unequal-length series in the ``pd-multiindex``, ``nested_univ`` and ``df-list``
forms (any other panel form is converted by sktime first).

Where each light curve's columns come from:

- **time**: the series' time index (integer values are taken as days; datetime indices
  become MJD; timedelta indices become days), or the column named by ``time_column``.
  sktime rejects float indices, so MJD stored as floats is passed as a column.
- **magnitude**: the column named by ``mag_column``; by default the first column that is
  neither the time nor the error column.
- **error**: the column named by ``err_column``; by default none.

This module needs the optional dependency sktime (``pip install sklearn-astromer[sktime]``).
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd

try:
    from sktime.classification.base import BaseClassifier
    from sktime.transformations.base import BaseTransformer
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "sklearn_astromer.sktime needs the optional dependency sktime; install it with "
        "`pip install sklearn-astromer[sktime]`"
    ) from exc

from ._classifier import AstromerClassifier
from ._embedder import AstromerEmbedder
from ._lightcurves import LightCurves, _as_arrays, _offsets_from_lengths, _validated

__all__ = [
    "AstromerTransformer",
    "AstromerTimeSeriesClassifier",
    "panel_to_light_curves",
    "panel_to_multiband_light_curves",
]

# Modified Julian Date zero point: datetime indices become MJD, the unit of survey data.
_MJD_EPOCH = pd.Timestamp("1858-11-17")
_ONE_DAY = pd.Timedelta(days=1)

# Parameters of the wrapped estimators that the adapters do not expose: the layout of
# sktime panels is given by the *_column parameters instead of a DataFrame name map.
_NOT_DELEGATED = {"columns"}


_PANEL_MTYPES = ["pd-multiindex", "nested_univ", "df-list"]

_TINY = dict(weights=None, n_layers=1, n_heads=2, d_model=8, d_ff=8, window_length=16)


def _defaults(estimator_class):
    """Default parameter values of an estimator class, by name."""
    return {
        name: p.default for name, p in inspect.signature(estimator_class).parameters.items()
    }


# The adapters' defaults are read from the wrapped estimators so the two never disagree.
_E = _defaults(AstromerEmbedder)
_C = _defaults(AstromerClassifier)


# --------------------------------------------------------------------------- conversion


def panel_to_light_curves(
    X, *, time_column=None, mag_column=None, err_column=None, as_light_curves=False,
    band_column=None, band=None,
):
    """Convert an sktime panel to light curves.

    The panel is read in one pass into concatenated arrays; the adapters hand the
    resulting :class:`~sklearn_astromer.LightCurves` to the wrapped estimator, which
    takes it as it is.

    Parameters
    ----------
    X : pandas.DataFrame or list of pandas.DataFrame
        A panel in one of sktime's ``pd-multiindex`` (rows indexed by (instance, time)),
        ``nested_univ`` (one row per instance, cells holding series) or ``df-list`` (one
        DataFrame per instance) forms.
    time_column : str, default=None
        Column holding observation times (e.g. MJD); None takes the time index.
    mag_column : str, default=None
        Column holding magnitudes; None takes the first column that is neither
        ``time_column`` nor ``err_column``.
    err_column : str, default=None
        Column holding 1-sigma magnitude errors; None uses no errors.
    as_light_curves : bool, default=False
        Return one validated :class:`~sklearn_astromer.LightCurves` (objects sorted by
        time, ``ids`` the instance labels) instead of a list of arrays and the ids.
    band_column : str, default=None
        Column holding each observation's passband (e.g. ZTF's numeric ``fid``); None
        uses a column named ``"band"`` if there is one. Bands are never merged: a panel
        whose instances hold observations in several bands raises a ValueError unless
        ``band`` selects one.
    band : str or number, default=None
        Keep only the observations of this band (an instance without any then raises);
        for several bands, see :func:`panel_to_multiband_light_curves`.

    Returns
    -------
    light_curves : list of ndarray of shape (n_obs_i, 2) or (n_obs_i, 3)
        Columns time (days), magnitude[, error], float64, in the order of the panel;
        not validated. Returned with ``ids`` unless ``as_light_curves`` is True.
    ids : ndarray of shape (n_objects,)
        Instance labels of the panel (positions for ``df-list``).
    light_curves : LightCurves
        With ``as_light_curves=True``, instead of the two above.

    Raises
    ------
    ValueError
        If a named column is missing, no magnitude column is left, or the time index
        cannot be read as times; with ``as_light_curves=True``, also if a value is
        invalid (the message names the instance).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn_astromer.sktime import panel_to_light_curves
    >>> index = pd.MultiIndex.from_tuples([("a", 0), ("a", 3), ("b", 1)])
    >>> X = pd.DataFrame({"mag": [15.0, 15.2, 12.1]}, index=index)
    >>> curves, ids = panel_to_light_curves(X)
    >>> curves[0].tolist(), ids.tolist()
    ([[0.0, 15.0], [3.0, 15.2]], ['a', 'b'])
    >>> lc = panel_to_light_curves(X, as_light_curves=True)
    >>> lc.lengths.tolist(), lc.ids.tolist()
    ([2, 1], ['a', 'b'])
    """
    lc, bands = _read_panel(X, time_column, mag_column, err_column, band_column)
    if bands is not None:
        name = band_column or "band"
        if band is not None:
            lc = _select_band(lc, bands, band, name)
        else:
            _refuse_several_bands(lc, bands, name)
    elif band is not None:
        raise ValueError(
            f"band={band!r} selects a band, but the panel has no band column "
            f"({'band_column=' + repr(band_column) if band_column else 'none named band'})"
        )
    if as_light_curves:
        return _validated(lc)
    return _as_arrays(lc), lc.ids


def panel_to_multiband_light_curves(
    X, *, time_column=None, mag_column=None, err_column=None, band_column=None, bands=None
):
    """Convert a panel whose observations carry a band to multi-band light curves.

    Parameters
    ----------
    X : pandas.DataFrame or list of pandas.DataFrame
        A panel as for :func:`panel_to_light_curves`, with a band column; or a DataFrame
        indexed by ``(instance, band, time)`` (a band level named like ``band_column``, as
        sktime's hierarchical form writes a panel of several bands).
    time_column, mag_column, err_column : str, default=None
        As for :func:`panel_to_light_curves`.
    band_column : str, default=None
        Band column or index level; None means ``"band"``.
    bands : sequence, default=None
        Bands to keep, in this order; None keeps every band, sorted.

    Returns
    -------
    MultiBandLightCurves
        One object per instance, with the instance labels as ids; an instance may lack a
        band.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_astromer.sktime import panel_to_multiband_light_curves
    >>> index = pd.MultiIndex.from_tuples(
    ...     [("a", "g", 0), ("a", "g", 2), ("a", "r", 1), ("b", "r", 0)],
    ...     names=["object", "band", "time"])
    >>> X = pd.DataFrame({"mag": [15.0, 15.2, 14.8, 12.0]}, index=index)
    >>> mb = panel_to_multiband_light_curves(X)
    >>> mb.ids.tolist(), mb.present.tolist()
    (['a', 'b'], [[True, True], [False, True]])
    """
    from .multiband import MultiBandLightCurves

    level = band_column or "band"
    if isinstance(X, pd.DataFrame) and level in (X.index.names or []) and X.index.nlevels > 2:
        X = X.reset_index(level=level)
    lc, values = _read_panel(X, time_column, mag_column, err_column, band_column)
    if values is None:
        raise ValueError(
            f"the panel has no band column or level {level!r}; name it with band_column="
        )
    kept = sorted(pd.unique(values), key=str) if bands is None else list(bands)
    per_band = {}
    for value in kept:
        selected = _select_band(lc, values, value, level, allow_empty=True)
        if len(selected):
            per_band[str(value)] = selected
    unknown = [value for value in kept if str(value) not in per_band]
    if unknown:
        raise ValueError(f"band(s) {unknown} have no observations in the panel")
    mb = MultiBandLightCurves.from_bands(per_band)
    # Instances in panel order, whatever band they first appear in.
    order = pd.Index(mb.ids).get_indexer(pd.Index(lc.ids)[np.isin(lc.ids, mb.ids)])
    return mb.subset(order)


def _read_panel(X, time_column, mag_column, err_column, band_column):
    """Unvalidated LightCurves of a panel and each observation's band (None if none)."""
    names = {"time": time_column, "mag": mag_column, "err": err_column, "band": band_column}
    if isinstance(X, pd.DataFrame) and isinstance(X.index, pd.MultiIndex):
        return _from_multiindex(X, names)
    if isinstance(X, (list, pd.DataFrame)):
        return _from_frames(X, names)
    raise TypeError(
        "expected an sktime panel (pd-multiindex or nested_univ DataFrame, or a list "
        f"of DataFrames), got {type(X).__name__}"
    )


def _object_bands(lc, bands):
    """Per object, its distinct band values."""
    return [pd.unique(bands[lc.offsets[k] : lc.offsets[k + 1]]) for k in range(len(lc))]


def _refuse_several_bands(lc, bands, name):
    for k, values in enumerate(_object_bands(lc, bands)):
        if len(values) > 1:
            object_id = lc.ids[k] if lc.ids is not None else k
            if isinstance(object_id, np.generic):
                object_id = object_id.item()
            shown = sorted(values.tolist(), key=str)
            raise ValueError(
                f"instance {object_id!r} has observations in {len(shown)} bands {shown} "
                f"(column {name!r}); a single-band estimator does not merge bands. Select "
                f"one with band={shown[0]!r}, or embed each band with band={shown!r} "
                "(AstromerTransformer) or sklearn_astromer.multiband"
            )


def _select_band(lc, bands, value, name, allow_empty=False):
    """The observations of band ``value`` (unvalidated LightCurves, same ids)."""
    keep = np.asarray(bands == value) | np.asarray(
        pd.Series(bands).astype(str) == str(value)
    )
    kept_before = np.concatenate([[0], np.cumsum(keep)])  # kept observations before row i
    lengths = kept_before[lc.offsets[1:]] - kept_before[lc.offsets[:-1]]
    selected = LightCurves(
        time=lc.time[keep], mag=lc.mag[keep], err=None if lc.err is None else lc.err[keep],
        offsets=_offsets_from_lengths(lengths), ids=lc.ids,
    )
    if allow_empty:
        return selected.subset(np.flatnonzero(lengths > 0))
    if not keep.any():
        raise ValueError(f"band {value!r} has no observations in column {name!r}")
    return selected


def _from_frames(X, names):
    """``df-list`` and ``nested_univ``: one small DataFrame per instance, joined once."""
    if isinstance(X, list):
        frames, ids = X, np.arange(len(X))
    else:
        frames, ids = (_nested_row(X, i) for i in range(len(X))), X.index.to_numpy()
    columns = {"time": [], "mag": [], "err": [], "band": []}
    for frame in frames:
        picked = _pick_columns(list(frame.columns), names)
        for key, values in _columns(frame, picked, frame.index).items():
            columns[key].append(values)
    lengths = [len(time) for time in columns["time"]]
    # Unvalidated: the list form of panel_to_light_curves is returned as read.
    lc = LightCurves(
        time=_concatenate(columns["time"]),
        mag=_concatenate(columns["mag"]),
        err=_concatenate(columns["err"]) if names["err"] is not None else None,
        offsets=_offsets_from_lengths(lengths),
        ids=ids,
    )
    bands = np.concatenate(columns["band"]) if columns["band"] else None
    return lc, bands


def _from_multiindex(X, names):
    """Vectorised ``pd-multiindex`` conversion: one pass over all rows."""
    picked = _pick_columns(list(X.columns), names)
    codes, ids = pd.factorize(X.index.get_level_values(0), sort=False)
    columns = _columns(X, picked, X.index.get_level_values(-1))
    # A stable sort keeps each instance's rows in their given (time) order even when
    # instances are interleaved.
    order = np.argsort(codes, kind="stable")
    lc = LightCurves(
        time=columns["time"][order],
        mag=columns["mag"][order],
        err=columns["err"][order] if "err" in columns else None,
        offsets=_offsets_from_lengths(np.bincount(codes, minlength=len(ids))),
        ids=np.asarray(ids),
    )
    return lc, columns["band"][order] if "band" in columns else None


def _concatenate(parts):
    return np.concatenate(parts) if parts else np.zeros(0)


def _nested_row(X, i):
    """One ``nested_univ`` row as a DataFrame indexed by time."""
    return pd.DataFrame({column: X.iloc[i][column] for column in X.columns})


def _pick_columns(available, names):
    for key in ("time", "mag", "err", "band"):
        if names.get(key) is not None and names[key] not in available:
            raise ValueError(
                f"{key}_column={names[key]!r} is not a column of X; its columns are "
                f"{available}"
            )
    band = names.get("band")
    if band is None and "band" in available:
        band = "band"  # never read a band column as magnitudes, nor ignore it
    mag = names["mag"]
    if mag is None:
        taken = {names["time"], names["err"], band} - {None}
        rest = [column for column in available if column not in taken]
        if not rest:
            raise ValueError(
                f"X has no magnitude column: its columns {available} are all taken by "
                "time_column and err_column"
            )
        mag = rest[0]
    return {"time": names["time"], "mag": mag, "err": names["err"], "band": band}


def _times(frame, time_column, index):
    """Observation times in days, from a column or from the time index."""
    if time_column is not None:
        return frame[time_column].to_numpy(dtype=np.float64)
    index = pd.Index(index)
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    if isinstance(index, pd.DatetimeIndex):
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        return np.asarray((index - _MJD_EPOCH) / _ONE_DAY, dtype=np.float64)
    if isinstance(index, pd.TimedeltaIndex):
        return np.asarray(index / _ONE_DAY, dtype=np.float64)
    if pd.api.types.is_numeric_dtype(index.dtype) and not pd.api.types.is_bool_dtype(index):
        return index.to_numpy(dtype=np.float64)
    raise ValueError(
        f"cannot read observation times from an index of dtype {index.dtype}; use an "
        "integer, datetime or timedelta index, or name a time column with time_column"
    )


def _columns(frame, picked, index):
    """float64 time, mag[, err] of a frame: {"time": (n,), "mag": (n,)[, "err": (n,)]}."""
    columns = {
        "time": _times(frame, picked["time"], index),
        "mag": frame[picked["mag"]].to_numpy(dtype=np.float64),
    }
    if picked["err"] is not None:
        columns["err"] = frame[picked["err"]].to_numpy(dtype=np.float64)
    if picked.get("band") is not None:
        columns["band"] = frame[picked["band"]].to_numpy()
    return columns


def _instance_index(X, n):
    """Index of the output rows: the panel's instance labels."""
    if isinstance(X, pd.DataFrame) and isinstance(X.index, pd.MultiIndex):
        return X.index.get_level_values(0).unique()
    if isinstance(X, pd.DataFrame):
        return X.index
    return pd.RangeIndex(n)


# --------------------------------------------------------------------------- adapters


class _Delegating:
    """Builds the wrapped estimator from the adapter's parameters."""

    _estimator_class = None

    def _inner(self):
        params = self.get_params(deep=False)
        # A parameter the wrapped estimator has and the adapter does not expose (yet)
        # keeps the estimator's default.
        names = (set(_defaults(self._estimator_class)) - _NOT_DELEGATED) & set(params)
        return self._estimator_class(**{name: params[name] for name in names})

    def _light_curves(self, X):
        """The panel as one validated LightCurves, which the wrapped estimator takes as is.

        With several bands in ``band``, a MultiBandLightCurves for a multi-band estimator.
        """
        if _several(self.band):
            return panel_to_multiband_light_curves(
                X, time_column=self.time_column, mag_column=self.mag_column,
                err_column=self.err_column, band_column=self.band_column, bands=self.band,
            )
        return panel_to_light_curves(
            X,
            time_column=self.time_column,
            mag_column=self.mag_column,
            err_column=self.err_column,
            as_light_curves=True,
            band_column=self.band_column,
            band=self.band,
        )


def _several(band):
    return isinstance(band, (list, tuple))


_COMMON_TAGS = {
    "authors": ["sklearn-astromer developers"],
    "maintainers": ["sklearn-astromer developers"],
    "python_dependencies": ["torch", "skorch"],
    "X_inner_mtype": _PANEL_MTYPES,
    "capability:multivariate": True,
    "capability:unequal_length": True,
    "capability:missing_values": False,
    "capability:random_state": True,
    "property:randomness": "derandomized",
}


class AstromerTransformer(_Delegating, BaseTransformer):
    """sktime transformer embedding each series of a panel with Astromer.

    ``fit`` trains an :class:`~sklearn_astromer.AstromerEmbedder` by self-supervised
    masked reconstruction on all the series it is given; ``transform`` returns one row
    of ``d_model`` (or more, see ``pooling``) features per series, whatever its length.

    Parameters
    ----------
    weights : str or path-like, default as in AstromerEmbedder
        Starting model: a released model's name (``"macho"``, ``"atlas"``), a folder
        saved by :meth:`AstromerEmbedder.save`, or None for random initialisation.
    time_column : str, default=None
        Column with observation times in days (e.g. MJD); None reads the time index
        (integers as days, datetimes as MJD, timedeltas as days).
    mag_column : str, default=None
        Column with magnitudes; None takes the first column that is neither the time
        nor the error column.
    err_column : str, default=None
        Column with 1-sigma magnitude errors; None uses no errors.
    band_column : str, default=None
        Column of the panel holding each observation's passband (e.g. ZTF's numeric
        ``fid``); None uses a column named ``"band"`` if there is one. An instance with
        observations in several bands raises unless ``band`` chooses.
    band : str, number or list, default=None
        One band: only its observations are used. A list of bands: each band is embedded
        and the embeddings are concatenated per instance in that order, with a mask column
        per band (:class:`~sklearn_astromer.multiband.MultiBandEmbedder`); an instance may
        lack a band. None: the panel must hold one band per instance.
    preset, n_layers, n_heads, d_model, d_ff, dropout, window_length, architecture
        Architecture, as in :class:`~sklearn_astromer.AstromerEmbedder`.
    pooling : {"mean", "max", "layers", "weighted"}
        How the encoder outputs become one row per series, as in
        :class:`~sklearn_astromer.AstromerEmbedder`.
    max_epochs, batch_size, lr, probed_fraction, same_fraction, random_fraction, loss
        Self-supervised training, as in :class:`~sklearn_astromer.AstromerEmbedder`;
        ``max_epochs=0`` keeps the starting weights.
    validation_fraction, patience, head_epochs, inference_batch_size, backend, period_features
        As in :class:`~sklearn_astromer.AstromerEmbedder`.
    device, random_state, verbose, checkpoint_dir, autocast
        As in :class:`~sklearn_astromer.AstromerEmbedder`.

    Attributes
    ----------
    embedder_ : AstromerEmbedder
        The fitted estimator doing the work.

    See Also
    --------
    sklearn_astromer.AstromerEmbedder : the scikit-learn estimator wrapped here.
    AstromerTimeSeriesClassifier : the classifier adapter.

    Examples
    --------
    A pd-multiindex panel of unequal-length light curves with MJD in a column:

    >>> import pandas as pd
    >>> from sklearn_astromer.datasets import make_light_curves
    >>> from sklearn_astromer.sktime import AstromerTransformer
    >>> X, y = make_light_curves(n_per_class=2, n_obs=(20, 40), random_state=0)
    >>> panel = pd.concat({f"star{k}": pd.DataFrame(x, columns=["mjd", "mag", "mag_err"])
    ...                    for k, x in enumerate(X)})
    >>> trafo = AstromerTransformer(weights=None, n_layers=1, n_heads=2, d_model=8,
    ...                             d_ff=8, window_length=16, max_epochs=1,
    ...                             time_column="mjd", err_column="mag_err",
    ...                             random_state=0)
    >>> trafo.fit_transform(panel).shape
    (12, 8)
    """

    _estimator_class = AstromerEmbedder

    _tags = {
        **_COMMON_TAGS,
        "scitype:transform-input": "Series",
        "scitype:transform-output": "Primitives",
        "scitype:instancewise": True,
        # One fixed-length row per series, whatever the input lengths: pipelines that
        # end in a tabular estimator may take unequal-length panels.
        "capability:unequal_length:removes": True,
        # Labels are optional: only pooling="weighted" uses them, to learn layer weights.
        "y_inner_mtype": "numpy1D",
        "requires_y": False,
        "fit_is_empty": False,
    }

    def __init__(
        self,
        weights=_E["weights"],
        *,
        time_column=None,
        mag_column=None,
        err_column=None,
        band_column=None,
        band=None,
        preset=_E["preset"],
        n_layers=_E["n_layers"],
        n_heads=_E["n_heads"],
        d_model=_E["d_model"],
        d_ff=_E["d_ff"],
        dropout=_E["dropout"],
        window_length=_E["window_length"],
        architecture=_E["architecture"],
        pooling=_E["pooling"],
        max_epochs=_E["max_epochs"],
        batch_size=_E["batch_size"],
        lr=_E["lr"],
        probed_fraction=_E["probed_fraction"],
        same_fraction=_E["same_fraction"],
        random_fraction=_E["random_fraction"],
        loss=_E["loss"],
        validation_fraction=_E["validation_fraction"],
        patience=_E["patience"],
        head_epochs=_E["head_epochs"],
        inference_batch_size=_E["inference_batch_size"],
        backend=_E["backend"],
        period_features=_E["period_features"],
        device=_E["device"],
        random_state=_E["random_state"],
        verbose=_E["verbose"],
        checkpoint_dir=_E["checkpoint_dir"],
        autocast=_E["autocast"],
    ):
        self.weights = weights
        self.time_column = time_column
        self.mag_column = mag_column
        self.err_column = err_column
        self.band_column = band_column
        self.band = band
        self.preset = preset
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.d_model = d_model
        self.d_ff = d_ff
        self.dropout = dropout
        self.window_length = window_length
        self.architecture = architecture
        self.pooling = pooling
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.probed_fraction = probed_fraction
        self.same_fraction = same_fraction
        self.random_fraction = random_fraction
        self.loss = loss
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.head_epochs = head_epochs
        self.inference_batch_size = inference_batch_size
        self.backend = backend
        self.period_features = period_features
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.autocast = autocast
        super().__init__()

    def _fit(self, X, y=None):
        """Train the embedder on the panel's series.

        Parameters
        ----------
        X : pd-multiindex, nested_univ or df-list panel
        y : ndarray of shape (n_instances,), default=None
            Labels, used only by ``pooling="weighted"``.

        Returns
        -------
        self : AstromerTransformer
        """
        inner = self._inner()
        if _several(self.band):
            from .multiband import MultiBandEmbedder

            inner = MultiBandEmbedder(inner, bands=[str(b) for b in self.band])
        self.embedder_ = inner.fit(self._light_curves(X), y)
        return self

    def _transform(self, X, y=None):
        """Embed each series of the panel.

        Parameters
        ----------
        X : pd-multiindex, nested_univ or df-list panel
        y : ignored

        Returns
        -------
        embeddings : pandas.DataFrame of shape (n_instances, n_features)
            One row per series, indexed like the panel's instances.
        """
        lc = self._light_curves(X)
        values = self.embedder_.transform(lc)
        if _several(self.band):
            # Instances in panel order (each has at least one of the bands).
            return pd.DataFrame(
                values, index=pd.Index(lc.ids), columns=self.embedder_.get_feature_names_out()
            )
        return pd.DataFrame(
            values,
            index=_instance_index(X, len(lc)),
            columns=self.embedder_.get_feature_names_out(),
        )

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Tiny configurations for sktime's estimator checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Ignored: every set is the same.

        Returns
        -------
        params : list of dict
        """
        return [
            {**_TINY, "max_epochs": 1, "random_state": 0},
            {**_TINY, "max_epochs": 1, "pooling": "layers", "loss": "weighted_rmse",
             "random_state": 1},
        ]


class AstromerTimeSeriesClassifier(_Delegating, BaseClassifier):
    """sktime classifier: Astromer encoder and MLP head on panels of light curves.

    Wraps :class:`~sklearn_astromer.AstromerClassifier`: the encoder is fine-tuned by
    self-supervised reconstruction on the training series, then a layer-weighted MLP
    head is trained on the labels. Each series gets one prediction, whatever its length.

    Parameters
    ----------
    weights : str or path-like, default as in AstromerClassifier
        Starting model: a released model's name (``"macho"``, ``"atlas"``), a folder
        saved by :meth:`AstromerEmbedder.save`, or None for random initialisation.
    time_column, mag_column, err_column : str, default=None
        Where times, magnitudes and errors come from, as in
        :class:`AstromerTransformer`.
    band_column : str, default=None
        Where the passband is, as in :class:`AstromerTransformer`.
    band : str or number, default=None
        Only this band's observations are used; None: the panel must hold one band per
        instance. (For several bands, embed them with :class:`AstromerTransformer` and
        ``band=[...]`` in a pipeline with a tabular classifier.)
    preset, n_layers, n_heads, d_model, d_ff, dropout, window_length, architecture
        Architecture, as in :class:`~sklearn_astromer.AstromerClassifier`.
    max_epochs, batch_size, lr, probed_fraction, same_fraction, random_fraction, loss
        Self-supervised fine-tuning, as in :class:`~sklearn_astromer.AstromerClassifier`.
    hidden_layer_sizes, head_epochs, head_lr, train_encoder
        The classification head, as in :class:`~sklearn_astromer.AstromerClassifier`.
    validation_fraction, patience, inference_batch_size, period_features, device, random_state
    verbose, checkpoint_dir, autocast
        As in :class:`~sklearn_astromer.AstromerClassifier`.

    Attributes
    ----------
    classifier_ : AstromerClassifier
        The fitted estimator doing the work.
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the column order of :meth:`predict_proba`.

    See Also
    --------
    sklearn_astromer.AstromerClassifier : the scikit-learn estimator wrapped here.
    AstromerTransformer : the transformer adapter.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_astromer.datasets import make_light_curves
    >>> from sklearn_astromer.sktime import AstromerTimeSeriesClassifier
    >>> X, y = make_light_curves(n_per_class=4, classes=["EA", "LPV"], n_obs=(20, 40),
    ...                          random_state=0)
    >>> panel = pd.concat({k: pd.DataFrame(x, columns=["mjd", "mag", "mag_err"])
    ...                    for k, x in enumerate(X)})
    >>> clf = AstromerTimeSeriesClassifier(weights=None, n_layers=1, n_heads=2,
    ...                                    d_model=8, d_ff=8, window_length=16,
    ...                                    max_epochs=1, hidden_layer_sizes=(8,),
    ...                                    head_epochs=2, time_column="mjd",
    ...                                    random_state=0)
    >>> clf.fit(panel, y).predict(panel).shape
    (8,)
    """

    _estimator_class = AstromerClassifier

    _tags = {
        **_COMMON_TAGS,
        "y_inner_mtype": "numpy1D",
        "capability:predict_proba": True,
    }

    def __init__(
        self,
        weights=_C["weights"],
        *,
        time_column=None,
        mag_column=None,
        err_column=None,
        band_column=None,
        band=None,
        preset=_C["preset"],
        n_layers=_C["n_layers"],
        n_heads=_C["n_heads"],
        d_model=_C["d_model"],
        d_ff=_C["d_ff"],
        dropout=_C["dropout"],
        window_length=_C["window_length"],
        architecture=_C["architecture"],
        max_epochs=_C["max_epochs"],
        batch_size=_C["batch_size"],
        lr=_C["lr"],
        probed_fraction=_C["probed_fraction"],
        same_fraction=_C["same_fraction"],
        random_fraction=_C["random_fraction"],
        loss=_C["loss"],
        hidden_layer_sizes=_C["hidden_layer_sizes"],
        head_epochs=_C["head_epochs"],
        head_lr=_C["head_lr"],
        train_encoder=_C["train_encoder"],
        validation_fraction=_C["validation_fraction"],
        patience=_C["patience"],
        inference_batch_size=_C["inference_batch_size"],
        period_features=_C["period_features"],
        device=_C["device"],
        random_state=_C["random_state"],
        verbose=_C["verbose"],
        checkpoint_dir=_C["checkpoint_dir"],
        autocast=_C["autocast"],
    ):
        self.weights = weights
        self.time_column = time_column
        self.mag_column = mag_column
        self.err_column = err_column
        self.band_column = band_column
        self.band = band
        self.preset = preset
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.d_model = d_model
        self.d_ff = d_ff
        self.dropout = dropout
        self.window_length = window_length
        self.architecture = architecture
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.probed_fraction = probed_fraction
        self.same_fraction = same_fraction
        self.random_fraction = random_fraction
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.head_epochs = head_epochs
        self.head_lr = head_lr
        self.train_encoder = train_encoder
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.inference_batch_size = inference_batch_size
        self.period_features = period_features
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.autocast = autocast
        super().__init__()

    def _fit(self, X, y):
        """Fine-tune the encoder and train the head.

        Parameters
        ----------
        X : pd-multiindex, nested_univ or df-list panel
        y : ndarray of shape (n_instances,)

        Returns
        -------
        self : AstromerTimeSeriesClassifier
        """
        if _several(self.band):
            raise ValueError(
                f"band={self.band!r}: the classifier takes one band; for several, use "
                "AstromerTransformer(band=[...]) in a pipeline with a tabular classifier"
            )
        self.classifier_ = self._inner().fit(self._light_curves(X), y)
        return self

    def _predict(self, X):
        """Predicted class of each series.

        Parameters
        ----------
        X : pd-multiindex, nested_univ or df-list panel

        Returns
        -------
        y : ndarray of shape (n_instances,)
        """
        return self.classifier_.predict(self._light_curves(X))

    def _predict_proba(self, X):
        """Class probabilities of each series.

        Parameters
        ----------
        X : pd-multiindex, nested_univ or df-list panel

        Returns
        -------
        proba : ndarray of shape (n_instances, n_classes)
            Columns in the order of ``classes_``.
        """
        return self.classifier_.predict_proba(self._light_curves(X))

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Tiny configurations for sktime's estimator checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Ignored: every set is the same.

        Returns
        -------
        params : list of dict
        """
        head = {"hidden_layer_sizes": (8,), "head_epochs": 2}
        return [
            {**_TINY, **head, "max_epochs": 1, "random_state": 0},
            {**_TINY, **head, "max_epochs": 0, "train_encoder": True, "random_state": 1},
        ]
