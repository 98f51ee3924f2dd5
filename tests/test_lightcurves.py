import re
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from scipy import sparse

from sklearn_astromer._lightcurves import (
    MAX_ABS_MAGNITUDE,
    MIN_MAX_ABS_MAGNITUDE,
    LightCurves,
    NonNumericDataError,
    _as_arrays,
    _validated,
    as_light_curves,
    n_regular_columns,
)

# Three objects of unequal length with unsorted (and, in object 2, duplicated) times.
OBJECTS = [
    np.array([[3.0, 15.3, 0.3], [1.0, 15.1, 0.1], [2.0, 15.2, 0.2]]),
    np.array([[0.5, 12.5, 0.05], [0.25, 12.25, 0.025]]),
    np.array([[7.0, 17.0, 0.7], [6.0, 16.0, 0.6], [7.0, 17.5, 0.75], [5.0, 15.0, 0.5]]),
]
IDS = np.array(["a", "b", "c"], dtype=object)
# Sorted by time within each object; object 2's duplicated time 7.0 keeps its given order.
EXPECTED_TIME = [1.0, 2.0, 3.0, 0.25, 0.5, 5.0, 6.0, 7.0, 7.0]
EXPECTED_MAG = [15.1, 15.2, 15.3, 12.25, 12.5, 15.0, 16.0, 17.0, 17.5]
EXPECTED_ERR = [0.1, 0.2, 0.3, 0.025, 0.05, 0.5, 0.6, 0.7, 0.75]
EXPECTED_OFFSETS = [0, 3, 5, 9]


def padded(objects, n_obs=6):
    out = np.full((len(objects), n_obs, objects[0].shape[1]), np.nan)
    for k, obj in enumerate(objects):
        out[k, : len(obj)] = obj
    return out


def long_frame(objects, ids=IDS):
    frames = [
        pd.DataFrame(
            {"object_id": ident, "mjd": obj[:, 0], "mag": obj[:, 1], "mag_err": obj[:, 2]}
        )
        for ident, obj in zip(ids, objects)
    ]
    return pd.concat(frames, ignore_index=True)


def nested_frame(objects, ids=IDS):
    return pd.DataFrame(
        {
            "object_id": ids,
            "label": ["x"] * len(objects),
            "mjd": [obj[:, 0] for obj in objects],
            "mag": [list(obj[:, 1]) for obj in objects],  # lists work as well as arrays
            "mag_err": [obj[:, 2] for obj in objects],
        }
    )


def interleaved_long_frame():
    # Rows of different objects mixed, first appearances in the order a, b, c.
    df = long_frame(OBJECTS)
    order = [0, 3, 5, 1, 6, 4, 2, 7, 8]
    return df.iloc[order].reset_index(drop=True)


def assert_expected(lc, *, with_err=True, ids=None):
    assert isinstance(lc, LightCurves)
    assert_array_equal(lc.time, EXPECTED_TIME)
    assert_array_equal(lc.mag, EXPECTED_MAG)
    assert_array_equal(lc.offsets, EXPECTED_OFFSETS)
    if with_err:
        assert_array_equal(lc.err, EXPECTED_ERR)
    else:
        assert lc.err is None
    if ids is None:
        assert lc.ids is None
    else:
        assert_array_equal(lc.ids, ids)
    for array in (lc.time, lc.mag) + (() if lc.err is None else (lc.err,)):
        assert array.dtype == np.float64 and array.flags.c_contiguous
    assert lc.offsets.dtype == np.int64


# --------------------------------------------------------------------------- input forms


@pytest.mark.parametrize(
    "make_input",
    [
        pytest.param(lambda: list(OBJECTS), id="list-of-arrays"),
        pytest.param(lambda: tuple(OBJECTS), id="tuple-of-arrays"),
        pytest.param(lambda: [tuple(obj.T) for obj in OBJECTS], id="list-of-tuples"),
        pytest.param(lambda: [[list(c) for c in obj.T] for obj in OBJECTS], id="list-of-lists"),
        pytest.param(lambda: np.array(list(OBJECTS), dtype=object), id="object-array"),
        pytest.param(lambda: [obj.astype(object) for obj in OBJECTS], id="object-dtype-arrays"),
        pytest.param(lambda: padded(OBJECTS), id="padded-3d"),
    ],
)
def test_every_form_gives_the_same_light_curves(make_input):
    assert_expected(as_light_curves(make_input()))


