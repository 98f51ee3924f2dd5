"""The single input funnel: every accepted light-curve form becomes one :class:`LightCurves`.

Estimators call :func:`as_light_curves` once at the top of ``fit``/``transform`` and work
on the concatenated arrays from then on. Validation is vectorised over all observations of
all objects, so checking 100k light curves costs a few array passes, not a Python loop per
observation.
"""

from __future__ import annotations

import operator
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_COLUMNS",
    "LightCurves",
    "NonNumericDataError",
    "as_light_curves",
    "n_regular_columns",
    "check_light_curves",
]

#: Column names read from a pandas DataFrame unless ``columns`` overrides them; they match
#: the parquet schema of the shared data sets.
DEFAULT_COLUMNS = {
    "id": "object_id", "time": "mjd", "mag": "mag", "err": "mag_err", "band": "band",
}

#: A magnitude among smaller ones, or a magnitude error, at or beyond this absolute value
#: is refused (see :func:`as_light_curves` for whole curves beyond it). Measured
#: apparent magnitudes lie between about -27 (the Sun) and 32 (the deepest images), absolute
#: magnitudes above about -40; 90 and beyond are catalogue null markers (99, 99.99, 999,
#: 1e30, -99) or fluxes in counts.
MAX_ABS_MAGNITUDE = 90.0

#: A light curve whose every magnitude is smaller than this in absolute value, and which
#: is not constant, holds fluxes (1e-17 erg/s/cm2/A, Jy), not magnitudes.
MIN_MAX_ABS_MAGNITUDE = 1e-3

#: A varying light curve whose every value is at least this in absolute value is refused
#: as fluxes (counts); between MAX_ABS_MAGNITUDE and this it only warns.
FLUX_MAGNITUDE = 1e3

_TO_MAGNITUDES = "convert fluxes with m = -2.5 * log10(f) + zero point"


class NonNumericDataError(ValueError, TypeError):
    """Raised when light-curve data cannot be converted to floating point numbers.

    It derives from both :class:`ValueError` (bad input values) and :class:`TypeError`
    (what :func:`numpy.asarray` raises for, e.g., a dict inside an array), so callers and
    scikit-learn's estimator checks can catch either.
    """


@dataclass(frozen=True, eq=False, repr=False)
class LightCurves:
    """Concatenated light curves: object k is rows ``offsets[k]:offsets[k+1]``.

    Build one with :func:`as_light_curves`; constructing it directly only checks that the
    arrays fit together, not their values.

    Parameters
    ----------
    time : ndarray of shape (n_observations,)
        Observation times (float64), sorted ascending within each object.
    mag : ndarray of shape (n_observations,)
        Magnitudes (float64).
    err : ndarray of shape (n_observations,) or None
        1-sigma magnitude errors (float64), or None when no errors were given.
    offsets : ndarray of shape (n_objects + 1,)
        int64 start of each object in the concatenated arrays, with ``offsets[0] == 0``
        and ``offsets[-1] == n_observations``.
    ids : ndarray of shape (n_objects,), default=None
        Object identifiers when the input carried them (a DataFrame), else None.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_astromer._lightcurves import as_light_curves
    >>> lc = as_light_curves([np.array([[1.0, 15.2], [0.0, 15.0]]), np.array([[2.0, 14.1]])])
    >>> len(lc), lc.lengths.tolist()
    (2, [2, 1])
    >>> time, mag, err = lc[0]
    >>> time.tolist(), mag.tolist(), err
    ([0.0, 1.0], [15.0, 15.2], None)
    """

    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray | None
    offsets: np.ndarray
    ids: np.ndarray | None = None

    def __post_init__(self):
        # Coerce dtypes once here so every consumer can rely on them.
        for name in ("time", "mag", "err"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, np.ascontiguousarray(value, dtype=np.float64))
        offsets = np.asarray(self.offsets, dtype=np.int64)
        object.__setattr__(self, "offsets", offsets)
        if self.ids is not None:
            object.__setattr__(self, "ids", np.asarray(self.ids))

        n_obs = self.time.shape[0]
        if self.time.ndim != 1 or self.mag.shape != self.time.shape:
            raise ValueError(
                f"time and mag must be 1-D arrays of equal length, got shapes "
                f"{self.time.shape} and {self.mag.shape}"
            )
        if self.err is not None and self.err.shape != self.time.shape:
            raise ValueError(f"err has shape {self.err.shape}, expected {self.time.shape}")
        if (
            offsets.ndim != 1
            or offsets.shape[0] < 1
            or offsets[0] != 0
            or offsets[-1] != n_obs
            or np.any(np.diff(offsets) < 0)
        ):
            raise ValueError(
                "offsets must be non-decreasing, start at 0 and end at the number of "
                f"observations ({n_obs})"
            )
        if self.ids is not None and self.ids.shape != (len(self),):
            raise ValueError(f"ids has shape {self.ids.shape}, expected ({len(self)},)")

    def __len__(self) -> int:
        return self.offsets.shape[0] - 1

    def __repr__(self) -> str:
        errors = "with errors" if self.err is not None else "without errors"
        return f"LightCurves(n_objects={len(self)}, n_observations={self.time.shape[0]}, {errors})"

    @property
    def lengths(self) -> np.ndarray:
        """ndarray of shape (n_objects,): number of observations of each object (int64)."""
        return np.diff(self.offsets)

    def __getitem__(self, k) -> tuple:
        """Return ``(time, mag, err_or_None)`` views of object ``k``."""
        n = len(self)
        k = operator.index(k)
        if not -n <= k < n:
            raise IndexError(f"light curve index {k} out of range for {n} objects")
        k %= n
        rows = slice(self.offsets[k], self.offsets[k + 1])
        err = None if self.err is None else self.err[rows]
        return self.time[rows], self.mag[rows], err

    def __iter__(self):
        for k in range(len(self)):
            yield self[k]

    def subset(self, indices) -> LightCurves:
        """Return a new :class:`LightCurves` holding the given objects, in that order.

        Parameters
        ----------
        indices : array-like of int or bool
            Object positions (negative values count from the end; repeats are allowed)
            or a boolean mask of shape (n_objects,).

        Returns
        -------
        LightCurves
            Copies of the selected objects; ``ids`` follow the selection.
        """
        indices = _object_indices(indices, len(self))
        lengths = self.lengths[indices]
        offsets = _offsets_from_lengths(lengths)
        # Row r of the result comes from start-of-its-object + its rank within the object.
        starts = self.offsets[:-1][indices]
        rows = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return LightCurves(
            time=self.time[rows],
            mag=self.mag[rows],
            err=None if self.err is None else self.err[rows],
            offsets=offsets,
            ids=None if self.ids is None else self.ids[indices],
        )


