"""Reconstruction (gap filling, new times) and the reconstruction-based outlier detector."""

import numpy as np
import pytest
from conftest import SMALL, TINY
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_astromer import AstromerEmbedder, as_light_curves
from sklearn_astromer._reconstruction import hide_folds, reconstruct
from sklearn_astromer.anomaly import AstromerOutlierDetector, reconstruction_errors

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PRESETS = [
    pytest.param(dict(SMALL, max_epochs=0), id="astromer1"),
    pytest.param(dict(SMALL, max_epochs=0, preset="astromer2"), id="astromer2"),
]


@pytest.fixture(scope="module", params=PRESETS)
def embedder(request, synthetic):
    X, _ = synthetic
    return AstromerEmbedder(**request.param).fit(X)


# -- hide patterns -----------------------------------------------------------------------


@pytest.mark.parametrize("n_patterns", [2, 3, 5])
@pytest.mark.parametrize("block", [1, 2, 4])
def test_hide_folds_hide_every_observation_once_balanced(n_patterns, block):
    for length in (1, 7, 31, 200, 451):
        folds = hide_folds(length, n_patterns, block)
        assert folds.shape == (length,)
        assert set(folds.tolist()) <= set(range(n_patterns))
        # Within any window of n_patterns * block consecutive observations each fold
        # has exactly block of them: every window of a light curve is hidden evenly.
        span = n_patterns * block
        for start in range(0, length - span + 1, 3):
            counts = np.bincount(folds[start : start + span], minlength=n_patterns)
            assert (counts == block).all()
        # Runs of block observations stay together.
        assert (np.diff(folds)[np.arange(1, length) % block != 0] == 0).all()


def test_hide_folds_rejects_bad_settings():
    with pytest.raises(ValueError, match="n_patterns"):
        hide_folds(10, 1)
    with pytest.raises(ValueError, match="block"):
        hide_folds(10, 3, block=0)


# -- reconstruction ------------------------------------------------------------------


def test_reconstruct_one_array_per_curve_in_input_units(embedder, synthetic):
    X, _ = synthetic
    for hide in (None, 3):
        pred = embedder.reconstruct(X, hide=hide)
        assert len(pred) == len(X)
        for curve, p in zip(X, pred):
            assert p.shape == (len(curve),) and p.dtype == np.float64
            assert np.isfinite(p).all()
            # Magnitudes ~13-17: the window mean was added back.
            assert abs(np.median(p) - np.median(curve[:, 1])) < 2.0


def test_reconstruct_undoes_the_centring_exactly(embedder, synthetic):
    """A constant added to the magnitudes is added to the predictions and nothing else."""
    X, _ = synthetic
    shifted = [np.column_stack([c[:, 0], c[:, 1] + 7.25, c[:, 2]]) for c in X]
    for hide in (None, 3):
        a = embedder.reconstruct(X, hide=hide)
        b = embedder.reconstruct(shifted, hide=hide)
        for p, q in zip(a, b):
            np.testing.assert_allclose(q - p, 7.25, atol=2e-5)


def test_hidden_magnitudes_do_not_reach_the_model(embedder, synthetic):
    """Changing a hidden magnitude changes no prediction (not even through the window mean)."""
    X, _ = synthetic
    masks = [hide_folds(len(c), 3) == 1 for c in X]
    changed = []
    for c, mask in zip(X, masks):
        c = c.copy()
        c[mask, 1] += np.random.default_rng(0).normal(0, 3, mask.sum())
        changed.append(c)
    a = embedder.reconstruct(X, hide=masks)
    b = embedder.reconstruct(changed, hide=masks)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p, q, atol=1e-5)


def test_hide_patterns_predict_each_observation_while_hidden(embedder, synthetic):
    X, _ = synthetic
    folded = embedder.reconstruct(X, hide=3)
    for j in range(3):
        masks = [hide_folds(len(c), 3) == j for c in X]
        single = embedder.reconstruct(X, hide=masks)
        for p, q, mask in zip(folded, single, masks):
            np.testing.assert_allclose(p[mask], q[mask], rtol=0, atol=1e-5)


