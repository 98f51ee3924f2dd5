"""The sktime adapters: conversion of panels, parity with the plain estimators,
composition (pipelines, grid search) and sktime's own estimator checks."""

import inspect
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import TINY

pytest.importorskip("sktime")

from sktime.utils.estimator_checks import check_estimator  # noqa: E402

from sklearn_astromer import (  # noqa: E402
    AstromerClassifier,
    AstromerEmbedder,
    LightCurves,
    as_light_curves,
)
from sklearn_astromer import _lightcurves as lightcurves_module  # noqa: E402
from sklearn_astromer.sktime import (  # noqa: E402
    AstromerTimeSeriesClassifier,
    AstromerTransformer,
    panel_to_light_curves,
)

HEAD = dict(hidden_layer_sizes=(8,), head_epochs=3)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def to_multiindex(X, ids=None, err=True):
    """pd-multiindex panel with an integer time index and an ``mjd`` column."""
    ids = [f"star{k}" for k in range(len(X))] if ids is None else ids
    frames = []
    for object_id, x in zip(ids, X):
        columns = {"mjd": x[:, 0], "mag": x[:, 1]}
        if err:
            columns["mag_err"] = x[:, 2]
        index = pd.MultiIndex.from_product([[object_id], range(len(x))],
                                           names=["instance", "timepoint"])
        frames.append(pd.DataFrame(columns, index=index))
    return pd.concat(frames)


def to_nested(X, ids):
    rows = {
        "mjd": [pd.Series(x[:, 0]) for x in X],
        "mag": [pd.Series(x[:, 1]) for x in X],
        "mag_err": [pd.Series(x[:, 2]) for x in X],
    }
    return pd.DataFrame(rows, index=pd.Index(ids))


def to_df_list(X):
    return [pd.DataFrame({"mjd": x[:, 0], "mag": x[:, 1], "mag_err": x[:, 2]}) for x in X]


# --------------------------------------------------------------------------- conversion