def as_light_curves(X, *, columns=None) -> LightCurves:
    """Convert any accepted light-curve input to a validated :class:`LightCurves`.

    Accepted forms (a :class:`LightCurves` is returned unchanged, without a copy):

    1. a list or tuple of per-object 2-D arrays of shape (n_i, 2) or (n_i, 3) whose
       columns are time, mag[, err];
    2. a list of ``(time, mag)`` or ``(time, mag, err)`` tuples of 1-D arrays (a per-object
       list or tuple is always read as columns, an ndarray always as rows);
    3. a 3-D array of shape (n_objects, n_obs, 2|3), NaN-padded for unequal lengths: an
       observation that is NaN in every column is padding and dropped;
    4. a 2-D array of shape (n_objects, n_obs) of magnitudes on the regular time grid
       ``0, 1, ..., n_obs - 1`` (NaN or inf there is an error, not padding);
    5. a pandas DataFrame, either long (one row per observation) or nested (one row per
       object whose time/mag/err cells hold arrays); it is nested when the time column
       holds array-like cells.

    A per-object array is read as rows of observations, a per-object list or tuple as
    columns. Shapes that read both ways warn (:class:`UserWarning`) with the fix: a 2-D
    array of 2 or 3 columns whose first column increases like times (one light curve passed
    without its list: pass ``[curve]``), one of 2 or 3 rows whose first row increases (one
    ``(time, mag[, err])`` curve: pass ``[tuple(curve)]``), and light curves that are all
    nested lists of 2-3 lists of 2-3 values (columns or observations?).

    Errors are optional but must be given for all objects or none. Times are sorted with a
    stable sort within each object, so duplicated times are kept in their given order.
    All arrays are float64 copies owned by the result, never views of ``X``.

    Magnitudes must be magnitudes. These raise: a value with ``abs(mag) >= 90`` among
    magnitudes below 90 (a null marker such as 99.99 or 1e30), a magnitude error of 90 or
    more, a light curve whose values are all 1000 or more in absolute value (fluxes in
    counts) or all equal and 90 or more (null markers only), and a varying one whose
    values are all below ``1e-3`` in absolute value (fluxes in erg/s/cm2/A or Jy). One
    whose values vary between 90 and 1000 warns (:class:`UserWarning`).

    Parameters
    ----------
    X : list, tuple, array-like, pandas.DataFrame or LightCurves
        Light curves in one of the forms above.
    columns : dict, default=None
        DataFrame column names overriding :data:`DEFAULT_COLUMNS`
        (``{"id": "object_id", "time": "mjd", "mag": "mag", "err": "mag_err"}``); give only
        the keys to change. The err column is optional; the id column is required for a
        long table only. A table with a band column (``"band"``) may hold several bands,
        but not under one object id: such a table raises a ValueError naming the fix
        (select one band, or use :mod:`sklearn_astromer.multiband`), since merging the
        bands into one light curve would be wrong.

    Returns
    -------
    LightCurves
        The validated light curves, objects in input order (long tables: order of first
        appearance), with ``ids`` from a DataFrame's id column.

    Raises
    ------
    NonNumericDataError
        If values cannot be converted to numbers (subclass of ValueError and TypeError).
    ValueError
        For any other invalid input; the message names the offending object, as in
        ``light curve 3 ('CSS_J000020.4+103118'): NaN or infinite time``.

    Warns
    -----
    UserWarning
        When the input's shape can be read in two ways (see above).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_astromer._lightcurves import as_light_curves
    >>> lc = as_light_curves(np.array([[15.0, 15.1, 15.3], [12.0, 12.2, 12.1]]))
    >>> lc[1][0].tolist()  # the implicit regular time grid
    [0.0, 1.0, 2.0]
    >>> as_light_curves([(np.array([0.0, np.nan]), np.array([1.0, 2.0]))])
    Traceback (most recent call last):
    ...
    ValueError: light curve 0: NaN or infinite time (observation 1)
    """
    if isinstance(X, LightCurves):
        # Passed through without a copy; it was validated when built by this function
        # or a reader. A filter may leave one empty, which no estimator can use.
        if len(X) == 0:
            raise ValueError("no light curves: the LightCurves holds 0 objects")
        return X
    if columns is not None and not _is_dataframe(X):
        raise ValueError("columns is only used for pandas DataFrame input")
    if _is_dataframe(X):
        return _from_dataframe(X, columns)
    _reject_sparse(X)
    if isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1:
        # An object array of per-object arrays, e.g. from a pandas column.
        X = list(X)
    if isinstance(X, (list, tuple)):
        return _from_sequence(X)
    return _from_array(X)