@pytest.mark.parametrize(
    "make_frame",
    [
        pytest.param(lambda: long_frame(OBJECTS), id="long"),
        pytest.param(interleaved_long_frame, id="long-interleaved"),
        pytest.param(lambda: nested_frame(OBJECTS), id="nested"),
        pytest.param(
            lambda: nested_frame(OBJECTS).convert_dtypes(dtype_backend="pyarrow"),
            id="nested-arrow",
        ),
    ],
)
def test_dataframes_give_the_same_light_curves(make_frame):
    assert_expected(as_light_curves(make_frame()), ids=IDS)


def test_forms_without_errors():
    two_columns = [obj[:, :2] for obj in OBJECTS]
    for X in (two_columns, [tuple(obj.T) for obj in two_columns], padded(two_columns)):
        assert_expected(as_light_curves(X), with_err=False)
    assert_expected(
        as_light_curves(long_frame(OBJECTS).drop(columns="mag_err")), with_err=False, ids=IDS
    )
    assert_expected(
        as_light_curves(nested_frame(OBJECTS).drop(columns="mag_err")), with_err=False, ids=IDS
    )


def test_regular_grid_form():
    X = np.arange(12, dtype=np.int64).reshape(3, 4)
    lc = as_light_curves(X)
    assert len(lc) == 3 and lc.err is None and lc.ids is None
    assert_array_equal(lc.lengths, [4, 4, 4])
    assert_array_equal(lc[1][0], [0.0, 1.0, 2.0, 3.0])
    assert_array_equal(lc[2][1], [8.0, 9.0, 10.0, 11.0])
    # A nested list of numbers is the same 2-D array.
    assert_array_equal(as_light_curves(X.tolist()).mag, lc.mag)


def test_object_dtype_numbers_are_accepted():
    X = np.random.RandomState(0).uniform(size=(5, 4))
    assert_array_equal(as_light_curves(X.astype(object)).mag, X.ravel())


def test_result_does_not_share_memory_with_input():
    X = np.ones((3, 4))
    lc = as_light_curves(X)
    lc.mag[0] = 99.0
    assert X[0, 0] == 1.0
    objects = [obj.copy() for obj in OBJECTS]
    lc = as_light_curves(objects)
    lc.time[:] = 0.0
    assert_array_equal(objects[0], OBJECTS[0])


def test_light_curves_pass_through_unchanged():
    lc = as_light_curves(OBJECTS)
    assert as_light_curves(lc) is lc
    # Not even validated again: a LightCurves is trusted to come from the funnel or a
    # reader that validated it.
    unchecked = LightCurves(time=[np.nan], mag=[1.0], err=None, offsets=[0, 1])
    assert as_light_curves(unchecked) is unchecked
    empty = lc.subset(np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="no light curves: the LightCurves holds 0 objects"):
        as_light_curves(empty)


def test_readers_helpers_validate_and_split_without_loops():
    raw = LightCurves(time=[2.0, 1.0, 5.0], mag=[20.0, 10.0, 50.0], err=[0.2, 0.1, 0.5],
                      offsets=[0, 2, 3], ids=["a", "b"])
    lc = _validated(raw)
    assert lc.time.tolist() == [1.0, 2.0, 5.0] and lc.mag.tolist() == [10.0, 20.0, 50.0]
    assert lc.ids.tolist() == ["a", "b"]
    already = _validated(lc)
    assert np.shares_memory(already.time, lc.time)  # sorted input: no copy
    bad = LightCurves(time=[1.0, np.inf], mag=[1.0, 2.0], err=None, offsets=[0, 1, 2],
                      ids=["a", "b"])
    with pytest.raises(ValueError, match=r"light curve 1 \('b'\): NaN or infinite time"):
        _validated(bad)

    arrays = _as_arrays(lc)
    assert [a.shape for a in arrays] == [(2, 3), (1, 3)]
    assert_array_equal(arrays[0], [[1.0, 10.0, 0.1], [2.0, 20.0, 0.2]])
    assert arrays[0].base is arrays[1].base  # views of one buffer
    assert_array_equal(as_light_curves(arrays).time, lc.time)
    assert _as_arrays(lc.subset([])) == []


