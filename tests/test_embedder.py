"""AstromerEmbedder end to end: pipelines, persistence, invariances, real data."""

import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_astromer import AstromerConfig, AstromerEmbedder
from sklearn_astromer.datasets import load_light_curves

pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.fixture(scope="module")
def fitted(synthetic):
    X, _ = synthetic
    return AstromerEmbedder(max_epochs=2, **SMALL).fit(X)


def test_transform_shape_dtype_and_one_row_per_light_curve(fitted, synthetic):
    X, _ = synthetic
    Z = fitted.transform(X)
    assert Z.shape == (len(X), 16) and Z.dtype == np.float32
    assert np.isfinite(Z).all()
    # Each row depends on its own light curve only: permuting the light curves permutes the
    # rows, and the transform of a subset is that subset of the transform.
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(fitted.transform([X[k] for k in order]), Z[order],
                               atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(fitted.transform(X[5:11]), Z[5:11], atol=2e-5, rtol=1e-5)
    # Distinct light curves give distinct rows.
    assert len(np.unique(Z.round(5), axis=0)) == len(X)


@pytest.fixture(scope="module")
def layer_means(fitted, synthetic):
    """Per-layer means (N, M=3, D=16) of the untrained encoder that ``test_poolings`` fits."""
    X, _ = synthetic
    emb = clone(fitted).set_params(pooling="layers", max_epochs=0).fit(X)
    return emb.transform(X).reshape(len(X), 3, 16)


@pytest.mark.parametrize("pooling, width", [("mean", 16), ("max", 16), ("layers", 48), ("weighted", 16)])
def test_poolings(fitted, synthetic, layer_means, pooling, width):
    X, _ = synthetic
    emb = clone(fitted).set_params(pooling=pooling, max_epochs=0)
    emb.fit(X)
    Z = emb.transform(X)
    assert Z.shape == (len(X), width)
    assert len(emb.get_feature_names_out()) == width
    last = layer_means[:, -1]
    if pooling == "mean":  # the last block's mean, as in "layers"
        np.testing.assert_allclose(Z, last, rtol=1e-5, atol=1e-6)
    elif pooling == "max":  # a window's max is at least its mean, and so are their averages
        assert (Z >= last - 1e-5).all() and not np.allclose(Z, last, atol=1e-3)
    elif pooling == "layers":  # input embedding, block 1, block 2, concatenated
        np.testing.assert_array_equal(Z.reshape(len(X), 3, 16), layer_means)
    else:  # without labels: the mean of the layers standardised on the fitted light curves
        # In float64: the input embedding's mean barely varies between objects (scales
        # down to the 1e-5 floor), which magnifies any float32 rounding of the centre.
        means = layer_means.astype(np.float64)
        scale = np.maximum(means.std(axis=0, ddof=1), 1e-5)
        expected = ((means - means.mean(axis=0)) / scale).mean(axis=1)
        np.testing.assert_allclose(Z, expected, rtol=1e-5, atol=1e-5)


def test_weighted_pooling_learns_layer_weights_from_labels(synthetic):
    X, y = synthetic
    unsupervised = AstromerEmbedder(pooling="weighted", max_epochs=0, **SMALL).fit(X)
    np.testing.assert_allclose(unsupervised.layer_weights_, 1 / 3)
    supervised = AstromerEmbedder(pooling="weighted", max_epochs=0, head_epochs=50, **SMALL).fit(X, y)
    assert np.isclose(supervised.layer_weights_.sum(), 1, atol=1e-6)
    assert not np.allclose(supervised.layer_weights_, 1 / 3)


def test_fit_is_deterministic_and_fit_transform_matches(synthetic):
    X, _ = synthetic
    a = AstromerEmbedder(max_epochs=2, **SMALL).fit_transform(X)
    b = AstromerEmbedder(max_epochs=2, **SMALL).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    c = AstromerEmbedder(max_epochs=2, **{**SMALL, "random_state": 1}).fit_transform(X)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("preset", ["astromer1", "astromer2"])
def test_same_embeddings_together_one_by_one_and_any_batch_size(synthetic, preset):
    X, _ = synthetic
    # Curves longer than the window get several windows.
    X = X + [np.r_[X[0], X[0] + [[200.0, 0, 0]]]]
    emb = AstromerEmbedder(max_epochs=0, preset=preset, **SMALL).fit(X)
    together = emb.transform(X)
    one_by_one = np.vstack([emb.transform([x]) for x in X])
    np.testing.assert_allclose(one_by_one, together, atol=2e-5, rtol=1e-5)
    for batch_size in (1, 7):
        emb.set_params(inference_batch_size=batch_size)
        np.testing.assert_allclose(emb.transform(X), together, atol=2e-5, rtol=1e-5)


def test_input_forms_give_the_same_embeddings(fitted, synthetic):
    X, _ = synthetic
    X = X[:5]
    ref = fitted.transform(X)
    tuples = [(x[:, 0], x[:, 1], x[:, 2]) for x in X]
    n = max(len(x) for x in X)
    padded = np.full((len(X), n, 3), np.nan)
    for k, x in enumerate(X):
        padded[k, : len(x)] = x
    long = pd.DataFrame(
        [(f"o{k}", *row) for k, x in enumerate(X) for row in x], columns=["object_id", "mjd", "mag", "mag_err"]
    )
    shuffled = [x[np.random.default_rng(k).permutation(len(x))] for k, x in enumerate(X)]
    for other in (tuples, padded, long, shuffled):
        np.testing.assert_allclose(fitted.transform(other), ref, atol=1e-5)


def test_pandas_output_is_indexed_by_object_id(fitted, synthetic):
    X, _ = synthetic
    long = pd.DataFrame(
        [(f"star{k}", *row) for k, x in enumerate(X[:3]) for row in x],
        columns=["object_id", "mjd", "mag", "mag_err"],
    )
    emb = clone(fitted).set_params(max_epochs=0).fit(X).set_output(transform="pandas")
    out = emb.transform(long)
    assert list(out.index) == ["star0", "star1", "star2"]
    assert list(out.columns) == list(emb.get_feature_names_out())


def test_pickle_and_save_round_trips(fitted, synthetic, tmp_path):
    X, _ = synthetic
    ref = fitted.transform(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(X), ref)
    fitted.save(tmp_path / "model")
    reloaded = AstromerEmbedder(weights=tmp_path / "model", max_epochs=0).fit(X[:1])
    np.testing.assert_array_equal(reloaded.transform(X), ref)


def test_weights_fix_the_architecture(fitted, synthetic, tmp_path):
    X, _ = synthetic
    fitted.save(tmp_path / "model")
    with pytest.raises(ValueError, match="d_model"):
        AstromerEmbedder(weights=tmp_path / "model", d_model=32, max_epochs=0).fit(X)


def test_clone_keeps_parameters_untouched():
    emb = AstromerEmbedder(pooling="layers", columns={"time": "t"}, **SMALL)
    twin = clone(emb)
    assert twin.get_params() == emb.get_params()
    assert not hasattr(twin, "module_")


def test_pipeline_in_grid_search(synthetic):
    X, y = synthetic
    pipe = make_pipeline(AstromerEmbedder(max_epochs=1, **SMALL), RandomForestClassifier(n_estimators=20, random_state=0))
    search = GridSearchCV(pipe, {"astromerembedder__pooling": ["mean", "layers"]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["astromerembedder__pooling"] in ("mean", "layers")
    predicted = search.predict(X)
    assert search.score(X, y) == accuracy_score(y, predicted)
    # The refitted pipeline is the pipeline with the best parameters fitted on all the data.
    refit = clone(pipe).set_params(**search.best_params_).fit(X, y)
    np.testing.assert_array_equal(refit.predict(X), predicted)


def test_bad_input_is_named(fitted):
    bad = [np.c_[np.arange(5.0), np.ones(5)], np.c_[[0.0, np.nan], [1.0, 2.0]]]
    with pytest.raises(ValueError, match=r"light curve 1.*time"):
        fitted.transform(bad)


def test_reconstruction_loss_goes_down_on_crts(crts_path):
    X, _ = load_light_curves(crts_path, classes=["RRab", "EW", "EA"])
    X = X[::20][:150]
    emb = AstromerEmbedder(
        weights=None, preset="astromer2", n_layers=2, n_heads=2, d_model=32, d_ff=32,
        max_epochs=5, validation_fraction=0.3, patience=5, batch_size=16, random_state=0,
    ).fit(X)
    valid = [epoch["valid_loss"] for epoch in emb.history_]
    train = [epoch["train_loss"] for epoch in emb.history_]
    assert min(valid[1:]) < 0.95 * valid[0]
    assert train[-1] < train[0]


def test_architecture_option_is_saved_and_restored(tmp_path, synthetic):
    X, _ = synthetic
    emb = AstromerEmbedder(max_epochs=0, architecture={"pe_base": 1000.0}, **SMALL).fit(X)
    assert emb.config_.pe_base == 1000.0 and emb.config_.n_layers == 2
    emb.save(tmp_path / "model")
    back = AstromerEmbedder(weights=tmp_path / "model", max_epochs=0).fit(X[:2])
    assert back.config_ == emb.config_
    np.testing.assert_array_equal(back.transform(X), emb.transform(X))
    # A full configuration is accepted too, and the positional base changes the embedding.
    config = AstromerConfig.preset("astromer1", n_layers=2, n_heads=2, d_model=16, d_ff=16,
                                   window_length=32)
    plain = AstromerEmbedder(weights=None, architecture=config, max_epochs=0, random_state=0).fit(X)
    assert plain.config_ == config
    assert not np.allclose(plain.transform(X), emb.transform(X))


@pytest.mark.parametrize("params, match", [
    (dict(architecture={"pe_bse": 10.0}), "unknown fields"),
    (dict(n_layers=2, architecture={"n_layers": 3}), "contradicts"),
    (dict(weights="macho", architecture={"pe_base": 10.0}), "fixed architecture"),
])
def test_architecture_errors(params, match, synthetic):
    X, _ = synthetic
    params = {**dict(weights=None, max_epochs=0), **params}
    with pytest.raises(ValueError, match=match):
        AstromerEmbedder(**params).fit(X[:2])


def test_failed_refit_leaves_an_unfitted_estimator(synthetic):
    from sklearn.exceptions import NotFittedError

    X, _ = synthetic
    emb = AstromerEmbedder(max_epochs=1, **SMALL).fit(X)
    emb.set_params(lr=1e30, max_epochs=2)
    with pytest.raises(ValueError, match="loss became"):
        emb.fit(X)
    assert not hasattr(emb, "module_") and not hasattr(emb, "history_")
    with pytest.raises(NotFittedError):
        emb.transform(X)