def check_light_curves(estimator, X, *, reset):
    """The funnel as estimators use it: ``X`` with the estimator's ``columns``.

    Also keeps ``n_features_in_`` for the regular-grid form, the only one with a fixed
    width: set (``reset=True``) from ``X``, and removed when ``X`` has another form.

    Parameters
    ----------
    estimator : BaseEstimator
        Has a ``columns`` parameter.
    X : object
        Any input accepted by :func:`as_light_curves`.
    reset : bool
        True in ``fit``.

    Returns
    -------
    LightCurves
    """
    lc = as_light_curves(X, columns=estimator.columns)
    if reset:
        width = n_regular_columns(X)
        if width is not None:
            estimator.n_features_in_ = width
        elif hasattr(estimator, "n_features_in_"):
            del estimator.n_features_in_
    return lc


def n_regular_columns(X) -> int | None:
    """Number of magnitudes per object if ``X`` is in the regular-grid form, else None.

    The regular-grid form (form 4 of :func:`as_light_curves`) is a 2-D array-like of shape
    (n_objects, n_obs) of magnitudes, which is what scikit-learn's estimator checks pass.
    Estimators use this to set ``n_features_in_``. Only the structure is inspected; the
    values are validated by :func:`as_light_curves`.

    Parameters
    ----------
    X : object
        Any input accepted by :func:`as_light_curves`.

    Returns
    -------
    int or None
        ``X.shape[1]`` for the regular-grid form, None for every other form.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_astromer._lightcurves import n_regular_columns
    >>> n_regular_columns(np.zeros((4, 7))), n_regular_columns([np.zeros((7, 2))])
    (7, None)
    """
    if isinstance(X, LightCurves) or _is_dataframe(X) or _is_sparse(X):
        return None
    if isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1:
        X = list(X)
    if isinstance(X, (list, tuple)):
        if len(X) == 0 or _sequence_item_kind(X[0]) != "row":
            return None
        try:
            shape = np.shape(X)
        except ValueError:  # ragged rows
            return None
    else:
        shape = np.shape(_as_ndarray(X))
    return int(shape[1]) if len(shape) == 2 else None


def _as_ndarray(X):
    """Array-likes (objects with ``__array__``) as numpy arrays; others unchanged.

    Going through ``__array__`` first keeps wrappers that implement no other
    numpy protocol working.
    """
    if not isinstance(X, np.ndarray) and hasattr(X, "__array__"):
        return np.asarray(X)
    return X


# --------------------------------------------------------------------------- helpers


def _object_name(k, ids=None):
    """``light curve k ('id')``, the prefix of every message about one object."""
    if ids is None:
        return f"light curve {k}"
    object_id = ids[k]
    if isinstance(object_id, np.generic):
        object_id = object_id.item()  # repr of a Python value, not np.str_('...')
    return f"light curve {k} ({object_id!r})"


def _offsets_from_lengths(lengths):
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _object_indices(indices, n):
    indices = np.asarray(indices)
    if indices.dtype == bool:
        if indices.shape != (n,):
            raise IndexError(f"boolean mask has shape {indices.shape}, expected ({n},)")
        return np.flatnonzero(indices)
    if indices.size == 0:
        return np.zeros(0, dtype=np.intp)
    if not np.issubdtype(indices.dtype, np.integer) or indices.ndim != 1:
        raise IndexError("indices must be a 1-D array of integers or a boolean mask")
    if indices.min() < -n or indices.max() >= n:
        raise IndexError(f"light curve indices out of range for {n} objects")
    return indices % n if n else indices


