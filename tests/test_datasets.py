import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_astromer import LightCurves
from sklearn_astromer._lightcurves import as_light_curves
from sklearn_astromer.datasets import (
    _drop_placeholders,
    drop_placeholder_times,
    iter_light_curves,
    load_crts_sample,
    load_light_curves,
    make_light_curves,
    write_light_curves,
)

ALL_CLASSES = ["RRab", "RRc", "EA", "EW", "LPV", "Cepheid"]
# Period ranges in days of the synthetic classes, as documented by make_light_curves.
PERIODS = {
    "RRab": (0.45, 0.75),
    "RRc": (0.25, 0.4),
    "EA": (1.0, 5.0),
    "EW": (0.25, 0.5),
    "LPV": (100.0, 400.0),
    "Cepheid": (3.0, 30.0),
}
# Two eclipses per orbit: the periodogram of an eclipsing binary peaks at half its period.
ECLIPSING = {"EA", "EW"}


def periodogram_peak(time, mag, *, max_frequency=9.0, oversample=5, block=512):
    """Period (days) of the highest peak of the classical periodogram, numpy only.

    The frequency grid is uniform, so each block of rows exp(2i pi f t) is the previous
    block times one fixed phase step: no trigonometry inside the loop.
    """
    t = time - time[0]
    y = mag - mag.mean()
    step = 1.0 / (oversample * t[-1])
    frequencies = np.arange(step, max_frequency, step)
    power = np.empty(frequencies.size)
    rows = np.exp(2j * np.pi * np.outer(frequencies[:block], t))
    advance = np.exp(2j * np.pi * block * step * t)
    for start in range(0, frequencies.size, block):
        power[start : start + block] = (np.abs(rows @ y) ** 2)[: frequencies.size - start]
        rows *= advance
    return 1.0 / frequencies[np.argmax(power)]


# --------------------------------------------------------------------------- synthetic


def test_make_light_curves_is_determined_by_random_state():
    X1, y1 = make_light_curves(5, random_state=3)
    X2, y2 = make_light_curves(5, random_state=np.random.RandomState(3))
    assert_array_equal(y1, y2)
    for a, b in zip(X1, X2):
        assert_array_equal(a, b)
    X3, _ = make_light_curves(5, random_state=4)
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(X1, X3))


def test_make_light_curves_shapes_and_classes():
    X, y = make_light_curves(8, n_obs=(60, 120), random_state=0)
    assert isinstance(X, list) and len(X) == len(y) == 8 * len(ALL_CLASSES)
    assert y.dtype.kind == "U"
    labels, counts = np.unique(y, return_counts=True)
    assert sorted(labels) == sorted(ALL_CLASSES) and set(counts) == {8}
    assert len(set(y[:8])) > 1  # objects are shuffled
    for x in X:
        assert x.dtype == np.float64 and x.ndim == 2 and x.shape[1] == 3
        assert 60 <= len(x) <= 120
        assert np.all(np.diff(x[:, 0]) >= 0)
        assert np.all(x[:, 2] > 0)
        assert 300 < x[-1, 0] - x[0, 0] < 2200
    lc = as_light_curves(X)
    assert len(lc) == len(X)

    X, y = make_light_curves(3, classes=["EA", "LPV"], n_obs=40, random_state=0)
    assert sorted(set(y)) == ["EA", "LPV"] and {len(x) for x in X} == {40}
    _, y = make_light_curves(2, classes="RRc", random_state=0)
    assert y.tolist() == ["RRc", "RRc"]


def test_sampling_has_seasonal_gaps_and_survey_like_magnitudes():
    X, y = make_light_curves(10, classes=["RRab", "EW"], random_state=1)
    for x in X:
        gaps = np.diff(x[:, 0])
        if x[-1, 0] - x[0, 0] > 400:
            assert gaps.max() > 60  # the field is not observable part of the year
        assert 12.0 < np.median(x[:, 1]) < 18.0
    # Errors vary point to point and grow with magnitude.
    x = X[0]
    assert np.std(x[:, 2]) > 0
    faint = x[:, 1] > np.median(x[:, 1])
    assert x[faint, 2].mean() > x[~faint, 2].mean()