def test_stable_sort_keeps_the_order_of_duplicated_times():
    time = np.array([2.0, 1.0, 2.0, 1.0, 2.0])
    mag = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    lc = as_light_curves([(time, mag), (time[::-1], mag[::-1])])
    assert_array_equal(lc[0][0], [1.0, 1.0, 2.0, 2.0, 2.0])
    assert_array_equal(lc[0][1], [11.0, 13.0, 10.0, 12.0, 14.0])
    assert_array_equal(lc[1][1], [13.0, 11.0, 14.0, 12.0, 10.0])


def test_sorted_input_is_kept_as_given():
    time = np.array([0.0, 1.0, 1.0, 2.0])
    lc = as_light_curves([(time, np.array([4.0, 3.0, 2.0, 1.0])), (time - 10, time)])
    assert_array_equal(lc[0][1], [4.0, 3.0, 2.0, 1.0])
    assert_array_equal(lc[1][0], time - 10)


def test_padding_anywhere_is_dropped():
    X = padded(OBJECTS, n_obs=7)
    # Move object 0's padding between its observations: padding is not only trailing.
    X[0] = X[0, [0, 5, 1, 6, 2, 3, 4]]
    assert_expected(as_light_curves(X))


def test_padding_with_inf_is_not_padding():
    X = padded(OBJECTS)
    X[1, 4, 1] = np.inf
    with pytest.raises(
        ValueError, match=r"light curve 1: observation 4 is NaN in some columns only"
    ):
        as_light_curves(X)
    X[1, 4] = [1.0, np.inf, 0.1]
    with pytest.raises(ValueError, match=r"light curve 1: NaN or infinite magnitude"):
        as_light_curves(X)


# --------------------------------------------------------------------------- LightCurves


def test_getitem_returns_views_of_one_object():
    lc = as_light_curves(OBJECTS)
    time, mag, err = lc[1]
    assert_array_equal(time, [0.25, 0.5])
    assert_array_equal(err, [0.025, 0.05])
    assert np.shares_memory(time, lc.time)
    assert_array_equal(lc[-1][1], lc[2][1])
    with pytest.raises(IndexError, match="out of range"):
        lc[3]
    assert [len(t) for t, _, _ in lc] == [3, 2, 4]
    assert as_light_curves([obj[:, :2] for obj in OBJECTS])[0][2] is None


def test_subset_selects_objects_in_order():
    lc = as_light_curves(long_frame(OBJECTS))
    sub = lc.subset([2, 0, 2, -2])
    assert_array_equal(sub.ids, ["c", "a", "c", "b"])
    assert_array_equal(sub.lengths, [4, 3, 4, 2])
    for position, k in enumerate([2, 0, 2, 1]):
        for got, expected in zip(sub[position], lc[k]):
            assert_array_equal(got, expected)
    assert_array_equal(lc.subset(np.array([False, True, True])).ids, ["b", "c"])
    empty = lc.subset([])
    assert len(empty) == 0 and empty.time.shape == (0,)
    with pytest.raises(IndexError, match="out of range"):
        lc.subset([3])
    with pytest.raises(IndexError, match="boolean mask"):
        lc.subset([True, False])


def test_subset_equals_conversion_of_the_selected_objects():
    lc = as_light_curves(OBJECTS)
    direct = as_light_curves([OBJECTS[2], OBJECTS[1]])
    sub = lc.subset([2, 1])
    for name in ("time", "mag", "err", "offsets"):
        assert_array_equal(getattr(sub, name), getattr(direct, name))
    assert_array_equal(lc.lengths, [3, 2, 4])  # the original is untouched


def test_constructor_checks_that_arrays_fit():
    with pytest.raises(ValueError, match="offsets"):
        LightCurves(time=np.zeros(3), mag=np.zeros(3), err=None, offsets=[0, 2])
    with pytest.raises(ValueError, match="equal length"):
        LightCurves(time=np.zeros(3), mag=np.zeros(2), err=None, offsets=[0, 3])
    with pytest.raises(ValueError, match="ids"):
        LightCurves(time=np.zeros(3), mag=np.zeros(3), err=None, offsets=[0, 3], ids=["a", "b"])
    assert "n_objects=3" in repr(as_light_curves(OBJECTS))