def _is_dataframe(X):
    # Imported lazily, to keep pandas out of the import of array-only code paths.
    import pandas as pd

    return isinstance(X, pd.DataFrame)


def _is_sparse(X):
    from scipy import sparse

    return sparse.issparse(X)


def _reject_sparse(X):
    if _is_sparse(X):
        raise ValueError(
            "Sparse input is not supported: light curves must be dense arrays, lists of "
            "arrays or DataFrames"
        )


def _to_float(values, name):
    """``values`` as float64 (no copy if already so); ``name`` says whose they are."""
    dtype = getattr(values, "dtype", None)
    if np.iscomplexobj(values):
        raise ValueError(f"{name}: Complex data not supported")
    if dtype is not None and dtype.kind in "USV":
        # numpy would silently parse numeric strings; light curves are never text.
        raise NonNumericDataError(
            f"{name}: non-numeric data of dtype {dtype}; convert it to numbers first"
        )
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise NonNumericDataError(f"{name}: non-numeric data ({exc})") from exc


def _to_float_by_object(values):
    """float64 copy of an array whose first axis is objects, naming the bad object."""
    try:
        return _to_float(values, "light curves")
    except NonNumericDataError:
        # Only on failure: convert object by object to say which one is bad.
        for k in range(len(values)):
            _to_float(values[k], _object_name(k))
        raise


# --------------------------------------------------------------------------- arrays


def _from_array(X):
    """Forms 3 and 4: a 3-D padded array or a 2-D regular-grid array."""
    X = _as_ndarray(X)
    try:
        shape = np.shape(X)
    except ValueError as exc:  # numpy refuses ragged nested lists
        raise ValueError(
            "rows of the magnitude array have unequal lengths; pass light curves of "
            f"different lengths as a list of per-object arrays ({exc})"
        ) from exc
    ndim = len(shape)
    if ndim not in (2, 3):
        hint = ""
        if ndim == 1:
            hint = (
                ". Reshape your data with array.reshape(1, -1) if it holds the magnitudes "
                "of one light curve, or pass a list of per-object arrays"
            )
        raise ValueError(
            "expected a list of light curves, a 2-D array (n_objects, n_obs) of "
            "magnitudes, a 3-D array (n_objects, n_obs, 2|3) or a DataFrame; got a "
            f"{ndim}-D array of shape {shape}{hint}"
        )
    values = _to_float_by_object(X)
    if values.shape[0] == 0:
        raise ValueError(f"no light curves: got an array of shape {values.shape}")
    if ndim == 2:
        _warn_if_one_light_curve(values)
        return _from_regular(values)
    return _from_padded(values)


def _increasing(values):
    """True when ``values`` (1-D) has at least 3 values, each above the one before."""
    return values.shape[0] >= 3 and bool(np.all(np.diff(values) > 0))


def _warn_if_one_light_curve(values):
    """Warn when a 2-D magnitude array looks like one light curve passed without a list.

    The regular grid is what scikit-learn's tools pass, so it stays the reading; but 2 or
    3 columns (rows) of which the first increases over at least 3 values and the second
    does not are far more likely times and magnitudes than the first and second
    magnitudes of as many objects.
    """
    n_rows, n_cols = values.shape
    if n_cols in (2, 3) and _increasing(values[:, 0]) and not _increasing(values[:, 1]):
        fix = (
            f"if it is one light curve with columns time, mag{', err' if n_cols == 3 else ''}, "
            "pass it in a list: [curve]"
        )
    elif n_rows in (2, 3) and _increasing(values[0]) and not _increasing(values[1]):
        fix = (
            f"if it is one light curve with rows time, mag{', err' if n_rows == 3 else ''}, "
            "pass [tuple(curve)]"
        )
    else:
        return
    warnings.warn(
        f"a 2-D array of shape {values.shape} is read as {n_rows} light curves of {n_cols} "
        f"magnitudes each, at times 0, 1, ..., {n_cols - 1}; {fix}",
        UserWarning,
        stacklevel=4,
    )


def _from_regular(values):
    n_objects, n_obs = values.shape
    if n_obs == 0:
        # Worded so scikit-learn's check_estimators_empty_data_messages recognises it.
        raise ValueError(
            f"light curve 0: empty light curve (0 observations); got 0 feature(s) "
            f"(shape={values.shape}) while a minimum of 1 is required."
        )
    time = np.tile(np.arange(n_obs, dtype=np.float64), n_objects)
    offsets = np.arange(n_objects + 1, dtype=np.int64) * n_obs
    # Copy: the magnitudes may still be the caller's array.
    return _finalize(time, values.ravel().copy(), None, offsets)