def test_noise_zero_gives_noiseless_curves():
    X, _ = make_light_curves(2, noise=0.0, random_state=0)
    assert all(np.all(x[:, 2] == 0) for x in X)
    as_light_curves(X)  # zero errors are valid


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"classes": ["RRab", "Mira"]}, r"unknown classes \['Mira'\]"),
        ({"classes": []}, r"unknown classes"),
        ({"n_obs": (10, 5)}, r"n_obs"),
        ({"n_obs": 0}, r"n_obs"),
        ({"n_per_class": 0}, r"n_per_class"),
        ({"noise": -1.0}, r"noise"),
    ],
)
def test_make_light_curves_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_light_curves(**kwargs)


def test_each_class_has_its_own_recoverable_period():
    # One clean, well-sampled object per class: the periodogram peak falls in the class
    # range (half of it for eclipsing binaries), so periods separate the classes.
    X, y = make_light_curves(1, n_obs=150, noise=0.01, random_state=0)
    for x, name in zip(X, y):
        low, high = PERIODS[name]
        if name in ECLIPSING:
            low /= 2
        period = periodogram_peak(x[:, 0], x[:, 1])
        assert 0.95 * low <= period <= 1.05 * high, (name, period)


# --------------------------------------------------------------------------- parquet


def assert_round_trip(X_written, X_read):
    assert len(X_written) == len(X_read)
    for a, b in zip(X_written, X_read):
        assert b.dtype == np.float64 and b.shape == a.shape
        assert_array_equal(b[:, 0], a[:, 0])  # times are stored as float64
        assert_allclose(b[:, 1:], a[:, 1:], rtol=1e-6)  # magnitudes and errors as float32


def test_write_then_load_round_trip(tmp_path):
    X, y = make_light_curves(4, random_state=0)
    path = tmp_path / "synthetic.parquet"
    write_light_curves(path, X, y, band="V")
    X2, y2, ids = load_light_curves(path, return_ids=True)
    assert_round_trip(X, X2)
    assert_array_equal(y2, y)
    assert ids.tolist() == [f"obj{k}" for k in range(len(X))]

    schema = pq.read_schema(path)
    assert schema.names == ["object_id", "label", "band", "ra", "dec", "mjd", "mag", "mag_err"]
    assert schema.field("mjd").type == pa.list_(pa.float64())
    assert schema.field("mag").type == pa.list_(pa.float32())
    assert pd.read_parquet(path)["band"].unique().tolist() == ["V"]


def test_load_filters(tmp_path):
    X, y = make_light_curves(5, n_obs=(20, 80), random_state=1)
    path = tmp_path / "lc.parquet"
    write_light_curves(path, X, y, ids=[f"star{k}" for k in range(len(X))], band="V")

    X2, y2, ids = load_light_curves(path, classes=["EA", "RRc"], return_ids=True)
    keep = np.isin(y, ["EA", "RRc"])
    assert_array_equal(y2, y[keep])
    assert_array_equal(ids, np.array([f"star{k}" for k in np.flatnonzero(keep)]))
    assert_round_trip([x for x, k in zip(X, keep) if k], X2)

    X2, y2 = load_light_curves(path, min_obs=50)
    assert_array_equal(y2, y[[len(x) >= 50 for x in X]])
    assert all(len(x) >= 50 for x in X2)

    assert len(load_light_curves(path, band="V")[0]) == len(X)
    assert len(load_light_curves(path, band=["R", "V"])[0]) == len(X)
    X2, y2 = load_light_curves(path, band="R")
    assert X2 == [] and y2.shape == (0,)
    with pytest.raises(ValueError, match=r"no label \['Mira'\]"):
        load_light_curves(path, classes=["EA", "Mira"])