# --------------------------------------------------------------------------- DataFrames


def test_custom_column_names():
    df = long_frame(OBJECTS).rename(columns={"object_id": "oid", "mjd": "t", "mag_err": "e"})
    lc = as_light_curves(df, columns={"id": "oid", "time": "t", "err": "e"})
    assert_expected(lc, ids=IDS)
    nested = nested_frame(OBJECTS).rename(columns={"mjd": "hjd"})
    assert_expected(as_light_curves(nested, columns={"time": "hjd"}), ids=IDS)
    with pytest.raises(ValueError, match=r"unknown keys \['filter'\]"):
        as_light_curves(df, columns={"filter": "b"})
    with pytest.raises(ValueError, match="only used for pandas DataFrame"):
        as_light_curves(OBJECTS, columns={"time": "t"})


def test_nested_frame_without_id_column():
    assert_expected(as_light_curves(nested_frame(OBJECTS).drop(columns="object_id")))


def test_long_frame_with_integer_ids():
    lc = as_light_curves(long_frame(OBJECTS, ids=[7, 3, 5]))
    assert_array_equal(lc.ids, [7, 3, 5])


# --------------------------------------------------------------------------- errors


def with_row(k, row, objects=OBJECTS):
    objects = [obj.copy() for obj in objects]
    objects[k][0] = row
    return objects


@pytest.mark.parametrize(
    "X, match",
    [
        ([OBJECTS[0], np.zeros((0, 3))], r"light curve 1: empty light curve \(0 observations\)"),
        (with_row(1, [np.nan, 1.0, 0.1]), r"light curve 1: NaN or infinite time"),
        (with_row(2, [np.inf, 1.0, 0.1]), r"light curve 2: NaN or infinite time"),
        (with_row(0, [1.0, np.nan, 0.1]), r"light curve 0: NaN or infinite magnitude"),
        (with_row(2, [1.0, -np.inf, 0.1]), r"light curve 2: NaN or infinite magnitude"),
        (with_row(1, [1.0, 1.0, -0.1]), r"light curve 1: negative or non-finite error"),
        (with_row(1, [1.0, 1.0, np.nan]), r"light curve 1: negative or non-finite error"),
        (with_row(2, [1.0, 1.0, np.inf]), r"light curve 2: negative or non-finite error"),
        (
            [tuple(OBJECTS[0].T), (np.arange(3.0), np.arange(2.0))],
            r"light curve 1: mismatched column lengths \(time has 3, mag has 2 values\)",
        ),
        ([tuple(OBJECTS[0].T), (np.zeros(2),)], r"light curve 1: expected a \(time, mag\)"),
        (
            [tuple(OBJECTS[0].T), (np.zeros(2), np.zeros((2, 1)))],
            r"light curve 1: \(time, mag\[, err\]\) columns must be 1-D",
        ),
        (np.arange(5.0), r"got a 1-D array of shape \(5,\)\. Reshape your data"),
        (np.zeros((2, 2, 2, 2)), r"got a 4-D array of shape \(2, 2, 2, 2\)"),
        ([OBJECTS[0], np.zeros((4, 1))], r"light curve 1: .* got shape \(4, 1\)"),
        ([OBJECTS[0], np.zeros((4, 4))], r"light curve 1: .* got shape \(4, 4\)"),
        ([OBJECTS[0], np.zeros((2, 2, 2))], r"light curve 1: .* got shape \(2, 2, 2\)"),
        (np.zeros((2, 3, 4)), r"shape \(n_objects, n_obs, 2\|3\) .* got shape \(2, 3, 4\)"),
        ([], r"no light curves"),
        (np.zeros((0, 5)), r"no light curves"),
        (np.zeros((0, 5, 3)), r"no light curves"),
        (
            [OBJECTS[0], OBJECTS[1][:, :2]],
            r"light curve 1: lacks magnitude errors while light curve 0 has them",
        ),
        (
            [OBJECTS[0][:, :2], OBJECTS[1]],
            r"light curve 1: has magnitude errors while light curve 0 lacks them",
        ),
        (
            [tuple(OBJECTS[0].T), tuple(OBJECTS[1][:, :2].T)],
            r"light curve 1: lacks magnitude errors",
        ),
        ([[1.0, 2.0], [3.0]], r"unequal lengths"),
        (np.zeros((3, 1)) + 1j, r"Complex data not supported"),
        ([OBJECTS[0], OBJECTS[1] + 1j], r"light curve 1: Complex data not supported"),
        (sparse.csr_matrix(np.eye(3)), r"Sparse input is not supported"),
    ],
)
def test_invalid_input_names_the_object_and_the_problem(X, match):
    with pytest.raises(ValueError, match=match):
        as_light_curves(X)