def _from_padded(values):
    n_cols = values.shape[2]
    if n_cols not in (2, 3):
        raise ValueError(
            f"a 3-D array must have shape (n_objects, n_obs, 2|3) with columns time, "
            f"mag[, err]; got shape {values.shape}"
        )
    is_nan = np.isnan(values)
    padding = is_nan.all(axis=2)
    partial = is_nan.any(axis=2) & ~padding
    if partial.any():
        k, j = np.argwhere(partial)[0]
        raise ValueError(
            f"{_object_name(k)}: observation {j} is NaN in some columns only (padding "
            "must be NaN in every column)"
        )
    keep = ~padding
    rows = values[keep]  # (N, n_cols), object-major like the concatenated layout
    offsets = _offsets_from_lengths(keep.sum(axis=1))
    err = rows[:, 2] if n_cols == 3 else None
    return _finalize(rows[:, 0], rows[:, 1], err, offsets)


# --------------------------------------------------------------------------- lists


def _sequence_item_kind(item):
    """How the first item of a list input reads: 'scalar', 'row' or 'object'.

    'row' means the list is a 2-D array-like of magnitudes (form 4), 'object' that each
    item is one light curve (forms 1 and 2), 'scalar' that the list is 1-D.
    """
    if isinstance(item, (list, tuple)):
        if len(item) == 0:
            return "row"
        return "object" if np.ndim(item[0]) > 0 else "row"
    if isinstance(item, np.ndarray) and item.dtype == object and item.ndim == 1:
        # An object array of column arrays: the tuple form stored in an array.
        return "object" if item.size and np.ndim(item[0]) > 0 else "row"
    ndim = np.ndim(item)
    if ndim == 0:
        return "scalar"
    return "row" if ndim == 1 else "object"


def _from_sequence(X):
    if len(X) == 0:
        raise ValueError("no light curves: the input holds 0 objects")
    kind = _sequence_item_kind(X[0])
    if kind != "object":
        return _from_array(X)

    columns = [_object_columns(k, item) for k, item in enumerate(X)]
    _warn_if_nested_lists_are_ambiguous(X)
    with_err = np.array([err is not None for _, _, err in columns])
    if not (with_err.all() or not with_err.any()):
        k = int(np.argmax(with_err != with_err[0]))
        has, lacks = ("has", "lacks") if with_err[k] else ("lacks", "has")
        raise ValueError(
            f"{_object_name(k)}: {has} magnitude errors while light curve 0 {lacks} "
            "them; give errors for all light curves or for none"
        )
    time = np.concatenate([c[0] for c in columns])
    mag = np.concatenate([c[1] for c in columns])
    err = np.concatenate([c[2] for c in columns]) if with_err[0] else None
    offsets = _offsets_from_lengths([len(c[0]) for c in columns])
    return _finalize(time, mag, err, offsets)


def _is_nested_list(item):
    """A per-object list or tuple whose parts are lists or tuples (not arrays)."""
    return isinstance(item, (list, tuple)) and all(
        isinstance(part, (list, tuple)) for part in item
    )


def _warn_if_nested_lists_are_ambiguous(X):
    """Warn when every nested-list light curve reads both as columns and as rows.

    A list ``[[t0, t1, t2], [m0, m1, m2]]`` is read as columns (time, mag); written as
    observations ``[[t0, m0], [t1, m1], [t2, m2]]`` it has the same structure when it
    holds 2 or 3 observations (longer ones fail with a hint). One light curve of another
    shape in ``X`` shows which was meant, so the warning is for inputs where none does.
    """
    nested = [k for k, item in enumerate(X) if _is_nested_list(item)]
    if not nested or not all(
        len(X[k]) in (2, 3) and all(len(part) in (2, 3) for part in X[k]) for k in nested
    ):
        return
    k = nested[0]
    n_parts, n_values = len(X[k]), len(X[k][0])
    warnings.warn(
        f"{_object_name(k)}: a nested list of {n_parts} lists of {n_values} values is read "
        f"as columns (time, mag{', err' if n_parts == 3 else ''}) of {n_values} observations; "
        f"if its {n_parts} lists are observations (time, mag[, err]), pass "
        "np.asarray(curve) instead, an array being read as rows of observations",
        UserWarning,
        stacklevel=4,
    )


def _object_columns(k, item):
    """``(time, mag, err_or_None)`` float64 columns of one object of a list input."""
    name = _object_name(k)
    if isinstance(item, (list, tuple)) or (
        isinstance(item, np.ndarray) and item.dtype == object and item.ndim == 1
    ):
        return _tuple_columns(name, item)
    values = _to_float(item, name)
    if values.ndim != 2 or values.shape[1] not in (2, 3):
        hint = ""
        if values.ndim == 2 and values.shape[0] in (2, 3):
            hint = "; if its rows are time, mag[, err], pass its transpose (curve.T)"
        raise ValueError(
            f"{name}: expected an array of shape (n_obs, 2) or (n_obs, 3) with columns "
            f"time, mag[, err], got shape {values.shape}{hint}"
        )
    err = values[:, 2] if values.shape[1] == 3 else None
    return values[:, 0], values[:, 1], err