def test_reconstruct_batched_equals_one_by_one(embedder, synthetic):
    X, _ = synthetic
    times = [np.linspace(c[0, 0], c[-1, 0], 11) for c in X[:5]]
    together = embedder.reconstruct(X[:5], hide=3)
    together_t = embedder.reconstruct(X[:5], times=times)
    for k in range(5):
        np.testing.assert_allclose(embedder.reconstruct([X[k]], hide=3)[0], together[k],
                                   atol=1e-5)
        np.testing.assert_allclose(embedder.reconstruct([X[k]], times=[times[k]])[0],
                                   together_t[k], atol=1e-5)


def test_reconstruct_at_new_times(embedder, synthetic):
    X, _ = synthetic
    curve = X[0]
    # One array for every curve, unsorted, with more times than a window holds.
    grid = np.random.default_rng(0).uniform(curve[0, 0], curve[-1, 0], 70)
    pred = embedder.reconstruct(X[:3], times=grid)
    assert [p.shape for p in pred] == [(70,)] * 3
    assert all(np.isfinite(p).all() for p in pred)
    # The order of the times is kept: sorting them permutes the predictions alike.
    order = np.argsort(grid)
    sorted_pred = embedder.reconstruct(X[:1], times=grid[order])[0]
    chunked = pred[0][order]
    # Chunks of new times take different context windows once sorted, so compare the
    # predictions of the first chunk only, which is the same set of times either way.
    n = max(1, embedder.config_.window_length // 3)
    np.testing.assert_allclose(sorted_pred[:n], chunked[:n], atol=1e-5)
    # Predictions do not depend on the magnitude scale's zero point.
    shifted = np.column_stack([curve[:, 0], curve[:, 1] - 3.0, curve[:, 2]])
    np.testing.assert_allclose(embedder.reconstruct([shifted], times=grid)[0],
                               pred[0] - 3.0, atol=2e-5)


def test_reconstruct_bad_input_names_the_light_curve(embedder, synthetic):
    X, _ = synthetic
    with pytest.raises(ValueError, match="not both"):
        embedder.reconstruct(X, hide=3, times=np.arange(3.0))
    masks = [np.zeros(len(c), dtype=bool) for c in X]
    masks[2] = np.zeros(len(X[2]) + 1, dtype=bool)
    with pytest.raises(ValueError, match="light curve 2"):
        embedder.reconstruct(X, hide=masks)
    masks[2] = np.ones(len(X[2]), dtype=bool)
    with pytest.raises(ValueError, match="hides all"):
        embedder.reconstruct(X, hide=masks)
    with pytest.raises(ValueError, match="at least 2"):
        embedder.reconstruct(X, hide=1)
    with pytest.raises(ValueError, match="masks for"):
        embedder.reconstruct(X, hide=masks[:3])
    with pytest.raises(ValueError, match="light curve 1.*finite"):
        embedder.reconstruct(X[:2], times=[np.arange(3.0), np.array([1.0, np.nan])])
    with pytest.raises(ValueError, match="arrays for"):
        embedder.reconstruct(X[:2], times=[np.arange(3.0)])


def test_released_weights_put_hidden_observations_at_the_window_mean(released_weights):
    """The released Astromer 1 weights copy what they see and do not fill a gap."""
    from sklearn_astromer.datasets import make_light_curves

    # Full windows: the released weights saw windows of 200 observations in training.
    X, _ = make_light_curves(n_per_class=2, classes=["RRab", "LPV"], n_obs=(200, 240),
                             random_state=0)
    emb = AstromerEmbedder(weights="macho", max_epochs=0).fit(X[:4])
    lc = as_light_curves(X[:4])
    seen = reconstruct(emb.module_, lc)
    hidden = reconstruct(emb.module_, lc, hide=3)
    for (t, m, _), s, h in zip(lc, seen, hidden):
        assert np.sqrt(np.mean((s - m) ** 2)) < 0.5 * np.std(m)
        assert np.sqrt(np.mean((h - m) ** 2)) > 0.8 * np.std(m)


# -- outlier detector ----------------------------------------------------------------

DETECTOR = dict(TINY, n_patterns=2)

EXPECTED_FAILED = {
    "check_n_features_in_after_fitting": (
        "light curves of any length are accepted at predict: a 2-D array's width is its "
        "number of observations, not a fixed feature count"
    ),
    "check_outliers_train": (
        "includes the fixed-width check above; training and scoring are tested on light "
        "curves in test_anomaly.py"
    ),
    "check_outlier_corruption": (
        "rows of two numbers are read as light curves of two observations, whose "
        "reconstruction errors tie; the score's ordering is tested on light curves"
    ),
    "check_classifier_data_not_an_array": (
        "also feeds a wide DataFrame; a DataFrame is read as a table of observations "
        "(long or nested), with named time and magnitude columns"
    ),
    "check_outliers_fit_predict": (
        "rows of two numbers are read as light curves of two observations, whose "
        "scores tie, so no threshold gives the requested share"
    ),
}


@parametrize_with_checks(
    [AstromerOutlierDetector(**DETECTOR)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def periodic():
    """Light curves the tiny models learn: regular, periodic, and their unusual kin."""
    from sklearn_astromer.datasets import make_light_curves

    X, _ = make_light_curves(n_per_class=12, classes=["RRab", "EA"], n_obs=(40, 90),
                             random_state=3)
    rng = np.random.default_rng(4)
    odd = []
    for c in X[:6]:
        c = c.copy()
        c[:, 1] = c[:, 1].mean() + rng.normal(0, 3.0, len(c))  # 3 mag of white noise
        odd.append(c)
    return X, odd


def test_detector_scores_unpredictable_curves_as_outliers(periodic):
    X, odd = periodic
    detector = AstromerOutlierDetector(**dict(SMALL, max_epochs=3)).fit(X)
    normal = detector.score_samples(X[12:18])
    outliers = detector.score_samples(odd)
    assert outliers.max() < normal.min()
    assert (detector.predict(odd) == -1).all()
    # scikit-learn's conventions.
    np.testing.assert_allclose(detector.decision_function(odd),
                               detector.score_samples(odd) - detector.offset_)
    assert set(detector.predict(X).tolist()) <= {-1, 1}
    # No randomness at scoring.
    np.testing.assert_array_equal(detector.score_samples(odd), outliers)


def test_detector_contamination_sets_the_training_share(periodic):
    X, _ = periodic
    detector = AstromerOutlierDetector(**dict(SMALL, max_epochs=1, contamination=0.25))
    labels = detector.fit(X).predict(X)
    assert np.mean(labels == -1) == pytest.approx(0.25, abs=1 / len(X))
    assert detector.fit_predict(X).tolist() == labels.tolist()


def test_detector_with_neighbours_in_a_pipeline(periodic):
    X, odd = periodic
    pipe = Pipeline([("detector", AstromerOutlierDetector(
        **dict(SMALL, max_epochs=1, n_neighbors=3, normalize="none")))]).fit(X)
    detector = pipe[-1]
    assert detector.neighbors_ is not None
    scores = pipe.score_samples(odd + X[:3])
    assert scores.shape == (9,)
    assert pipe.predict(odd).tolist() == detector.predict(odd).tolist()
    with pytest.raises(ValueError, match="n_neighbors=30"):
        AstromerOutlierDetector(**dict(TINY, n_neighbors=30)).fit(X)


def test_reconstruction_errors_by_hand():
    lc = as_light_curves([np.array([[0.0, 10.0, 0.1], [1.0, 11.0, 0.1]]),
                          np.array([[0.0, 12.0, 0.0], [1.0, 12.0, 0.0], [2, 12.0, 0.0]])])
    pred = [np.array([10.2, 10.8]), np.array([12.0, 12.03, np.nan])]
    raw = reconstruction_errors(pred, lc, normalize="none")
    np.testing.assert_allclose(raw, np.log([0.04, 0.03**2 / 2]))
    scaled = reconstruction_errors(pred, lc, normalize="errors", error_floor=0.01)
    np.testing.assert_allclose(scaled, np.log([0.04 / (0.01 + 1e-4), 9.0 / 2]))


@pytest.mark.slow
def test_plot_anomaly_example(tmp_path, released_weights, capsys):
    """The gallery example runs (synthetic light curves, no fine-tuning, tiny sizes).

    About 15 s on two idle cores: ``python -m pytest -m slow tests/test_anomaly.py``.
    """
    import importlib.util
    from pathlib import Path

    import matplotlib.image

    script = Path(__file__).resolve().parents[1] / "examples" / "plot_anomaly.py"
    spec = importlib.util.spec_from_file_location("plot_anomaly", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = module.main(["--out", str(tmp_path), "--n-train", "3", "--n-test", "2",
                        "--epochs", "0", "--data", str(tmp_path / "none.parquet")])
    assert path == tmp_path / "anomaly.png"
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 600
    assert "hidden-observation RMSE" in capsys.readouterr().out