def test_errors_in_padded_and_regular_forms_name_the_object():
    X = padded(OBJECTS)
    X[2, 1, 2] = -1.0
    with pytest.raises(ValueError, match=r"light curve 2: negative or non-finite error"):
        as_light_curves(X)
    X = padded(OBJECTS)
    X[1, 0, 0] = np.nan
    with pytest.raises(
        ValueError, match=r"light curve 1: observation 0 is NaN in some columns only"
    ):
        as_light_curves(X)
    X = padded(OBJECTS)
    X[1] = np.nan
    with pytest.raises(ValueError, match=r"light curve 1: empty light curve"):
        as_light_curves(X)
    X = np.ones((5, 3))
    X[3, 2] = np.inf
    with pytest.raises(
        ValueError, match=r"light curve 3: NaN or infinite magnitude \(observation 2\)"
    ):
        as_light_curves(X)


def test_zero_observations_message_is_understood_by_scikit_learn():
    # check_estimators_empty_data_messages matches this wording.
    sklearn_pattern = r"0 feature\(s\) \(shape=\(\d*, 0\)\) while a minimum of \d* is required."
    with pytest.raises(ValueError, match=sklearn_pattern):
        as_light_curves(np.empty((12, 0)))
    with pytest.raises(ValueError, match=r"light curve 0: empty light curve"):
        as_light_curves(np.empty((12, 0)))


def test_non_numeric_data():
    X = np.random.RandomState(0).uniform(size=(6, 4)).astype(object)
    X[2, 1] = {"foo": "bar"}
    # scikit-learn's check_dtype_object expects numpy's TypeError message.
    with pytest.raises(TypeError, match=r"argument must be .* string.* number"):
        as_light_curves(X)
    with pytest.raises(ValueError, match=r"light curve 2: non-numeric data"):
        as_light_curves(X)
    with pytest.raises(NonNumericDataError, match=r"light curve 1: non-numeric data"):
        as_light_curves([OBJECTS[0], np.array([["a", "b"], ["c", "d"]])])
    with pytest.raises(NonNumericDataError, match=r"light curve 1: non-numeric data"):
        as_light_curves([tuple(OBJECTS[0].T), ([1.0, 2.0], [None, {}])])
    strings = np.array([["1.0", "2.0"]])  # numeric-looking text is still text
    with pytest.raises(NonNumericDataError, match="non-numeric data of dtype <U3"):
        as_light_curves(strings)
    assert issubclass(NonNumericDataError, ValueError) and issubclass(
        NonNumericDataError, TypeError
    )


def test_dataframe_errors_name_the_object_id():
    df = long_frame(OBJECTS)
    df.loc[4, "mjd"] = np.nan  # a row of object "b"
    with pytest.raises(ValueError, match=r"light curve 1 \('b'\): NaN or infinite time"):
        as_light_curves(df)

    df = long_frame(OBJECTS).astype({"mag": object})
    df.loc[6, "mag"] = "bright"  # a row of object "c"
    with pytest.raises(
        NonNumericDataError, match=r"light curve 2 \('c'\), column 'mag': non-numeric"
    ):
        as_light_curves(df)

    nested = nested_frame(OBJECTS)
    nested["mag_err"] = [obj[:, 2] for obj in OBJECTS[:1]] + [
        np.array([0.1, 0.2, 0.3]),
        OBJECTS[2][:, 2],
    ]
    with pytest.raises(
        ValueError,
        match=r"light curve 1 \('b'\): mismatched column lengths "
        r"\(mjd has 2, mag has 2, mag_err has 3",
    ):
        as_light_curves(nested)

    nested = nested_frame(OBJECTS)
    nested["mag"] = [obj[:, 1] for obj in OBJECTS[:2]] + [np.array([1.0, 2.0, 3.0, np.inf])]
    with pytest.raises(ValueError, match=r"light curve 2 \('c'\): NaN or infinite magnitude"):
        as_light_curves(nested)

    df = long_frame(OBJECTS)
    df.loc[0, "object_id"] = None
    with pytest.raises(ValueError, match=r"row 0: missing object id in column 'object_id'"):
        as_light_curves(df)