def _tuple_columns(name, item):
    if len(item) not in (2, 3):
        raise ValueError(
            f"{name}: expected a (time, mag) or (time, mag, err) tuple, got {len(item)} "
            "columns; a list or tuple per light curve is read as columns: if its items are "
            "observations (time, mag[, err]), pass np.asarray(curve), read as rows"
        )
    parts = [_to_float(part, name) for part in item]
    if any(part.ndim != 1 for part in parts):
        shapes = ", ".join(str(part.shape) for part in parts)
        raise ValueError(f"{name}: (time, mag[, err]) columns must be 1-D, got shapes {shapes}")
    if len({part.shape[0] for part in parts}) > 1:
        lengths = ", ".join(
            f"{label} has {part.shape[0]}" for label, part in zip(("time", "mag", "err"), parts)
        )
        raise ValueError(f"{name}: mismatched column lengths ({lengths} values)")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


# --------------------------------------------------------------------------- DataFrames


def _from_dataframe(df, columns):
    names = _column_names(columns)
    missing = [names[key] for key in ("time", "mag") if names[key] not in df.columns]
    if missing:
        _raise_missing(df, missing)
    nested = _holds_arrays(df[names["time"]])
    if not nested and names["id"] not in df.columns:
        _raise_missing(df, [names["id"]])
    if len(df) == 0:
        raise ValueError("no light curves: the DataFrame has 0 rows")
    _refuse_several_bands(df, names, nested)
    if nested:
        return _from_nested(df, names)
    return _from_long(df, names)


def _refuse_several_bands(df, names, nested):
    """Raise when one object id has rows in several bands: they are never merged.

    A single-band estimator would read a long table's rows of one id in two bands as one
    light curve (jumping between the bands' magnitudes), and a nested table's rows of one
    id as two unrelated objects. Tables whose every object has one band pass.
    """
    band, id_column = names["band"], names["id"]
    if band not in df.columns or id_column not in df.columns:
        return
    pairs = df[[id_column, band]].drop_duplicates()
    repeated = pairs[id_column].duplicated(keep=False)
    if not repeated.any():
        return
    object_id = pairs[id_column][repeated].iloc[0]
    its_bands = sorted(map(str, pairs[band][pairs[id_column] == object_id]))
    all_bands = sorted(map(str, df[band].dropna().unique()))
    raise ValueError(
        f"object {object_id!r} has {'rows' if not nested else 'light curves'} in "
        f"{len(its_bands)} bands {its_bands} (column {band!r}); a single-band estimator does "
        "not merge bands. Select one band first, e.g. "
        f"X[X[{band!r}] == {all_bands[0]!r}] (band={all_bands[0]!r} in the readers, "
        f"--band {all_bands[0]} on the command line), or use all bands with the multi-band "
        "estimators of sklearn_astromer.multiband (MultiBandFeatures, MultiBandEmbedder)"
    )


def _column_names(columns):
    columns = {} if columns is None else dict(columns)
    unknown = sorted(set(columns) - set(DEFAULT_COLUMNS))
    if unknown:
        raise ValueError(
            f"unknown keys {unknown} in columns; expected some of {sorted(DEFAULT_COLUMNS)}"
        )
    return {**DEFAULT_COLUMNS, **columns}


def _raise_missing(df, missing):
    raise ValueError(
        f"DataFrame is missing column(s) {missing}; it has {list(df.columns)}. Pass "
        "columns={'id': ..., 'time': ..., 'mag': ..., 'err': ...} to use other names"
    )


def _holds_arrays(series):
    """True when a column's cells are arrays (nested table), False for scalars (long)."""
    import pandas as pd

    if isinstance(series.dtype, pd.ArrowDtype):
        import pyarrow as pa

        arrow_type = series.dtype.pyarrow_dtype
        return pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
    if series.dtype != object:
        return False
    for value in series:
        if value is not None and not (np.ndim(value) == 0 and pd.isna(value)):
            return np.ndim(value) > 0 and not isinstance(value, (str, bytes))
    return False


def _from_long(df, names):
    import pandas as pd

    id_column = df[names["id"]]
    codes, uniques = pd.factorize(id_column, sort=False)  # order of first appearance
    if np.any(codes < 0):
        row = int(np.argmax(codes < 0))
        raise ValueError(f"row {row}: missing object id in column {names['id']!r}")
    ids = np.asarray(uniques)

    # Stable grouping keeps each object's rows in their given order.
    order = np.argsort(codes, kind="stable")
    offsets = _offsets_from_lengths(np.bincount(codes, minlength=len(ids)))

    def column(key):
        values = _long_column(df[names[key]], codes, ids)
        return values[order]

    err = column("err") if names["err"] in df.columns else None
    return _finalize(column("time"), column("mag"), err, offsets, ids)


