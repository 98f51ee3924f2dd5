import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_astromer._lightcurves import as_light_curves
from sklearn_astromer.datasets import load_light_curves, make_light_curves, write_light_curves

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


def test_load_crts(shared_dir):
    path = shared_dir / "crts_train.parquet"
    if not path.exists():
        pytest.skip(f"{path} not found")
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


def test_load_asas(shared_dir):
    path = shared_dir / "asas_richards2012.parquet"
    if not path.exists():
        pytest.skip(f"{path} not found")
    X, y = load_light_curves(path)
    assert len(X) == 810 and len(set(y)) == 28
    X, y = load_light_curves(path, classes="Mira", band="ASAS_V")
    assert len(X) == 91 and set(y) == {"Mira"}