def test_missing_dataframe_columns_are_named():
    df = long_frame(OBJECTS)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['mag'\]"):
        as_light_curves(df.drop(columns="mag"))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['mjd', 'mag'\]"):
        as_light_curves(df.drop(columns=["mjd", "mag"]))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['object_id'\]"):
        as_light_curves(df.drop(columns="object_id"))
    with pytest.raises(ValueError, match=r"no light curves: the DataFrame has 0 rows"):
        as_light_curves(df.iloc[:0])


# --------------------------------------------------------------------------- n_regular_columns


def test_n_regular_columns():
    assert n_regular_columns(np.zeros((4, 7))) == 7
    assert n_regular_columns(np.zeros((4, 7)).tolist()) == 7
    assert n_regular_columns(np.zeros((4, 7), dtype=object)) == 7
    assert n_regular_columns(np.zeros((0, 7))) == 7
    assert n_regular_columns(list(OBJECTS)) is None
    assert n_regular_columns([tuple(obj.T) for obj in OBJECTS]) is None
    assert n_regular_columns(padded(OBJECTS)) is None
    assert n_regular_columns(long_frame(OBJECTS)) is None
    assert n_regular_columns(as_light_curves(OBJECTS)) is None
    assert n_regular_columns(np.zeros(3)) is None
    assert n_regular_columns([[1.0, 2.0], [3.0]]) is None
    assert n_regular_columns([]) is None


def test_many_objects_are_validated_without_per_observation_loops():
    rng = np.random.RandomState(0)
    lengths = rng.randint(1, 30, size=20_000)
    time = rng.uniform(size=lengths.sum())
    X = np.split(np.column_stack([time, time, time]), np.cumsum(lengths)[:-1])
    X[-1] = X[-1].copy()
    X[-1][-1, 1] = np.nan
    with pytest.raises(ValueError, match=r"light curve 19999: NaN or infinite magnitude"):
        as_light_curves(X)


# --------------------------------------------------------------------------- not magnitudes

CONVERT = r"convert fluxes with m = -2\.5 \* log10\(f\) \+ zero point"
TIME = np.arange(40.0)
WAVE = np.sin(TIME / 3)


def curve(mag, err=None):
    columns = [TIME, mag] + ([] if err is None else [err])
    return np.column_stack(columns)


def test_fluxes_are_refused_with_the_conversion():
    flux = 1e-17 * (1 + 0.1 * WAVE)  # erg/s/cm2/A: the flat-embedding case
    X = [curve(15 + 0.1 * WAVE, 0.1 + 0 * TIME), curve(flux, 1e-18 + 0 * TIME)]
    with pytest.raises(
        ValueError,
        match=r"light curve 1: every value is below 0\.001 in absolute value \(largest "
        r"1\.1e-17\) while the curve varies: fluxes, not magnitudes; " + CONVERT,
    ):
        as_light_curves(X)
    frame = long_frame([obj.copy() for obj in OBJECTS])
    frame.loc[frame["object_id"] == "b", "mag"] = [2e-4, 3e-4]  # Jy
    with pytest.raises(ValueError, match=r"light curve 1 \('b'\): every value is below"):
        as_light_curves(frame)
    with pytest.raises(ValueError, match="fluxes, not magnitudes"):
        as_light_curves(np.array([[1e-5, 2e-5, 1.5e-5]]))  # the regular grid as well

    # Not fluxes: constant curves (zeros on the regular grid), a curve reaching the
    # threshold, and relative magnitudes of sub-mmag amplitude with a constant added,
    # which the message suggests.
    fine = [curve(0 * TIME), curve(MIN_MAX_ABS_MAGNITUDE * np.cos(TIME / 3)), curve(12 + 1e-4 * WAVE)]
    assert len(as_light_curves(fine)) == 3
    assert len(as_light_curves(np.zeros((3, 5)))) == 3