def _long_column(series, codes, ids):
    """float64 values of a long-table column, naming the object of a bad value."""
    import pandas as pd

    name = f"column {series.name!r}"
    if series.dtype.kind == "c":
        raise ValueError(f"{name}: Complex data not supported")
    try:
        # Missing values (None, pd.NA) become NaN and are reported per object later.
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        coerced = pd.to_numeric(series, errors="coerce")
        bad = (coerced.isna() & series.notna()).to_numpy()
        if bad.any():
            name = f"{_object_name(codes[int(np.argmax(bad))], ids)}, {name}"
        raise NonNumericDataError(f"{name}: non-numeric data ({exc})") from exc


def _from_nested(df, names):
    ids = df[names["id"]].to_numpy() if names["id"] in df.columns else None
    time, time_lengths = _nested_column(df[names["time"]], ids)
    mag, mag_lengths = _nested_column(df[names["mag"]], ids)
    lengths = {names["time"]: time_lengths, names["mag"]: mag_lengths}
    err = None
    if names["err"] in df.columns:
        err, lengths[names["err"]] = _nested_column(df[names["err"]], ids)

    mismatch = np.zeros(len(df), dtype=bool)
    for column_lengths in lengths.values():
        mismatch |= column_lengths != time_lengths
    if mismatch.any():
        k = int(np.argmax(mismatch))
        counts = ", ".join(f"{name} has {n[k]}" for name, n in lengths.items())
        raise ValueError(f"{_object_name(k, ids)}: mismatched column lengths ({counts} values)")
    return _finalize(time, mag, err, _offsets_from_lengths(time_lengths), ids)


def _nested_column(series, ids):
    """Flattened float64 values and per-row lengths of a column of array cells."""
    import pandas as pd

    if isinstance(series.dtype, pd.ArrowDtype):
        import pyarrow as pa
        import pyarrow.compute as pc

        lists = pa.array(series)
        # A null cell counts as an empty light curve; null values inside become NaN.
        lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy()
        values = pc.list_flatten(lists).to_numpy(zero_copy_only=False)
        return _to_float(values, f"column {series.name!r}"), lengths.astype(np.int64)

    cells = [
        np.zeros(0) if cell is None or (np.ndim(cell) == 0 and pd.isna(cell)) else cell
        for cell in series
    ]
    pieces = [_to_float(cell, _object_name(k, ids)) for k, cell in enumerate(cells)]
    for k, piece in enumerate(pieces):
        if piece.ndim != 1:
            raise ValueError(
                f"{_object_name(k, ids)}: cells of column {series.name!r} must be 1-D, "
                f"got shape {piece.shape}"
            )
    lengths = np.array([piece.shape[0] for piece in pieces], dtype=np.int64)
    return np.concatenate(pieces), lengths


# --------------------------------------------------------------------------- validation


def _finalize(time, mag, err, offsets, ids=None):
    """Validate concatenated columns and sort each object by time."""
    lengths = np.diff(offsets)
    if lengths.shape[0] == 0:
        raise ValueError("no light curves: the input holds 0 objects")
    _raise_first(lengths == 0, None, ids, "empty light curve (0 observations)")
    _raise_first(~np.isfinite(time), offsets, ids, "NaN or infinite time")
    _raise_first(~np.isfinite(mag), offsets, ids, "NaN or infinite magnitude")
    _check_magnitudes(mag, offsets, ids)
    if err is not None:
        # Written so NaN fails too: NaN >= 0 is False.
        _raise_first(~((err >= 0) & (err < np.inf)), offsets, ids, "negative or non-finite error")
        _raise_first(
            err >= MAX_ABS_MAGNITUDE, offsets, ids,
            f"magnitude error of {MAX_ABS_MAGNITUDE:g} or more, a null marker such as "
            "99.99 to remove",
        )
    order = _time_order(time, offsets)
    if order is not None:
        time, mag = time[order], mag[order]
        err = None if err is None else err[order]
    return LightCurves(time=time, mag=mag, err=err, offsets=offsets, ids=ids)


def _validated(lc):
    """A :class:`LightCurves` built without checks, checked and sorted by the funnel's rules.

    Readers build their light curves straight from flat columns (no per-object arrays)
    and validate them here; an empty ``lc`` is returned as it is (a filter may leave
    nothing). The arrays are not copied unless an object needs sorting.
    """
    if len(lc) == 0:
        return lc
    return _finalize(lc.time, lc.mag, lc.err, lc.offsets, lc.ids)


def _as_arrays(lc):
    """Form 1 of :func:`as_light_curves`: per-object (n_i, 2|3) arrays, time, mag[, err].

    The arrays are views of one (n_observations, 2|3) buffer, so building them costs one
    copy of the data and no loop over objects beyond the split.
    """
    if len(lc) == 0:
        return []
    columns = [lc.time, lc.mag] + ([] if lc.err is None else [lc.err])
    return np.split(np.column_stack(columns), lc.offsets[1:-1])


