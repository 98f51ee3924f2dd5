"""Light-curve data sets: a synthetic generator and a reader/writer for the parquet schema.

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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sklearn.utils import check_random_state

from ._lightcurves import _object_name, as_light_curves

__all__ = ["load_light_curves", "make_light_curves", "write_light_curves"]

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


# --------------------------------------------------------------------------- parquet


def load_light_curves(path, *, classes=None, band=None, min_obs=1, return_ids=False):
    """Read light curves from a parquet file in the schema of this module.

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
        Keep only light curves with at least this many observations.
    return_ids : bool, default=False
        Also return the object ids.

    Returns
    -------
    X : list of ndarray of shape (n_obs_i, 3)
        Columns time, magnitude, error (float64), in file order; shape (n_obs_i, 2) when
        the file has no ``mag_err`` column. The arrays are views of one shared buffer.
    y : ndarray of shape (n_objects,) or None
        Labels (str), or None when the file has no ``label`` column.
    ids : ndarray of shape (n_objects,)
        Object ids (object dtype), returned only when ``return_ids`` is True.

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
    """
    parquet = pq.ParquetFile(path)
    available = parquet.schema_arrow.names
    missing = [name for name in ("mjd", "mag") if name not in available]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; it has {available}")
    wanted = ["object_id", "label", "band", "mjd", "mag", "mag_err"]
    table = parquet.read(columns=[name for name in wanted if name in available])

    keep = pc.greater_equal(_list_lengths(table["mjd"]), min_obs)
    if classes is not None:
        keep = pc.and_(keep, _isin(table, "label", classes, path, check_known=True))
    if band is not None:
        keep = pc.and_(keep, _isin(table, "band", band, path, check_known=False))
    table = table.filter(keep)

    X = _split_lists(table)
    y = _labels(table["label"]) if "label" in table.column_names else None
    if not return_ids:
        return X, y
    ids = (
        table["object_id"].to_numpy(zero_copy_only=False).astype(object)
        if "object_id" in table.column_names
        else np.array([f"obj{k}" for k in range(len(X))], dtype=object)
    )
    return X, y, ids


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


def _split_lists(table):
    """Per-object (n_i, n_columns) float64 arrays from the list columns, without row loops."""
    names = [name for name in ("mjd", "mag", "mag_err") if name in table.column_names]
    lengths = {name: _list_lengths(table[name]).to_numpy() for name in names}
    for name in names[1:]:
        bad = np.flatnonzero(lengths[name] != lengths["mjd"])
        if bad.size:
            k = int(bad[0])
            ids = (
                table["object_id"].to_numpy(zero_copy_only=False)
                if "object_id" in table.column_names
                else None
            )
            raise ValueError(
                f"{_object_name(k, ids)}: mismatched column lengths (mjd has "
                f"{lengths['mjd'][k]}, {name} has {lengths[name][k]} values)"
            )
    offsets = np.concatenate([[0], np.cumsum(lengths["mjd"], dtype=np.int64)])
    data = np.empty((offsets[-1], len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        data[:, j] = pc.list_flatten(table[name]).to_numpy()
    return np.split(data, offsets[1:-1]) if len(table) else []


def _labels(column):
    if column.null_count:
        return column.to_numpy(zero_copy_only=False).astype(object)
    return column.to_numpy(zero_copy_only=False).astype(str)


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
    band : str, default=None
        Passband written for every row; None writes no ``band`` column.

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
    lc = as_light_curves(X)
    n = len(lc)
    if ids is None:
        ids = lc.ids if lc.ids is not None else [f"obj{k}" for k in range(n)]
    columns = {"object_id": _strings(ids, n, "ids")}
    if y is not None:
        columns["label"] = _strings(y, n, "y")
    if band is not None:
        columns["band"] = pa.array([str(band)] * n, pa.string())
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