def test_file_without_labels_band_or_errors(tmp_path):
    X, _ = make_light_curves(2, random_state=2)
    X = [x[:, :2] for x in X]
    path = tmp_path / "unlabelled.parquet"
    write_light_curves(path, X)
    assert pq.read_schema(path).names == ["object_id", "ra", "dec", "mjd", "mag"]
    X2, y2 = load_light_curves(path)
    assert y2 is None
    assert_round_trip(X, X2)
    with pytest.raises(ValueError, match="no such column"):
        load_light_curves(path, classes=["EA"])
    with pytest.raises(ValueError, match="no such column"):
        load_light_curves(path, band="V")


def test_write_accepts_any_input_form_and_keeps_dataframe_ids(tmp_path):
    df = pd.DataFrame(
        {
            "object_id": ["a", "a", "b", "a"],
            "mjd": [2.0, 0.0, 5.0, 1.0],
            "mag": [12.0, 10.0, 15.0, 11.0],
        }
    )
    path = tmp_path / "long.parquet"
    write_light_curves(path, df, ["x", "y"])
    X, y, ids = load_light_curves(path, return_ids=True)
    assert ids.tolist() == ["a", "b"] and y.tolist() == ["x", "y"]
    assert_array_equal(X[0], [[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])  # sorted on writing

    with pytest.raises(ValueError, match=r"y has shape \(3,\), expected \(2,\)"):
        write_light_curves(path, df, ["x", "y", "z"])


def test_mismatched_list_lengths_in_file_are_reported(tmp_path):
    table = pa.table(
        {
            "object_id": ["a", "b"],
            "mjd": [[0.0, 1.0], [0.0, 1.0, 2.0]],
            "mag": [[1.0, 2.0], [1.0, 2.0]],
        }
    )
    path = tmp_path / "bad.parquet"
    pq.write_table(table, path)
    with pytest.raises(ValueError, match=r"light curve 1 \('b'\): mismatched column lengths"):
        load_light_curves(path)


# --------------------------------------------------------------------------- real data


def test_load_crts(crts_path):
    path = crts_path
    X, y, ids = load_light_curves(path, return_ids=True)
    assert len(X) == len(y) == len(ids) == 5757
    assert len(set(y)) == 16
    lengths = np.array([len(x) for x in X])
    assert np.median(lengths) == 302 and lengths.max() == 546
    assert all(x.dtype == np.float64 and x.shape[1] == 3 for x in X[:10])

    X5, y5 = load_light_curves(path, classes=["EA", "EW", "RRab", "RRc", "RS_CVn"])
    labels, counts = np.unique(y5, return_counts=True)
    assert dict(zip(labels, counts)) == {
        "EA": 996,
        "EW": 994,
        "RRab": 994,
        "RRc": 994,
        "RS_CVn": 757,
    }
    assert len(load_light_curves(path, band="CSS_V")[0]) == 5757
    assert load_light_curves(path, band="ASAS_V")[0] == []
    assert len(load_light_curves(path, min_obs=300)[0]) == np.sum(lengths >= 300)

    # Same values as pandas reads them.
    df = pd.read_parquet(path)
    assert_array_equal(ids, df["object_id"].to_numpy())
    assert_array_equal(X[7][:, 1], df["mag"].iloc[7])

    # Four curves start with one observation at a placeholder time (Julian date 0); it
    # is dropped and nothing else is.
    raw = df["mjd"].map(len).to_numpy()
    changed = np.flatnonzero(lengths != raw)
    assert changed.tolist() == [759, 786, 787, 788]
    assert np.all(raw[changed] - lengths[changed] == 1)
    for k in changed:
        assert df["mjd"].iloc[k][0] == PLACEHOLDER
        assert_array_equal(X[k][:, 0], df["mjd"].iloc[k][1:])
    X_raw, _ = load_light_curves(path, drop_placeholders=False)
    assert np.array_equal([len(x) for x in X_raw], raw)


def test_iter_crts_in_batches_is_the_whole_file(crts_path):
    path = crts_path
    lc, y = load_light_curves(path, as_light_curves=True)
    assert len(lc) == 5757 and lc.time.min() > 50000  # no placeholder left
    batches = list(iter_light_curves(path, batch_size=1000))
    assert [len(batch) for batch, _ in batches] == [1000] * 5 + [757]
    joined, labels = concatenated(batches)
    assert_same_light_curves(joined, lc)
    assert_array_equal(joined.ids, lc.ids)
    assert_array_equal(labels, y)


def test_load_asas(shared_dir):
    path = shared_dir / "asas_richards2012.parquet"
    if not path.exists():
        pytest.skip(f"{path} not found")
    X, y = load_light_curves(path)
    assert len(X) == 810 and len(set(y)) == 28
    X, y = load_light_curves(path, classes="Mira", band="ASAS_V")
    assert len(X) == 91 and set(y) == {"Mira"}


# --------------------------------------------------------------------------- LightCurves


def assert_same_light_curves(a, b):
    """Same observations; ids are compared by the caller."""
    for name in ("offsets", "time", "mag", "err"):
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_load_as_light_curves_is_the_list_form_validated(tmp_path):
    X, y = make_light_curves(3, n_obs=(20, 40), random_state=5)
    path = tmp_path / "lc.parquet"
    write_light_curves(path, X, y, ids=[f"s{k}" for k in range(len(X))], band="V")
    X_list, y_list, ids = load_light_curves(path, classes=["EA", "LPV"], return_ids=True)
    lc, y_lc = load_light_curves(path, classes=["EA", "LPV"], as_light_curves=True)
    assert isinstance(lc, LightCurves)
    assert_same_light_curves(lc, as_light_curves(X_list))
    assert_array_equal(lc.ids, ids)
    assert_array_equal(y_lc, y_list)
    # The estimators' funnel takes it as it is.
    assert as_light_curves(lc) is lc

    lc, y_lc, ids = load_light_curves(path, band="R", as_light_curves=True, return_ids=True)
    assert len(lc) == 0 and y_lc.shape == (0,) and ids.shape == (0,)
    with pytest.raises(ValueError, match="no light curves"):
        as_light_curves(lc)


def test_only_the_light_curves_form_is_validated_on_loading(tmp_path):
    table = pa.table({
        "object_id": ["a", "b"],
        "mjd": [[0.0, 1.0], [0.0, None]],
        "mag": [[1.0, 2.0], [1.0, 2.0]],
    })
    path = tmp_path / "nan.parquet"
    pq.write_table(table, path)
    X, _ = load_light_curves(path)  # left to the user to clean
    assert np.isnan(X[1][1, 0])
    with pytest.raises(ValueError, match=r"nan.parquet: light curve 1 \('b'\): NaN or "
                       r"infinite time \(observation 1\)"):
        load_light_curves(path, as_light_curves=True)

    strings = pa.table({"mjd": [["0.5"]], "mag": [[1.0]]})
    pq.write_table(strings, path)
    with pytest.raises(ValueError, match=r"column 'mjd': non-numeric data \(lists of string\)"):
        load_light_curves(path)


# --------------------------------------------------------------------------- cleaning

PLACEHOLDER = -2409998.5  # MJD of Julian date 0, as in the CRTS file


def test_drop_placeholder_times_by_hand():
    X = [
        np.array([[PLACEHOLDER, 9.0], [53000.0, 15.0], [53001.0, 15.5]]),
        np.array([[-0.5, 12.0], [0.0, 12.5], [2.0, 13.0]]),  # 0 is kept, -0.5 is not
        np.array([[53002.0, 14.0]]),
    ]
    lc = drop_placeholder_times(X)
    assert lc.lengths.tolist() == [2, 2, 1]
    assert lc.time.tolist() == [53000.0, 53001.0, 0.0, 2.0, 53002.0]
    assert lc.mag.tolist() == [15.0, 15.5, 12.5, 13.0, 14.0]  # magnitudes follow their times

    clean = as_light_curves(X[2:])
    assert drop_placeholder_times(clean) is clean  # nothing to drop: no copy

    frame = pd.DataFrame({"object_id": ["a", "b", "b"], "mjd": [1.0, -3.0, PLACEHOLDER],
                          "mag": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"light curve 1 \('b'\): every observation is at a "
                       "placeholder time"):
        drop_placeholder_times(frame)
    # NaN and infinite times are errors for validation, never silently dropped.
    with pytest.raises(ValueError, match=r"light curve 0: NaN or infinite time"):
        drop_placeholder_times([np.array([[-np.inf, 1.0], [1.0, 2.0]])])


def test_drop_placeholders_on_unvalidated_values():
    lc = LightCurves(time=[np.nan, -1.0, -np.inf, -2.0, -3.0, 5.0], mag=np.arange(6.0),
                     err=None, offsets=[0, 3, 5, 6], ids=["a", "b", "c"])
    cleaned, kept = _drop_placeholders(lc)
    assert kept.tolist() == [True, False, True]
    assert cleaned.ids.tolist() == ["a", "c"] and cleaned.lengths.tolist() == [2, 1]
    assert_array_equal(cleaned.time, [np.nan, -np.inf, 5.0])
    assert cleaned.mag.tolist() == [0.0, 2.0, 5.0]


def placeholder_file(path):
    """Objects: a (placeholder first), b (placeholders only), c (clean)."""
    X = [
        np.array([[PLACEHOLDER, 9.0, 0.5], [53000.0, 15.0, 0.5], [53001.0, 15.5, 0.5]]),
        np.array([[PLACEHOLDER, 9.0, 0.5]]),
        np.array([[53002.0, 14.0, 0.5], [53003.0, 14.5, 0.5]]),
    ]
    write_light_curves(path, X, ["x", "y", "z"], ids=["a", "b", "c"])
    return X


def test_loaders_drop_placeholder_times(tmp_path):
    path = tmp_path / "placeholders.parquet"
    X = placeholder_file(path)
    with pytest.warns(UserWarning, match=r"dropped 1 light curve\(s\) whose observations are "
                      r"all at placeholder times \(before MJD 0\): 'b'"):
        X2, y2, ids = load_light_curves(path, return_ids=True)
    assert ids.tolist() == ["a", "c"] and y2.tolist() == ["x", "z"]
    assert_round_trip([X[0][1:], X[2]], X2)

    # min_obs counts what is left: a has 2 observations after cleaning, not 3.
    with pytest.warns(UserWarning):
        _, _, ids = load_light_curves(path, min_obs=3, return_ids=True)
    assert ids.tolist() == []
    with pytest.warns(UserWarning):
        lc, y2 = load_light_curves(path, as_light_curves=True)
    assert lc.ids.tolist() == ["a", "c"] and lc.lengths.tolist() == [2, 2]

    X2, y2 = load_light_curves(path, drop_placeholders=False)
    assert [len(x) for x in X2] == [3, 1, 2] and X2[1][0, 0] == PLACEHOLDER

    with pytest.warns(UserWarning, match=r"'b'"):
        batches = list(iter_light_curves(path, batch_size=2))
    # b is dropped from the first batch, whose second object is at position 1 in the file.
    assert [lc.ids.tolist() for lc, _ in batches] == [["a"], ["c"]]
    assert [y.tolist() for _, y in batches] == [["x"], ["z"]]
    assert batches[0][0].time.tolist() == [53000.0, 53001.0]
    kept = list(iter_light_curves(path, drop_placeholders=False))
    assert kept[0][0].lengths.tolist() == [3, 1, 2]


# --------------------------------------------------------------------------- streaming


@pytest.fixture(scope="module")
def stream_data():
    # About 2500 rows: more than one CSV chunk, so objects straddle chunk boundaries.
    X, y = make_light_curves(7, n_obs=(50, 70), random_state=8)
    ids = np.array([f"obj{k:02d}" for k in range(len(X))])
    return X, y, ids


def long_frame(X, y, ids):
    return pd.DataFrame({
        "oid": np.repeat(ids, [len(x) for x in X]),
        "label": np.repeat(y, [len(x) for x in X]),
        "t": np.concatenate([x[:, 0] for x in X]),
        "mag": np.concatenate([x[:, 1] for x in X]),
        "mag_err": np.concatenate([x[:, 2] for x in X]),
    })


def concatenated(batches):
    """The batches joined into one LightCurves, and the labels."""
    lcs = [lc for lc, _ in batches]
    lengths = np.concatenate([lc.lengths for lc in lcs])
    joined = LightCurves(
        time=np.concatenate([lc.time for lc in lcs]),
        mag=np.concatenate([lc.mag for lc in lcs]),
        err=np.concatenate([lc.err for lc in lcs]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]),
        ids=np.concatenate([lc.ids for lc in lcs]),
    )
    return joined, np.concatenate([labels for _, labels in batches])


@pytest.mark.parametrize("layout", ["nested parquet", "long parquet", "long csv"])
@pytest.mark.parametrize("batch_size", [1, 4, 1000, None])
def test_iter_light_curves_yields_the_file_in_order(tmp_path, stream_data, layout, batch_size):
    X, y, ids = stream_data
    columns = {"id": "oid", "time": "t"}
    if layout == "nested parquet":
        path = tmp_path / "curves.parquet"
        write_light_curves(path, X, y, ids=ids)
        columns = None
    elif layout == "long parquet":
        path = tmp_path / "curves.parquet"
        # Row groups of 37 rows: every object is split across reads.
        pq.write_table(pa.Table.from_pandas(long_frame(X, y, ids), preserve_index=False), path,
                       row_group_size=37)
    else:
        path = tmp_path / "curves.csv"
        long_frame(X, y, ids).to_csv(path, index=False)
        assert sum(len(x) for x in X) > 2 * 1024  # objects straddle the CSV chunks too

    batches = list(iter_light_curves(path, batch_size=batch_size, columns=columns))
    sizes = [len(lc) for lc, _ in batches]
    if batch_size is None:
        assert sizes == [len(X)]
    else:
        # Full batches, except the last one.
        assert all(n == batch_size for n in sizes[:-1]) and 1 <= sizes[-1] <= batch_size
    lc, labels = concatenated(batches)
    assert lc.ids.tolist() == ids.tolist()  # file order
    assert labels.tolist() == y.tolist()
    expected = as_light_curves(X)
    assert_array_equal(lc.offsets, expected.offsets)
    # write_light_curves stores magnitudes as float32; pandas' default CSV parser may
    # miss the last bit of a float64.
    rtol = {"nested parquet": 1e-6, "long parquet": 0, "long csv": 1e-13}[layout]
    assert_allclose(lc.time, expected.time, rtol=0 if layout == "nested parquet" else rtol)
    assert_allclose(lc.mag, expected.mag, rtol=rtol)
    assert_allclose(lc.err, expected.err, rtol=rtol)


def test_iter_light_curves_band_ids_and_missing_labels(tmp_path, stream_data):
    X, y, ids = stream_data
    frame = long_frame(X, y, ids)
    frame["band"] = np.where(frame["oid"] < "obj10", "g", "r")
    frame.loc[frame["oid"] == "obj12", "label"] = None
    path = tmp_path / "bands.csv"
    frame.to_csv(path, index=False)
    batches = list(iter_light_curves(path, batch_size=5, band="r",
                                     columns={"id": "oid", "time": "t"}))
    lc, labels = concatenated(batches)
    assert lc.ids.tolist() == ids[10:].tolist()
    assert labels[2] is None and labels[3] == y[13]

    # A nested file without ids: positions in the file, counted across batches.
    path = tmp_path / "no_ids.parquet"
    write_light_curves(path, X[:5])
    pq.write_table(pq.read_table(path).drop_columns(["object_id"]), path)
    batches = list(iter_light_curves(path, batch_size=2))
    assert [lc.ids.tolist() for lc, _ in batches] == [["obj0", "obj1"], ["obj2", "obj3"],
                                                      ["obj4"]]
    assert all(labels is None for _, labels in batches)


def test_iter_light_curves_errors(tmp_path, stream_data):
    X, y, ids = stream_data
    frame = long_frame(X, y, ids)
    columns = {"id": "oid", "time": "t"}

    path = tmp_path / "nan.parquet"
    mags = [x[:, 1].copy() for x in X]
    mags[5][3] = np.nan  # write_light_curves would refuse it
    pq.write_table(pa.table({"object_id": ids, "mjd": [x[:, 0] for x in X], "mag": mags}),
                   path)
    batches = iter_light_curves(path, batch_size=2)
    with pytest.raises(ValueError, match=r"nan.parquet: light curve 5 \('obj05'\): NaN or "
                       r"infinite magnitude \(observation 3\)"):
        list(batches)

    shuffled = tmp_path / "shuffled.csv"
    pd.concat([frame.iloc[:10], frame.iloc[30:], frame.iloc[10:30]]).to_csv(shuffled,
                                                                           index=False)
    batches = iter_light_curves(shuffled, batch_size=3, columns=columns)
    with pytest.raises(ValueError, match="rows of object 'obj00' are not consecutive"):
        list(batches)
    # Read whole, an object's rows may be anywhere.
    (lc, _), = iter_light_curves(shuffled, batch_size=None, columns=columns)
    assert lc.ids.tolist() == ids.tolist()

    csv = tmp_path / "curves.csv"
    frame.to_csv(csv, index=False)
    with pytest.raises(FileNotFoundError, match="no such file"):
        iter_light_curves(tmp_path / "none.csv")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['mjd'\].*columns="):
        iter_light_curves(csv)
    with pytest.raises(ValueError, match="needs an object id column 'object_id'"):
        iter_light_curves(csv, columns={"time": "t"})
    with pytest.raises(ValueError, match="cannot tell the format"):
        iter_light_curves(csv.rename(tmp_path / "curves.txt"), columns=columns)
    assert len(list(iter_light_curves(tmp_path / "curves.txt", columns=columns,
                                      format="csv"))) == 1
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        iter_light_curves(path, batch_size=0)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['band'\]"):
        iter_light_curves(path, band="V")


def test_a_long_table_is_not_read_as_nested(tmp_path):
    path = tmp_path / "long.parquet"
    pq.write_table(pa.table({"object_id": ["a", "a", "b"], "mjd": [1.0, 2.0, 1.0],
                             "mag": [15.0, 15.1, 12.0]}), path)
    with pytest.raises(ValueError, match="column 'mjd' holds double values, not lists"):
        load_light_curves(path)
    (lc, _), = iter_light_curves(path)
    assert lc.ids.tolist() == ["a", "b"] and lc.lengths.tolist() == [2, 1]

    mixed = tmp_path / "mixed.parquet"
    pq.write_table(pa.table({"mjd": [[1.0, 2.0]], "mag": [15.0]}), mixed)
    with pytest.raises(ValueError, match="column 'mag' holds double values, not lists"):
        list(iter_light_curves(mixed))


CRTS5 = ["EA", "EW", "RRab", "RRc", "RS_CVn"]


def test_crts_sample_shape_classes_and_ids():
    X, y, ids = load_crts_sample(return_ids=True)
    assert len(X) == len(y) == len(ids) == 300
    labels, counts = np.unique(y, return_counts=True)
    assert labels.tolist() == CRTS5 and counts.tolist() == [60] * 5
    assert len(set(ids.tolist())) == 300
    assert all(x.ndim == 2 and x.shape[1] == 3 and x.dtype == np.float64 for x in X)
    assert all(len(x) >= 10 and np.all(np.diff(x[:, 0]) >= 0) for x in X)
    assert np.all(X[0][:, 0] > 0)  # placeholder times are dropped

    lc, y2 = load_crts_sample(as_light_curves=True)
    assert isinstance(lc, LightCurves)
    assert lc.ids.tolist() == ids.tolist() and y2.tolist() == y.tolist()
    assert lc.lengths.tolist() == [len(x) for x in X]
    X2, y3 = load_crts_sample()
    assert y3.tolist() == y.tolist()


def test_crts_sample_equals_rows_of_the_shared_file(crts_path):
    X, y, ids = load_crts_sample(return_ids=True)
    X_all, y_all, ids_all = load_light_curves(crts_path, return_ids=True)
    row = {object_id: k for k, object_id in enumerate(ids_all.tolist())}
    assert set(ids.tolist()) <= set(row)
    for x, label, object_id in zip(X, y, ids):
        k = row[object_id]
        assert label == y_all[k]
        assert_array_equal(x, X_all[k])