def _check_magnitudes(mag, offsets, ids):
    """Refuse values that cannot be magnitudes: null markers and fluxes.

    Every object has at least one observation here (empty ones were refused), so the
    per-object reductions over ``offsets[:-1]`` are well defined. Everything is decided
    from each object's finite minimum and maximum (two passes over ``mag``).
    """
    starts = offsets[:-1]
    hi = np.maximum.reduceat(mag, starts)  # (n_objects,)
    lo = np.minimum.reduceat(mag, starts)
    largest = np.maximum(np.abs(hi), np.abs(lo))  # max |mag| of each object
    # min |mag|: 0 when the curve crosses zero, else the end nearer to it.
    smallest = np.where((lo < 0) & (hi > 0), 0.0, np.minimum(np.abs(hi), np.abs(lo)))
    varies = hi > lo
    # Null markers among magnitudes: the silent poison, always refused.
    marked = (largest >= MAX_ABS_MAGNITUDE) & (smallest < MAX_ABS_MAGNITUDE)
    if marked.any():
        k = int(np.argmax(marked))
        curve = mag[offsets[k]:offsets[k + 1]]
        j = int(np.argmax(np.abs(curve) >= MAX_ABS_MAGNITUDE))
        raise ValueError(
            f"{_object_name(k, ids)}: impossible magnitude {curve[j]:g} (observation "
            f"{j}): values of {MAX_ABS_MAGNITUDE:g} or more in absolute "
            "value are null markers (99, 99.99, 1e30); remove these observations"
        )
    # Whole curves beyond the bound: fluxes, or nothing but null markers. Those below
    # FLUX_MAGNITUDE that vary only warn: scikit-learn's generic checks pass such
    # features (values near 100) as the regular grid.
    entire = smallest >= MAX_ABS_MAGNITUDE
    refused = entire & ((smallest >= FLUX_MAGNITUDE) | ~varies)
    if entire.any():
        k = int(np.argmax(refused if refused.any() else entire))
        message = (
            f"{_object_name(k, ids)}: every value is {MAX_ABS_MAGNITUDE:g} or more in "
            f"absolute value ({smallest[k]:g} to {largest[k]:g}), so these are not "
            f"magnitudes but fluxes or null markers; {_TO_MAGNITUDES}"
        )
        if refused.any():
            raise ValueError(message)
        warnings.warn(message, UserWarning, stacklevel=4)
    fluxes = (largest < MIN_MAX_ABS_MAGNITUDE) & varies
    if fluxes.any():
        k = int(np.argmax(fluxes))
        raise ValueError(
            f"{_object_name(k, ids)}: every value is below {MIN_MAX_ABS_MAGNITUDE:g} in "
            f"absolute value (largest {largest[k]:.3g}) while the curve varies: fluxes, not "
            f"magnitudes; {_TO_MAGNITUDES}. Magnitudes relative to a reference of so small "
            "an amplitude can be given with any constant added (each window is centred on "
            "its mean magnitude, so the embedding does not change beyond rounding)"
        )


def _raise_first(bad, offsets, ids, problem):
    """Raise about the first True in ``bad``: per object if offsets is None, else per row."""
    if not bad.any():
        return
    i = int(np.argmax(bad))
    if offsets is None:
        raise ValueError(f"{_object_name(i, ids)}: {problem}")
    k = int(np.searchsorted(offsets, i, side="right")) - 1
    raise ValueError(f"{_object_name(k, ids)}: {problem} (observation {i - offsets[k]})")


def _time_order(time, offsets):
    """Stable permutation sorting times within each object, or None if already sorted."""
    decreasing = np.diff(time) < 0
    # A drop from one object's last time to the next object's first is not disorder.
    decreasing[offsets[1:-1] - 1] = False
    if not decreasing.any():
        return None
    object_index = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return np.lexsort((time, object_index))


def light_curve_blocks(lc, size):
    """Consecutive blocks of at most ``size`` light curves, as views of ``lc``.

    Parameters
    ----------
    lc : LightCurves
    size : int
        Most light curves per block.

    Yields
    ------
    start : int
        Position in ``lc`` of the block's first light curve.
    block : LightCurves
        Light curves ``start`` to ``start + size``: slices of ``lc``'s arrays, no
        copies (``lc`` itself when it fits in one block).
    """
    n = len(lc)
    if n <= size:
        yield 0, lc
        return
    for start in range(0, n, size):
        stop = min(start + size, n)
        first, last = lc.offsets[start], lc.offsets[stop]
        rows = slice(first, last)
        yield start, LightCurves(
            time=lc.time[rows],
            mag=lc.mag[rows],
            err=None if lc.err is None else lc.err[rows],
            offsets=lc.offsets[start:stop + 1] - first,
            ids=None if lc.ids is None else lc.ids[start:stop],
        )
