"""AstromerClassifier end to end."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from sklearn_astromer import AstromerClassifier
from sklearn_astromer.datasets import make_light_curves

TINY = dict(
    weights=None, n_layers=2, n_heads=2, d_model=16, d_ff=16, window_length=32,
    hidden_layer_sizes=(32, 16), head_epochs=60, random_state=0,
)


@pytest.fixture(scope="module")
def data():
    X, y = make_light_curves(n_per_class=15, classes=["RRab", "EA", "LPV"], n_obs=(30, 90), random_state=2)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return AstromerClassifier(max_epochs=1, **TINY).fit(X, y)


def test_predictions_and_probabilities(fitted, data):
    X, y = data
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-5)
    assert set(fitted.predict(X)) <= set(y)
    assert fitted.layer_weights_.shape == (3,)
    # Well above chance (1/3) on the curves it was trained on.
    assert fitted.score(X, y) > 0.6


def test_arbitrary_label_types(data):
    X, y = data
    codes = {"RRab": 10, "EA": -3, "LPV": 7}
    clf = AstromerClassifier(max_epochs=0, **TINY).fit(X, [codes[v] for v in y])
    assert sorted(clf.classes_) == [-3, 7, 10]
    assert set(clf.predict(X)) <= {-3, 7, 10}


def test_train_encoder_with_early_stopping(data):
    X, y = data
    clf = AstromerClassifier(
        max_epochs=0, train_encoder=True, validation_fraction=0.3, patience=2,
        **{**TINY, "head_epochs": 4, "preset": "astromer2"},
    ).fit(X, y)
    assert "valid_loss" in clf.head_history_[0]
    assert clf.predict(X).shape == (len(X),)


def test_cross_val_score(data):
    X, y = data
    scores = cross_val_score(AstromerClassifier(max_epochs=1, **TINY), X, y, cv=3)
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))


def test_pickle_and_clone(fitted, data):
    X, _ = data
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict_proba(X), fitted.predict_proba(X))
    assert not hasattr(clone(fitted), "classes_")


def test_label_count_must_match(data):
    X, y = data
    with pytest.raises(ValueError, match="labels for"):
        AstromerClassifier(max_epochs=0, **TINY).fit(X, y[:-1])