def test_impossible_magnitudes_are_refused():
    for marker in (1e30, 99.99, 99.0, -99.0, MAX_ABS_MAGNITUDE):
        mag = 15 + 0.1 * WAVE
        mag[7] = marker
        with pytest.raises(
            ValueError,
            match=rf"light curve 1: impossible magnitude {re.escape(f'{marker:g}')} "
            r"\(observation 7\): values "
            r"of 90 or more in absolute value are null markers \(99, 99\.99, 1e30\); remove",
        ):
            as_light_curves([OBJECTS[0][:, :2], curve(mag)])
    counts = 5000 + 100 * WAVE  # fluxes in counts: every value is impossible
    every = r"every value is 90 or more in absolute value \({}\), so these are not magnitudes"
    with pytest.raises(
        ValueError,
        match=r"light curve 0: " + every.format(r"4900[.0-9]* to 5099[.0-9]*") + r" but fluxes "
        r"or null markers; " + CONVERT,
    ):
        as_light_curves([curve(counts)])
    with pytest.raises(ValueError, match=r"light curve 1: " + every.format("99.99 to 99.99")):
        as_light_curves([curve(15 + WAVE), curve(99.99 + 0 * TIME)])  # never detected
    # Varying values between 90 and 1000 may be fluxes (nanomaggies, uJy) or features:
    # scikit-learn's generic checks pass features near 100 as the regular grid.
    with pytest.warns(UserWarning, match=r"light curve 0: " + every.format("99 to 101")):
        assert len(as_light_curves(np.array([[99.0, 101.0, 100.0]]))) == 1
    with pytest.raises(
        ValueError,
        match=r"light curve 2: magnitude error of 90 or more, a null marker such as 99\.99 "
        r"to remove \(observation 0\)",
    ):
        as_light_curves(with_row(2, [1.0, 15.0, 99.99]))
    # The readers' path checks the same.
    raw = LightCurves(time=[1.0, 2.0], mag=[15.0, 1e30], err=None, offsets=[0, 2], ids=["x"])
    with pytest.raises(ValueError, match=r"light curve 0 \('x'\): impossible magnitude"):
        _validated(raw)
    # The brightest and faintest real magnitudes, and negative instrumental ones, pass.
    assert len(as_light_curves([curve(-27 + WAVE), curve(88.9 - WAVE), curve(-8 + WAVE)])) == 3


# --------------------------------------------------------------------------- ambiguous shapes


