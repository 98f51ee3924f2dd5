"""AstromerClassifier end to end."""

import pickle

import numpy as np
import pytest
from conftest import CLASSES, SMALL
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_validate

from sklearn_astromer import AstromerClassifier
from sklearn_astromer.datasets import make_light_curves

TINY = dict(**SMALL, hidden_layer_sizes=(32, 16), head_epochs=60)
# For tests that check contracts rather than learning: a few head epochs suffice.
QUICK = {**TINY, "head_epochs": 5}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    X, y = make_light_curves(n_per_class=15, classes=CLASSES, n_obs=(30, 90), random_state=2)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return AstromerClassifier(max_epochs=1, **TINY).fit(X, y)


def assert_consistent_predictions(clf, X):
    """predict is the class of highest probability; probabilities are rows summing to one."""
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    assert (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-5)
    predicted = clf.predict(X)
    np.testing.assert_array_equal(predicted, clf.classes_[np.argmax(proba, axis=1)])
    return predicted


def test_predictions_and_probabilities(fitted, data):
    X, y = data
    predicted = assert_consistent_predictions(fitted, X)
    assert list(fitted.classes_) == sorted(CLASSES)
    assert fitted.layer_weights_.shape == (3,)
    np.testing.assert_allclose(fitted.layer_weights_.sum(), 1, atol=1e-6)
    # Well above chance (1/3) on the curves it was trained on.
    assert fitted.score(X, y) == accuracy_score(y, predicted)
    assert fitted.score(X, y) > 0.6


def test_arbitrary_label_types(data):
    X, y = data
    codes = {"RRab": 10, "EA": -3, "LPV": 7}
    clf = AstromerClassifier(max_epochs=0, **QUICK).fit(X, [codes[v] for v in y])
    assert sorted(clf.classes_) == [-3, 7, 10]
    assert set(clf.predict(X)) <= {-3, 7, 10}
    assert_consistent_predictions(clf, X)


def test_train_encoder_with_early_stopping(data):
    X, y = data
    clf = AstromerClassifier(
        max_epochs=0, train_encoder=True, validation_fraction=0.3, patience=2,
        **{**TINY, "head_epochs": 4, "preset": "astromer2"},
    ).fit(X, y)
    assert "valid_loss" in clf.head_history_[0]
    assert clf.predict(X).shape == (len(X),)
    assert_consistent_predictions(clf, X)
    # The encoder was trained with the head: its weights moved from the initial ones.
    frozen = AstromerClassifier(
        max_epochs=0, **{**TINY, "head_epochs": 4, "preset": "astromer2"}
    ).fit(X, y)
    encoder = clf.module_.state_dict()
    initial = frozen.module_.state_dict()
    assert any(not np.array_equal(encoder[k].numpy(), initial[k].numpy()) for k in initial)


def test_cross_val_score(data):
    X, y = data
    cv = StratifiedKFold(3)
    result = cross_validate(AstromerClassifier(max_epochs=1, **QUICK), X, y, cv=cv,
                            return_estimator=True)
    scores = result["test_score"]
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))
    # Each fold's score is the accuracy of its own estimator on its held-out light curves.
    for (_, test), clf, score in zip(cv.split(X, y), result["estimator"], scores):
        assert score == accuracy_score(y[test], clf.predict([X[i] for i in test]))


def test_pickle_and_clone(fitted, data):
    X, _ = data
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict_proba(X), fitted.predict_proba(X))
    assert not hasattr(clone(fitted), "classes_")


def test_label_count_must_match(data):
    X, y = data
    with pytest.raises(ValueError, match="labels for"):
        AstromerClassifier(max_epochs=0, **TINY).fit(X, y[:-1])


