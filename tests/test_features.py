"""Tests of ``sklearn_astromer.features``: values against hand computations and invariants,
every input form, errors, the hybrid pipeline on real CRTS curves, and sklearn's checks."""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_astromer import AstromerEmbedder, LightCurves, as_light_curves
from sklearn_astromer.features import (
    FOURIER_FEATURE_NAMES,
    FREQUENCY_BOUNDS,
    MIN_OBSERVATIONS,
    LightCurveFeatures,
    PhaseFolded,
    _best_fourier_period,
    _clean,
    fold_light_curve,
    frequency_grid,
    make_hybrid_pipeline,
)

pytest.importorskip("light_curve")

# A grid fine enough for a 300-day baseline (step 3e-4 cycles/day, a tenth of a peak's
# width) up to 5 cycles/day, 16 times smaller than the default and as much faster.
FAST = dict(max_frequency=5.0, grid_log2=14)


def _nightly_times(n_nights, rng, span=300.0):
    """CRTS-like sampling: visits of 4 exposures 10 minutes apart on random nights."""
    nights = np.sort(rng.choice(np.arange(int(span)), n_nights, replace=False)).astype(float)
    offsets = rng.uniform(0.1, 0.3, n_nights)
    return np.concatenate([n + o + np.arange(4) * 0.007 for n, o in zip(nights, offsets)])