def test_one_light_curve_passed_alone_warns_with_the_fix():
    one = curve(15 + 0.1 * WAVE, 0.05 + 0 * TIME)  # (40, 3), columns time, mag, err
    with pytest.warns(
        UserWarning,
        match=r"a 2-D array of shape \(40, 3\) is read as 40 light curves of 3 magnitudes "
        r"each, at times 0, 1, \.\.\., 2; if it is one light curve with columns time, mag, "
        r"err, pass it in a list: \[curve\]",
    ):
        lc = as_light_curves(one)
    assert len(lc) == 40  # the regular grid is still the reading (scikit-learn's form)
    with pytest.warns(UserWarning, match=r"columns time, mag, pass it in a list"):
        as_light_curves(one[:, :2])
    with pytest.warns(UserWarning, match=r"read as 3 light curves of 40 magnitudes"):
        as_light_curves(one.T.tolist())
    for rows in (one.T, tuple(one.T), one[:, :2].T):
        with pytest.warns(UserWarning, match=r"one light curve with rows time, mag.*"
                          r"pass \[tuple\(curve\)\]"):
            as_light_curves(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(as_light_curves([one])) == 1 and len(as_light_curves([tuple(one.T)])) == 1
        # Magnitudes whose first column is not increasing: no warning.
        as_light_curves(np.array([[15.0, 15.3, 15.1], [12.0, 12.2, 12.1], [11.0, 13.1, 13.2]]))
        as_light_curves(np.arange(12.0).reshape(3, 4).T[::-1])
        as_light_curves(np.arange(4.0).reshape(2, 2))  # too short to tell
        as_light_curves(np.arange(12.0).reshape(3, 4))  # every row (column) increases
        as_light_curves(np.arange(12.0).reshape(4, 3))


def test_nested_lists_that_read_both_ways_warn():
    rows = [[0.0, 15.0, 0.1], [1.0, 15.2, 0.1]]  # 2 observations written as rows
    with pytest.warns(
        UserWarning,
        match=r"light curve 0: a nested list of 2 lists of 3 values is read as columns "
        r"\(time, mag\) of 3 observations; if its 2 lists are observations \(time, mag\[, "
        r"err\]\), pass np.asarray\(curve\)",
    ):
        lc = as_light_curves([rows])
    assert_array_equal(lc.time, [0.0, 0.1, 15.0])  # the first list, sorted, as times
    assert_array_equal(as_light_curves([np.asarray(rows)]).mag, [15.0, 15.2])
    with pytest.warns(UserWarning, match=r"a nested list of 3 lists of 3 values"):
        as_light_curves([[list(c) for c in OBJECTS[0].T]])
    # One light curve of another length shows that the lists are columns: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_expected(as_light_curves([[list(c) for c in obj.T] for obj in OBJECTS]))
        as_light_curves([tuple(obj.T) for obj in OBJECTS[:2]])  # arrays: columns, as documented
    # Longer rows-as-lists, and arrays given as rows, fail with the fix.
    with pytest.raises(ValueError, match=r"got 4 columns; .* pass np\.asarray\(curve\)"):
        as_light_curves([OBJECTS[2].tolist()])
    with pytest.raises(ValueError, match=r"got shape \(3, 4\); .* transpose \(curve\.T\)"):
        as_light_curves([OBJECTS[2].T])


# --------------------------------------------------------------------------- real data


def test_crts_light_curves(crts_path):
    df = pd.read_parquet(crts_path)
    lc = as_light_curves(df)
    assert len(lc) == 5757
    assert_array_equal(lc.ids, df["object_id"].to_numpy())
    assert lc.lengths.min() >= 1 and np.median(lc.lengths) == pytest.approx(302, abs=2)
    assert np.all(lc.err > 0)

    # The file's times are sorted already, so nothing moves.
    expected = np.concatenate(df["mjd"].to_numpy())
    assert_array_equal(lc.time, expected)
    duplicated = np.diff(lc.time) == 0
    duplicated[lc.offsets[1:-1] - 1] = False
    objects_with_duplicates = np.unique(
        np.searchsorted(lc.offsets, np.flatnonzero(duplicated), "right") - 1
    )
    with_duplicates_in_file = [len(np.unique(t)) < len(t) for t in df["mjd"]]
    assert_array_equal(objects_with_duplicates, np.flatnonzero(with_duplicates_in_file))
    assert len(objects_with_duplicates) > 500

    # The same objects as a long table, rows of different objects interleaved, give the
    # same light curves (objects in order of first appearance).
    few = df.iloc[:20]
    long = few.explode(["mjd", "mag", "mag_err"]).astype(
        {"mjd": float, "mag": float, "mag_err": float}
    )
    rank = long.groupby("object_id", sort=False).cumcount().to_numpy()
    long = long.iloc[np.argsort(rank, kind="stable")]
    from_long = as_light_curves(long)
    from_nested = lc.subset(np.arange(20))
    for name in ("ids", "offsets", "time", "mag", "err"):
        assert_array_equal(getattr(from_long, name), getattr(from_nested, name))


@pytest.mark.parametrize("name, n_objects", [("crts_train.parquet", 5757),
                                             ("asas_richards2012.parquet", 810)])
def test_every_real_light_curve_passes(shared_dir, name, n_objects):
    """The magnitude checks and shape warnings leave real survey data alone, in every form."""
    from sklearn_astromer.datasets import load_light_curves

    path = shared_dir / name
    if not path.exists():
        pytest.skip(f"{path} not found")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(as_light_curves(pd.read_parquet(path))) == n_objects
        X, _ = load_light_curves(path, drop_placeholders=False)
        assert len(as_light_curves(X)) == n_objects
        assert len(as_light_curves([tuple(obj.T) for obj in X])) == n_objects
        # The readers' path (the command line's) validates by the same rules.
        lc, _ = load_light_curves(path, as_light_curves=True)
        assert len(lc) == n_objects