@pytest.mark.parametrize(
    "labels, params, match",
    [
        (lambda y: ["RRab"] * len(y), {},
         r"AstromerClassifier needs samples of at least 2 classes in the data, but the data "
         r"contains only one class: 'RRab'"),
        (lambda y: np.where(np.arange(len(y)) == 4, None, y).astype(object), {},
         r"y has 1 missing label\(s\) \(None or NaN\), the first for light curve 4; every "
         r"light curve needs a class"),
        (lambda y: np.where(np.arange(len(y)) == 2, np.nan, y.astype(object)), {},
         r"missing label\(s\) \(None or NaN\), the first for light curve 2"),
        (lambda y: np.where(np.arange(len(y)) == 0, 7, y.astype(object)), {},
         r"y mixes labels of types \['int', 'str'\], which cannot be sorted"),
        (lambda y: np.where(np.arange(len(y)) == 3, "DSCT", y), {"validation_fraction": 0.2},
         r"class\(es\) \['DSCT'\] have a single light curve, but validation_fraction=0\.2 "
         r"holds out a share stratified by class"),
        (lambda y: y, {"validation_fraction": 0.05},
         r"validation_fraction=0\.05 cannot hold out a share of 45 light curves stratified "
         r"by their 3 classes: The test_size = 2 should be greater or equal to the number of "
         r"classes = 3"),
    ],
    ids=["one-class", "none", "nan", "int-and-str", "singleton-class", "too-few-held-out"],
)
def test_degenerate_labels_fail_before_training(data, monkeypatch, labels, params, match):
    X, y = data

    def no_training(*args, **kwargs):
        raise AssertionError("the labels should have been refused before any training")

    monkeypatch.setattr(AstromerClassifier, "_starting_model", no_training)
    with pytest.raises(ValueError, match=match):
        AstromerClassifier(**{**QUICK, **params}).fit(X, labels(np.asarray(y)))


def test_a_single_light_curve_class_is_fine_without_validation(data):
    X, y = data
    y = np.where(np.arange(len(y)) == 3, "DSCT", y)
    clf = AstromerClassifier(max_epochs=0, **QUICK).fit(X, y)
    assert "DSCT" in clf.classes_


@pytest.mark.parametrize("labels", ["str", "int"])
def test_save_and_load_predict_exactly_alike(data, tmp_path, labels):
    X, y = data
    if labels == "int":
        codes = {"RRab": 10, "EA": -3, "LPV": 7}
        y = np.array([codes[v] for v in y])
    clf = AstromerClassifier(max_epochs=0, **QUICK).fit(X, y)
    folder = clf.save(tmp_path / "clf")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded = AstromerClassifier.load(folder)
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.hidden_layer_sizes == clf.hidden_layer_sizes
    np.testing.assert_array_equal(loaded.layer_weights_, clf.layer_weights_)


def test_saved_classifier_gives_its_encoder_as_weights(fitted, data, tmp_path):
    from sklearn_astromer import AstromerEmbedder

    X, y = data
    folder = fitted.save(tmp_path / "clf")
    embedder = AstromerEmbedder(weights=folder, max_epochs=0).fit(X)
    for name, tensor in fitted.module_.state_dict().items():
        np.testing.assert_array_equal(embedder.module_.state_dict()[name].cpu(), tensor.cpu())
    sizes = ("n_layers", "n_heads", "d_model", "d_ff", "window_length")
    params = {**QUICK, **dict.fromkeys(sizes), "weights": folder, "max_epochs": 0}
    refit = AstromerClassifier(**params).fit(X, y)
    assert_consistent_predictions(refit, X)


def test_a_tampered_classifier_folder_is_refused(fitted, tmp_path):
    from sklearn_astromer.weights import WeightsIntegrityError

    folder = fitted.save(tmp_path / "clf")
    tensors = folder / "model.safetensors"
    data = bytearray(tensors.read_bytes())
    data[-1] ^= 0x01
    tensors.write_bytes(bytes(data))
    with pytest.raises(WeightsIntegrityError, match="SHA-256"):
        AstromerClassifier.load(folder)


def test_an_embedder_folder_is_no_classifier(tmp_path, data):
    from sklearn_astromer import AstromerEmbedder

    X, _ = data
    folder = AstromerEmbedder(max_epochs=0, **SMALL).fit(X).save(tmp_path / "e")
    with pytest.raises(ValueError, match="no classifier"):
        AstromerClassifier.load(folder)