def _sinusoid(period=0.3, amplitude=0.4, n_nights=60, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    t = _nightly_times(n_nights, rng)
    mag = 15 + amplitude * np.sin(2 * np.pi * t / period) + rng.normal(0, noise, t.size)
    return np.column_stack([t, mag, np.full(t.size, 0.02)])


def _features_of(curves, **params):
    transformer = LightCurveFeatures(**{**FAST, **params})
    values = transformer.fit_transform(curves)
    return dict(zip(transformer.get_feature_names_out(), values.T))


# --- values -------------------------------------------------------------------------------


def test_noiseless_sinusoid_recovers_period_and_amplitude():
    # A frequency of the periodogram grid (k * max_frequency / 2**grid_log2 cycles/day), near
    # 0.3 d: the peak is then exactly at the period and the fit exact.
    period, amplitude = 2**FAST["grid_log2"] / (10923 * FAST["max_frequency"]), 0.4
    features = _features_of([_sinusoid(period, amplitude)])
    # Nightly sampling: the 1-day aliases (1/0.3 -+ 1 cycles/day) compete with the true
    # peak; it is among the highest, and the Fourier fit picks it.
    peaks = [features[f"periodogram_period_{k}"][0] for k in range(5)]
    assert min(abs(p / period - 1) for p in peaks) < 1e-9
    assert features["fourier_period"][0] == pytest.approx(period, rel=1e-9)
    # A sinusoid of semi-amplitude A: peak to peak 2A, no harmonics, all variance explained.
    assert features["fourier_amplitude"][0] == pytest.approx(2 * amplitude, rel=1e-4)
    assert features["fourier_explained_variance"][0] == pytest.approx(1.0, abs=1e-6)
    assert features["fourier_r21"][0] == pytest.approx(0.0, abs=1e-4)
    assert features["standard_deviation"][0] == pytest.approx(amplitude / np.sqrt(2), rel=0.05)
    # Folded at twice its period, the sinusoid is a pure second harmonic: no odd power and
    # two equal minima.
    assert features["fourier_2p_odd_power_fraction"][0] == pytest.approx(0.0, abs=1e-6)
    assert features["fourier_2p_minima_depth_ratio"][0] == pytest.approx(1.0, abs=1e-3)


def test_fourier_period_prefers_the_true_period_over_its_daily_alias():
    # A sawtooth (RR Lyrae-like) sampled once a night: its alias at 1/P - 1 cycles/day folds
    # a sinusoid as well as the period, but not a sawtooth.
    rng = np.random.default_rng(1)
    period = 0.55
    t = np.sort(rng.choice(np.arange(600), 200, replace=False) + rng.uniform(0.1, 0.3, 200))
    mag = 15 + 0.8 * ((t / period) % 1.0)
    err = np.full(t.size, 0.02)
    alias = 1.0 / (1.0 / period - 1.0)
    assert _best_fourier_period(t, mag, err, [alias, period, np.nan], 4) == period
    assert np.isnan(_best_fourier_period(t, mag, err, [np.nan, -1.0], 4))


def test_frequency_grid_follows_each_curves_cadence_and_baseline():
    rng = np.random.default_rng(0)
    nightly = np.sort(rng.choice(np.arange(900), 120, replace=False) + rng.uniform(-0.15, 0.15, 120))
    visits = _nightly_times(60, rng)  # 4 exposures 10 minutes apart: intra-night reach
    low, high = FREQUENCY_BOUNDS
    assert frequency_grid(nightly)[0] == low  # 1 / (2 dt) of nightly sampling, clipped up
    assert frequency_grid(visits)[0] == high  # 1 / (2 x 10 min), clipped down
    for t in (nightly, visits, np.sort(rng.uniform(0, 3000, 300))):
        max_frequency, grid_log2 = frequency_grid(t)
        step = max_frequency / 2**grid_log2
        baseline = np.ptp(t)
        # At least 5 and fewer than 10 grid steps per peak width (1 / baseline).
        assert 1 / (10 * baseline) < step <= 1 / (5 * baseline)
    assert frequency_grid(nightly, max_frequency=3.0, grid_log2=12) == (3.0, 12)
    assert frequency_grid(nightly, frequency_bounds=(2.0, 4.0))[0] == 2.0


def test_automatic_grid_reaches_short_periods_only_where_the_cadence_does():
    rng = np.random.default_rng(3)
    t = _nightly_times(80, rng)
    period = 0.0612  # a HADS, 16.3 cycles/day: beyond 10, within 20
    hads = np.column_stack([t, 15 + 0.2 * np.sin(2 * np.pi * t / period), np.full(t.size, 0.01)])
    features = LightCurveFeatures(n_peaks=3)
    values = dict(zip(features.fit(hads[None]).get_feature_names_out(),
                      features.transform([hads])[0]))
    assert values["fourier_period"] == pytest.approx(period, rel=1e-3)
    # Once a night only: the grid stops at 10 cycles/day, so no period under 0.1 d is found.
    nights = np.sort(rng.choice(np.arange(300), 100, replace=False) + rng.uniform(-0.1, 0.1, 100))
    rrc = np.column_stack([nights, 15 + 0.2 * np.sin(2 * np.pi * nights / 0.3),
                           np.full(nights.size, 0.01)])
    peaks = features.transform([rrc])[0][
        [list(features.get_feature_names_out()).index(f"periodogram_period_{k}") for k in range(3)]
    ]
    assert peaks.min() >= 0.1


def test_candidate_periods_are_refined_within_a_grid_step():
    # A grid whose step (5e-4 cycles/day) is half a peak's width over 1000 days: the grid's
    # nearest frequency blurs the folded curve; the refinement finds the period again.
    rng = np.random.default_rng(2)
    period = 0.4567
    t = np.sort(rng.uniform(0, 1000, 300))
    mag = 15 + 0.5 * ((t / period) % 1.0) ** 2
    err = np.full(t.size, 0.02)
    step = 5e-4
    on_grid = 1.0 / (np.round((1.0 / period) / step) * step)
    refined = _best_fourier_period(t, mag, err, [on_grid], 4, step)
    assert abs(refined - period) < 0.2 * abs(on_grid - period)


def test_clean_merges_duplicated_times_with_inverse_variance_weights():
    t = np.array([1.0, 1.0, 2.0, 3.0])
    mag = np.array([12.0, 13.0, 10.0, 11.0])
    err = np.array([0.1, 0.2, 0.1, 0.0])  # a zero error takes the median of the positive
    t_clean, m_clean, e_clean = _clean(t, mag, err)
    w = np.array([1 / 0.1**2, 1 / 0.2**2])
    np.testing.assert_array_equal(t_clean, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(m_clean, [(w[0] * 12 + w[1] * 13) / w.sum(), 10.0, 11.0])
    np.testing.assert_allclose(e_clean, [1 / np.sqrt(w.sum()), 0.1, 0.1])
    # Without errors, equal weights: the plain mean.
    _, m_equal, e_equal = _clean(t, mag, None)
    np.testing.assert_allclose(m_equal, [12.5, 10.0, 11.0])
    np.testing.assert_allclose(e_equal, [1 / np.sqrt(2), 1.0, 1.0])


def test_invariances_of_the_features():
    curve = _sinusoid(noise=0.02)
    base = LightCurveFeatures(**FAST).fit_transform([curve])
    # A duplicated exposure is the merged observation: same magnitude, error / sqrt(2).
    with_duplicate = np.vstack([curve, curve[5]])
    merged = curve.copy()
    merged[5, 2] /= np.sqrt(2)
    # Equal up to rounding: the two fits see the same weighted data in another float order
    # (near-zero phase terms make the relative difference reach 1e-12).
    np.testing.assert_allclose(LightCurveFeatures(**FAST).fit_transform([with_duplicate]),
                               LightCurveFeatures(**FAST).fit_transform([merged]), rtol=1e-9,
                               atol=1e-12)
    # Shifting all times changes no period nor folded shape (the phase starts at the first
    # time) and no statistic of the magnitudes.
    shifted = curve + [1000.0, 0.0, 0.0]
    names = list(LightCurveFeatures(**FAST).get_feature_names_out())
    shift_free = [names.index(n) for n in ["periodogram_period_0", "standard_deviation",
                                           "skew", *FOURIER_FEATURE_NAMES]]
    np.testing.assert_allclose(
        LightCurveFeatures(**FAST).fit_transform([shifted])[:, shift_free], base[:, shift_free],
        rtol=1e-6,
    )


def test_short_curves_give_nan_rows_and_undefined_features_are_nan():
    short = _sinusoid()[: MIN_OBSERVATIONS - 1]
    flat = np.column_stack([np.arange(50.0), np.full(50, 15.0), np.full(50, 0.1)])
    values = LightCurveFeatures(**FAST).fit_transform([short, flat, _sinusoid()])
    assert np.isnan(values[0]).all()
    assert np.isnan(values[1]).any() and not np.isinf(values).any()
    assert np.isfinite(values[2]).sum() > 60


# --- input forms and errors ---------------------------------------------------------------


def _three_curves():
    return [_sinusoid(period=p, seed=s)[:n] for p, s, n in [(0.3, 0, 200), (0.7, 1, 150),
                                                             (2.5, 2, 120)]]


def _all_forms(curves):
    """The same light curves in every form the input funnel accepts."""
    ids = ["a", "b", "c"]
    n_max = max(len(c) for c in curves)
    padded = np.full((len(curves), n_max, 3), np.nan)
    for k, c in enumerate(curves):
        padded[k, : len(c)] = c
    rng = np.random.default_rng(0)
    # Objects in order (a long table's objects come in order of first appearance), each
    # one's rows shuffled.
    long = pd.concat(
        [pd.DataFrame({"object_id": i, "mjd": c[:, 0], "mag": c[:, 1], "mag_err": c[:, 2]})
         .sample(frac=1.0, random_state=0) for i, c in zip(ids, curves)]
    )
    nested = pd.DataFrame({"object_id": ids, "mjd": [c[:, 0] for c in curves],
                           "mag": [c[:, 1] for c in curves], "mag_err": [c[:, 2] for c in curves]})
    return {
        "arrays": curves,
        "shuffled rows": [c[rng.permutation(len(c))] for c in curves],
        "tuples": [tuple(c.T) for c in curves],
        "padded": padded,
        "long table": long,
        "nested table": nested,
        "LightCurves": as_light_curves(curves),
    }


def test_every_input_form_gives_the_same_features_and_folds():
    curves = _three_curves()
    expected = LightCurveFeatures(**FAST).fit_transform(curves)
    folder = PhaseFolded(features=LightCurveFeatures(**FAST))
    expected_folded = folder.fit_transform(curves)
    for form, X in _all_forms(curves).items():
        np.testing.assert_array_equal(
            LightCurveFeatures(**FAST).fit_transform(X), expected, err_msg=form
        )
        folded = PhaseFolded(features=LightCurveFeatures(**FAST)).fit_transform(X)
        np.testing.assert_array_equal(folded.time, expected_folded.time, err_msg=form)
        np.testing.assert_array_equal(folded.mag, expected_folded.mag, err_msg=form)


def test_batch_equals_one_by_one():
    curves = _three_curves()
    transformer = LightCurveFeatures(**FAST, n_jobs=2).fit(curves)
    batch = transformer.transform(curves)
    one_by_one = np.vstack([transformer.transform([c]) for c in curves])
    np.testing.assert_array_equal(batch, one_by_one)


def test_pandas_output_is_indexed_by_object_id():
    curves = _three_curves()
    table = _all_forms(curves)["nested table"]
    transformer = LightCurveFeatures(**FAST).set_output(transform="pandas")
    out = transformer.fit_transform(table)
    assert list(out.index) == ["a", "b", "c"] and out.index.name == "object_id"
    assert list(out.columns) == list(transformer.get_feature_names_out())
    np.testing.assert_array_equal(out.to_numpy(), LightCurveFeatures(**FAST).fit_transform(curves))


def test_bad_light_curves_raise_a_value_error_naming_them():
    curves = _three_curves()
    bad = [c.copy() for c in curves]
    bad[1][4, 1] = np.nan
    with pytest.raises(ValueError, match=r"light curve 1: NaN or infinite magnitude"):
        LightCurveFeatures(**FAST).fit(bad)
    transformer = LightCurveFeatures(**FAST).fit(curves)
    with pytest.raises(ValueError, match=r"light curve 2: expected an array of shape"):
        transformer.transform([curves[0], curves[1], np.zeros((5, 4))])
    with pytest.raises(ValueError, match=r"light curve 0 \('x'\): negative or non-finite error"):
        PhaseFolded(features=LightCurveFeatures(**FAST)).fit(
            pd.DataFrame({"object_id": "x", "mjd": [1.0, 2.0], "mag": [1.0, 2.0],
                          "mag_err": [0.1, -0.1]})
        )
    with pytest.raises(ValueError, match="n_harmonics"):
        LightCurveFeatures(n_harmonics=2).fit(curves)


def test_missing_light_curve_package_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "light_curve", None)  # makes `import light_curve` fail
    with pytest.raises(ImportError, match=r"pip install \"sklearn-astromer\[features\]\""):
        LightCurveFeatures().fit(_three_curves())


def test_the_package_imports_without_light_curve():
    code = (
        "import sys; sys.modules['light_curve'] = None\n"
        "import sklearn_astromer, sklearn_astromer.features\n"
        "print(sklearn_astromer.features.make_hybrid_pipeline.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "make_hybrid_pipeline"


# --- folding ------------------------------------------------------------------------------


def test_fold_light_curve_puts_one_period_on_two_pi():
    period = 0.7
    curve = _sinusoid(period=period, amplitude=0.5)
    t, mag, err = curve.T
    for n_cycles in (1, 2, 3):
        phase_time, folded_mag, folded_err = fold_light_curve(t, mag, err, period, n_cycles)
        assert np.all(np.diff(phase_time) >= 0)
        assert phase_time.min() >= 0 and phase_time.max() < 2 * np.pi * n_cycles
        # The same observations, reordered.
        np.testing.assert_array_equal(np.sort(folded_mag), np.sort(mag))
        # Folded at its period, the curve is the sine of the new time (one period = 2 pi).
        phase0 = 2 * np.pi * t[0] / period
        np.testing.assert_allclose(folded_mag, 15 + 0.5 * np.sin(phase_time + phase0),
                                   atol=1e-6)
        np.testing.assert_array_equal(folded_err, err[np.argsort((t - t[0]) / period
                                                                  / n_cycles % 1.0,
                                                                  kind="stable")])
    # Independent of where time starts, and errors stay absent when absent.
    shifted = fold_light_curve(t + 123.4, mag, None, period)
    np.testing.assert_allclose(shifted[0], fold_light_curve(t, mag, None, period)[0],
                               atol=1e-9)
    assert shifted[2] is None
    with pytest.raises(ValueError, match="period must be a positive"):
        fold_light_curve(t, mag, err, 0.0)


def test_phase_folded_folds_each_curve_at_its_features_period():
    curves = _three_curves()
    features = LightCurveFeatures(**FAST)
    periods = features.fit_transform(curves)[
        :, list(features.get_feature_names_out()).index("fourier_period")
    ]
    np.testing.assert_allclose(periods, [0.3, 0.7, 2.5], rtol=1e-3)
    folded = PhaseFolded(features=features).fit_transform(_all_forms(curves)["nested table"])
    assert isinstance(folded, LightCurves) and list(folded.ids) == ["a", "b", "c"]
    for curve, period, (phase_time, mag, err) in zip(curves, periods, folded):
        expected = fold_light_curve(*curve.T, period)
        np.testing.assert_array_equal(phase_time, expected[0])
        np.testing.assert_array_equal(mag, expected[1])
        np.testing.assert_array_equal(err, expected[2])
    # A light curve without a period (too short) is folded at 1 day; no errors stay none.
    short = curves[0][:5, :2]
    out = PhaseFolded(features=features).fit_transform([short])
    np.testing.assert_array_equal(out.time, fold_light_curve(*short.T, None, 1.0)[0])
    assert out.err is None


def test_phase_folded_is_invariant_to_batches_order_refits_and_pickling():
    curves = _three_curves()
    folder = PhaseFolded(features=LightCurveFeatures(**FAST)).fit(curves)
    whole = list(folder.transform(curves))
    parts = [obj for k in range(3) for obj in folder.transform([curves[k]])]
    reversed_ = list(folder.transform(curves[::-1]))[::-1]
    refit = list(PhaseFolded(features=LightCurveFeatures(**FAST)).fit(curves[:1])
                 .transform(curves))
    unpickled = list(pickle.loads(pickle.dumps(folder)).transform(curves))
    for other in (parts, reversed_, refit, unpickled):
        for expected, got in zip(whole, other):
            for a, b in zip(expected, got):
                np.testing.assert_array_equal(a, b)


# --- the hybrid ---------------------------------------------------------------------------

TINY_EMBEDDER = dict(weights=None, n_layers=1, n_heads=2, d_model=8, d_ff=8, window_length=32,
                     max_epochs=0, random_state=0)


def test_hybrid_pipeline_defaults_are_the_benchmark_hybrid():
    model = make_hybrid_pipeline(random_state=3)
    union = model.named_steps["union"]
    embedding = union.named_transformers["embedding"]
    assert [name for name, _ in embedding.steps] == ["embedder", "scaler", "pca"]
    embedder = embedding.named_steps["embedder"]
    assert (embedder.weights, embedder.max_epochs, embedder.pooling) == ("macho", 0, "layers")
    assert embedding.named_steps["pca"].n_components == 8
    assert embedding.named_steps["pca"].random_state == 3
    features = union.named_transformers["features"]
    assert isinstance(features.named_steps["features"], LightCurveFeatures)
    assert model.named_steps["classifier"].get_params()["n_estimators"] == 500


def test_hybrid_pipeline_on_real_crts_curves(shared_dir):
    path = shared_dir / "crts_train.parquet"
    if not path.exists():
        pytest.skip(f"{path} not found")
    from sklearn_astromer.datasets import load_light_curves

    X, y = load_light_curves(path, classes=["RRab", "EW", "LPV"])
    rng = np.random.default_rng(0)
    train, test = [], []
    for label in ("RRab", "EW", "LPV"):
        members = rng.permutation(np.flatnonzero(y == label))
        train.extend(members[:15])
        test.extend(members[15:30])
    X_train, y_train = [X[i] for i in train], y[train]
    X_test, y_test = [X[i] for i in test], y[test]

    model = make_hybrid_pipeline(AstromerEmbedder(**TINY_EMBEDDER), n_components=4,
                                 random_state=0)
    model.fit(X_train, y_train)
    # The features and the reduced embedding, side by side.
    union = model.named_steps["union"].transform(X_test)
    n_features = len(LightCurveFeatures().get_feature_names_out())
    assert union.shape == (len(X_test), n_features + 4)
    assert not np.isnan(union).any()  # imputed
    # Periods and shapes tell these classes apart well; a broken feature block would not.
    score = f1_score(y_test, model.predict(X_test), average="macro")
    assert score > 0.8


# --- scikit-learn's common checks ---------------------------------------------------------

TINY = dict(n_peaks=2, max_frequency=2.0, grid_log2=8)

_ANY_LENGTH = (
    "light curves of any length are accepted at transform: a 2-D array's width is its "
    "number of observations, not a fixed feature count"
)
# PhaseFolded returns light curves (a LightCurves, objects of different lengths), the input
# of a next estimator, not a 2-D array; these checks compare outputs as arrays (``.shape``,
# assert_allclose). Batch, order, refit and pickle invariance of the folding are tested in
# test_phase_folded_is_invariant_to_batches_order_refits_and_pickling.
_LIGHT_CURVE_OUTPUT = "transform returns light curves (LightCurves), not a 2-D array"
EXPECTED_FAILED = {
    LightCurveFeatures: {
        "check_n_features_in_after_fitting": _ANY_LENGTH,
        "check_transformer_general": (
            "includes the fixed-width check above; fit_transform == fit + transform holds "
            "since fit has no state"
        ),
    },
    PhaseFolded: {
        "check_n_features_in_after_fitting": _ANY_LENGTH,
        **{
            name: _LIGHT_CURVE_OUTPUT
            for name in [
                "check_transformer_general",
                "check_transformer_data_not_an_array",
                "check_pipeline_consistency",
                "check_estimators_pickle",
                "check_methods_sample_order_invariance",
                "check_methods_subset_invariance",
                "check_fit_idempotent",
            ]
        },
    },
}


def expected_failed(estimator):
    return EXPECTED_FAILED[type(estimator)]


@parametrize_with_checks(
    [LightCurveFeatures(**TINY), PhaseFolded(features=LightCurveFeatures(**TINY))],
    expected_failed_checks=expected_failed,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