def test_import_error_names_the_extra():
    code = (
        "import sys; sys.modules['sktime'] = None\n"
        "try:\n"
        "    import sklearn_astromer.sktime\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install sklearn-astromer[sktime]" in out


@pytest.mark.parametrize("form", ["pd-multiindex", "nested_univ", "df-list"])
def test_panel_forms_give_the_same_light_curves(curves, form):
    X, _ = curves
    ids = [f"star{k}" for k in range(len(X))]
    panel = {
        "pd-multiindex": lambda: to_multiindex(X, ids),
        "nested_univ": lambda: to_nested(X, ids),
        "df-list": lambda: to_df_list(X),
    }[form]()
    got, got_ids = panel_to_light_curves(panel, time_column="mjd", err_column="mag_err")
    assert len(got) == len(X)
    for a, b in zip(got, X):
        np.testing.assert_array_equal(a, b)
    expected_ids = list(range(len(X))) if form == "df-list" else ids
    assert list(got_ids) == expected_ids


def test_time_from_the_index():
    days = np.array([0.0, 1.5, 10.25])
    stamps = pd.Timestamp("2000-01-01") + pd.to_timedelta(days, unit="D")
    mjd_2000 = 51544.0  # MJD of 2000-01-01 00:00 UTC
    for index, expected in [
        (pd.Index([3, 5, 9]), [3.0, 5.0, 9.0]),
        (pd.DatetimeIndex(stamps), mjd_2000 + days),
        (pd.DatetimeIndex(stamps).tz_localize("UTC").tz_convert("Europe/Paris"), mjd_2000 + days),
        (pd.TimedeltaIndex(pd.to_timedelta(days, unit="D")), days),
    ]:
        frame = pd.DataFrame({"flux_mag": [15.0, 15.1, 15.2]}, index=index)
        (lc,), _ = panel_to_light_curves([frame])
        np.testing.assert_allclose(lc[:, 0], expected)
        np.testing.assert_array_equal(lc[:, 1], [15.0, 15.1, 15.2])


def test_column_choice_and_errors():
    frame = pd.DataFrame({"t": [0.0, 1.0], "e": [0.1, 0.2], "m": [15.0, 16.0]})
    (lc,), _ = panel_to_light_curves([frame], time_column="t", err_column="e")
    np.testing.assert_array_equal(lc, [[0.0, 15.0, 0.1], [1.0, 16.0, 0.2]])
    (lc,), _ = panel_to_light_curves([frame], mag_column="m")  # time from the RangeIndex
    np.testing.assert_array_equal(lc, [[0.0, 15.0], [1.0, 16.0]])
    with pytest.raises(ValueError, match="err_column='sigma' is not a column"):
        panel_to_light_curves([frame], err_column="sigma")
    with pytest.raises(ValueError, match="no magnitude column"):
        panel_to_light_curves([frame[["t"]]], time_column="t")
    strings = pd.DataFrame({"m": [1.0]}, index=pd.Index(["a"]))
    with pytest.raises(ValueError, match="time_column"):
        panel_to_light_curves([strings])


def test_interleaved_multiindex_rows_are_grouped():
    index = pd.MultiIndex.from_tuples([("a", 0), ("b", 0), ("a", 1), ("b", 1)])
    X = pd.DataFrame({"mag": [1.0, 2.0, 3.0, 4.0]}, index=index)
    got, ids = panel_to_light_curves(X)
    assert list(ids) == ["a", "b"]
    np.testing.assert_array_equal(got[0][:, 1], [1.0, 3.0])
    np.testing.assert_array_equal(got[1][:, 1], [2.0, 4.0])


@pytest.mark.parametrize("form", ["pd-multiindex", "nested_univ", "df-list"])
def test_panel_to_one_validated_light_curves(curves, form):
    X, _ = curves
    ids = [f"star{k}" for k in range(len(X))]
    panel = {
        "pd-multiindex": lambda: to_multiindex(X, ids),
        "nested_univ": lambda: to_nested(X, ids),
        "df-list": lambda: to_df_list(X),
    }[form]()
    lc = panel_to_light_curves(panel, time_column="mjd", err_column="mag_err",
                               as_light_curves=True)
    assert isinstance(lc, LightCurves)
    expected = as_light_curves(X)
    for name in ("offsets", "time", "mag", "err"):
        np.testing.assert_array_equal(getattr(lc, name), getattr(expected, name))
    assert list(lc.ids) == (list(range(len(X))) if form == "df-list" else ids)


def test_panel_light_curves_are_sorted_and_checked():
    index = pd.MultiIndex.from_tuples([("a", 0), ("a", 1), ("b", 0), ("b", 1)])
    X = pd.DataFrame({"t": [5.0, 2.0, 1.0, 3.0], "mag": [15.0, 12.0, 11.0, 13.0]}, index=index)
    lc = panel_to_light_curves(X, time_column="t", as_light_curves=True)
    assert lc.time.tolist() == [2.0, 5.0, 1.0, 3.0] and lc.mag.tolist()[:2] == [12.0, 15.0]
    (first, _), _ = panel_to_light_curves(X, time_column="t")  # the list form is as read
    assert first.tolist() == [[5.0, 15.0], [2.0, 12.0]]
    X.iloc[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"light curve 1 \('b'\): NaN or infinite magnitude"):
        panel_to_light_curves(X, time_column="t", as_light_curves=True)


def test_adapters_hand_the_estimator_one_light_curves(curves, monkeypatch):
    X, y = curves
    panel = to_multiindex(X)
    received = []
    fit, transform = AstromerEmbedder.fit, AstromerEmbedder.transform

    def spy(method):
        def wrapper(self, X, *args, **kwargs):
            received.append(X)
            return method(self, X, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(AstromerEmbedder, "fit", spy(fit))
    monkeypatch.setattr(AstromerEmbedder, "transform", spy(transform))
    # The funnel's list and DataFrame paths are never taken: the panel is read once.
    monkeypatch.setattr(lightcurves_module, "_from_sequence", None)
    monkeypatch.setattr(lightcurves_module, "_from_dataframe", None)
    trafo = AstromerTransformer(**TINY, time_column="mjd", err_column="mag_err")
    out = trafo.fit(panel).transform(panel)
    assert len(received) == 2
    assert all(isinstance(lc, LightCurves) for lc in received)
    assert list(received[1].ids) == list(out.index)


def test_adapters_expose_the_wrapped_parameters():
    for adapter, wrapped in [(AstromerTransformer, AstromerEmbedder),
                             (AstromerTimeSeriesClassifier, AstromerClassifier)]:
        inner = inspect.signature(wrapped).parameters
        outer = inspect.signature(adapter).parameters
        assert set(outer) == set(inner) - {"columns"} | {"time_column", "mag_column",
                                                          "err_column", "band_column", "band"}
        for name in set(inner) - {"columns"}:
            assert outer[name].default == inner[name].default, name


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("pooling", ["mean", "layers"])
def test_same_embeddings_as_the_plain_estimator(curves, pooling):
    X, _ = curves
    ids = [f"star{k}" for k in range(len(X))]
    plain = AstromerEmbedder(**TINY, pooling=pooling).fit(X).transform(X)

    trafo = AstromerTransformer(**TINY, pooling=pooling, time_column="mjd",
                                err_column="mag_err")
    out = trafo.fit_transform(to_multiindex(X, ids))
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == ids
    np.testing.assert_allclose(out.to_numpy(), plain, rtol=1e-5, atol=1e-6)
    # Another panel form of the same light curves gives the same rows.
    np.testing.assert_allclose(trafo.transform(to_df_list(X)).to_numpy(), plain,
                               rtol=1e-5, atol=1e-6)


def test_same_predictions_as_the_plain_classifier(curves):
    X, y = curves
    plain = AstromerClassifier(**TINY, **HEAD).fit(X, y)
    adapter = AstromerTimeSeriesClassifier(**TINY, **HEAD, time_column="mjd",
                                           err_column="mag_err")
    adapter.fit(to_multiindex(X), y)
    np.testing.assert_allclose(adapter.predict_proba(to_multiindex(X)),
                               plain.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert list(adapter.classes_) == list(plain.classes_)


# --------------------------------------------------------------------------- composition


def test_transformer_in_an_sktime_pipeline(curves):
    from sklearn.linear_model import LogisticRegression
    from sktime.classification.compose import SklearnClassifierPipeline

    X, y = curves
    panel = to_multiindex(X)
    pipe = AstromerTransformer(**TINY, time_column="mjd") * LogisticRegression()
    assert isinstance(pipe, SklearnClassifierPipeline)
    pipe.fit(panel, y)
    assert pipe.predict(panel).shape == (len(X),)
    assert pipe.predict_proba(panel).shape == (len(X), 3)
    # The pipeline is the transformer's output handed to the regression, fitted by hand.
    Z = AstromerTransformer(**TINY, time_column="mjd").fit_transform(panel)
    by_hand = LogisticRegression().fit(Z, y)
    np.testing.assert_allclose(pipe.predict_proba(panel), by_hand.predict_proba(Z),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(pipe.predict(panel), by_hand.predict(Z))


def test_classifier_in_sktime_grid_search(curves):
    from sklearn.model_selection import KFold
    from sktime.classification.model_selection import TSCGridSearchCV

    X, y = curves
    panel = to_multiindex(X)
    search = TSCGridSearchCV(
        AstromerTimeSeriesClassifier(**TINY, **HEAD, time_column="mjd"),
        param_grid={"head_lr": [1e-3, 1e-2], "max_epochs": [0, 1]},
        cv=KFold(n_splits=2, shuffle=True, random_state=0),
    )
    search.fit(panel, y)
    assert set(search.best_params_) == {"head_lr", "max_epochs"}
    assert search.predict(panel).shape == (len(X),)
    # The refitted estimator is the classifier with the best parameters fitted on all of it.
    refit = AstromerTimeSeriesClassifier(**{**TINY, **HEAD, **search.best_params_},
                                         time_column="mjd").fit(panel, y)
    np.testing.assert_array_equal(search.predict(panel), refit.predict(panel))


def test_unequal_lengths_and_datetime_index():
    rng = np.random.default_rng(0)
    frames, X = [], []
    mjd_2020 = 58849.0  # MJD of 2020-01-01 00:00 UTC
    for k, n in enumerate([12, 30, 7]):
        days = np.sort(rng.uniform(0, 50, n))
        stamps = pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D")
        mag = rng.normal(15, 0.3, n)
        frames.append(pd.DataFrame({"mag": mag},
                                   index=pd.MultiIndex.from_arrays([[k] * n, stamps])))
        X.append(np.c_[mjd_2020 + days, mag])
    panel = pd.concat(frames)
    out = AstromerTransformer(**TINY).fit_transform(panel)
    assert out.shape == (3, 8)
    assert np.isfinite(out.to_numpy()).all()
    assert list(out.index) == [0, 1, 2]
    # The same as the plain embedder given the times as MJD by hand (to the nanosecond
    # rounding of the timestamps, far below what the embedding resolves).
    plain = AstromerEmbedder(**TINY).fit(X).transform(X)
    np.testing.assert_allclose(out.to_numpy(), plain, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- sktime checks


@pytest.mark.slow  # 10-25 s each; the adapters' paths are covered above by parity tests
@pytest.mark.parametrize("adapter", [AstromerTransformer, AstromerTimeSeriesClassifier])
def test_sktime_check_estimator(adapter):
    check_estimator(adapter, raise_exceptions=True, verbose=False)
