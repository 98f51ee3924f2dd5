"""The training engine's contracts, checked on its batches and nets, and its failures:
a non-finite loss and an interruption stop ``fit`` loudly."""

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_astromer import (
    Astromer,
    AstromerClassifier,
    AstromerConfig,
    AstromerEmbedder,
    as_light_curves,
)
from sklearn_astromer._heads import EncoderClassifier, LayerWeightedHead
from sklearn_astromer._training import (
    LabelledWindows,
    MaskedWindows,
    NonFiniteLossError,
    Seeds,
    TrainingConfig,
    TrainingInterrupted,
    TrainingNet,
    end_to_end_net,
    fit_net,
    head_net,
    self_supervised_net,
    split_objects,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MASKING = {"probed": 0.5, "same": 0.2, "random": 0.2}
CONFIG = TrainingConfig(
    max_epochs=1, batch_size=8, lr=1e-3, validation_fraction=0.25, patience=2,
    device="cpu", verbose=0,
)


@pytest.fixture(scope="module")
def labelled(synthetic):
    X, y = synthetic
    _, codes = np.unique(y, return_inverse=True)
    return as_light_curves(X), codes.astype(np.int64)


def _model(**overrides):
    torch.manual_seed(0)
    config = AstromerConfig.preset(
        "astromer2", n_layers=1, n_heads=2, d_model=8, d_ff=8, window_length=32, **overrides
    )
    return Astromer(config)


def _batches(net, dataset, training):
    """Every batch the net's loader gives for ``dataset``, as numpy."""
    out = []
    for X, y in net.get_iterator(dataset, training=training):
        X = {k: v.numpy() for k, v in X.items()} if isinstance(X, dict) else X.numpy()
        y = {k: v.numpy() for k, v in y.items()} if isinstance(y, dict) else y.numpy()
        out.append((X, y))
    return out


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for (Xa, ya), (Xb, yb) in zip(a, b):
        for key in Xa:
            np.testing.assert_array_equal(Xa[key], Xb[key])
        if isinstance(ya, dict):
            for key in ya:
                np.testing.assert_array_equal(ya[key], yb[key])
        else:
            np.testing.assert_array_equal(ya, yb)


def test_hidden_positions_are_probed_observations(labelled):
    lc, _ = labelled
    windows = MaskedWindows(lc, 32, np.random.default_rng(0), MASKING, pad_full=False)
    X, y = windows.arrays(np.arange(len(lc)))
    hidden, probed, observed = X["hidden"], y["probed"], X["obs_mask"]
    assert hidden.any()
    assert not (hidden & ~probed).any()  # hidden is a subset of probed
    assert not (probed & ~observed).any()  # probed is a subset of the real observations
    # Probed magnitudes are the reconstruction targets: the unmasked window.
    kept = observed & ~probed
    np.testing.assert_array_equal(X["mags"][kept], y["target"][kept])


def test_self_supervised_validation_windows_fixed_training_windows_redrawn(labelled):
    lc, _ = labelled
    net, X = self_supervised_net(
        _model(), lc, CONFIG, masking=MASKING, weighted_loss=False, rng=np.random.default_rng(0)
    )
    net.initialize()
    train_set, valid_set = net.train_split(X)
    assert len(valid_set) == round(len(lc) * CONFIG.validation_fraction)
    assert len(train_set) + len(valid_set) == len(lc)
    # Two epochs' validation batches are the same windows and masks ...
    _assert_same_batches(_batches(net, valid_set, False), _batches(net, valid_set, False))
    # ... while training windows and masks are drawn afresh each time.
    first, second = (
        net.get_params_for("iterator_train")["collate_fn"](np.arange(4))[0] for _ in range(2)
    )
    assert not np.array_equal(first["hidden"], second["hidden"])


def test_labelled_windows_carry_their_objects_label(labelled):
    lc, labels = labelled
    windows = LabelledWindows(lc, labels, 16, np.random.default_rng(1), pad_full=True)
    order = np.random.default_rng(2).permutation(len(lc))
    X, y = windows.arrays(order)
    np.testing.assert_array_equal(y, labels[order])
    # Each window comes from its object: as many observations as the object has, up to 16.
    np.testing.assert_array_equal(X["obs_mask"].sum(axis=1), np.minimum(lc.lengths[order], 16))


def test_end_to_end_validation_is_stratified_and_fixed(labelled):
    lc, labels = labelled
    encoder = _model()
    head = LayerWeightedHead(2, 8, 3, (8,))
    net, X = end_to_end_net(
        EncoderClassifier(encoder, head), lc, labels, CONFIG, rng=np.random.default_rng(0)
    )
    net.initialize()
    _, valid_set = net.train_split(X)
    batches = _batches(net, valid_set, False)
    _assert_same_batches(batches, _batches(net, valid_set, False))
    valid_labels = np.concatenate([y for _, y in batches])
    # 6 of 24 objects, 8 per class: stratified means 2 of each class.
    np.testing.assert_array_equal(np.bincount(valid_labels), [2, 2, 2])


def test_head_stage_uses_the_same_split_rule(labelled):
    _, labels = labelled
    features = np.random.default_rng(0).normal(size=(len(labels), 2, 8)).astype(np.float32)
    net, X = head_net(
        LayerWeightedHead(2, 8, 3, ()), features, labels, CONFIG, rng=np.random.default_rng(5)
    )
    train, valid = split_objects(len(labels), 0.25, np.random.default_rng(5), labels)
    assert len(X) == len(train)
    rows, y = net.get_params_for("iterator_train")["collate_fn"](np.arange(len(train)))
    np.testing.assert_array_equal(rows.numpy(), features[train])
    np.testing.assert_array_equal(y.numpy(), labels[train])
    _, valid_set = net.train_split(X)
    np.testing.assert_array_equal(valid_set.X, features[valid])


def test_split_objects_partitions_and_stratifies():
    labels = np.repeat([0, 1, 2, 3], 10)
    train, valid = split_objects(40, 0.2, np.random.default_rng(0), labels)
    assert len(valid) == 8 and len(train) == 32
    assert np.intersect1d(train, valid).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, valid])), np.arange(40))
    np.testing.assert_array_equal(np.bincount(labels[valid]), [2, 2, 2, 2])
    train, valid = split_objects(5, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(train, np.arange(5))
    assert valid.size == 0
    with pytest.raises(ValueError, match="leaves no light curve"):
        split_objects(3, 0.1, np.random.default_rng(0))


def test_seeds_are_reproducible_and_independent_per_stage():
    a, b = Seeds.from_random_state(7), Seeds.from_random_state(7)
    assert a == b
    assert a != Seeds.from_random_state(8)
    draws = {stage: a.generator(stage).integers(2**31) for stage in
             ("initialisation", "self-supervised", "head", "end-to-end")}
    assert len(set(draws.values())) == 4
    assert a.generator("head").integers(2**31) == draws["head"]
    with a.torch("head"):
        first = torch.rand(3)
    with a.torch("head"):
        np.testing.assert_array_equal(torch.rand(3), first)
    with a.torch("end-to-end"):
        assert not torch.equal(torch.rand(3), first)


# -- failures that must not pass silently ------------------------------------------


def _with_huge_magnitude(lc, k):
    """A copy of ``lc`` with ids, where every other observation of object ``k`` is 1e30.

    Written into the arrays after construction, so that the case reaches the engine
    whatever the input funnel comes to reject.
    """
    ids = np.array([f"star-{i}" for i in range(len(lc))])
    bad = dataclasses.replace(lc, mag=lc.mag.copy(), ids=ids)
    start, stop = bad.offsets[k], bad.offsets[k + 1]
    bad.mag[start:stop:2] = 1e30  # alternate, so that centring cannot cancel it
    return bad


def test_nan_training_loss_stops_with_the_batch_objects(labelled):
    lc, _ = labelled
    bad = _with_huge_magnitude(lc, 5)
    module = _model()
    config = dataclasses.replace(CONFIG, validation_fraction=0.0)
    net, X = self_supervised_net(
        module, bad, config, masking=MASKING, weighted_loss=False, rng=np.random.default_rng(0)
    )
    with pytest.raises(NonFiniteLossError, match="training batch of 8 light curve") as info:
        fit_net(net, X)
    message = str(info.value)
    assert "'star-5'" in message and "1e30" in message and "lr=0.001" in message
    assert isinstance(info.value, ValueError)  # the command line reports it as bad input
    # Stopped before the optimiser stepped on the NaN: the weights are still finite.
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_nan_validation_loss_names_the_validation_objects(labelled):
    lc, labels = labelled
    _, valid = split_objects(len(lc), CONFIG.validation_fraction, np.random.default_rng(0), labels)
    bad = _with_huge_magnitude(lc, valid[1])
    model = EncoderClassifier(_model(), LayerWeightedHead(2, 8, 3, (8,)))
    net, X = end_to_end_net(model, bad, labels, CONFIG, rng=np.random.default_rng(0))
    with pytest.raises(NonFiniteLossError, match="validation batch of 6 light curve") as info:
        fit_net(net, X)
    assert f"'star-{valid[1]}'" in str(info.value)


def test_nan_head_loss_names_positions_without_ids(labelled):
    _, labels = labelled
    features = np.random.default_rng(0).normal(size=(len(labels), 2, 8)).astype(np.float32)
    features[3] = np.nan  # an object whose embedding is NaN
    config = dataclasses.replace(CONFIG, validation_fraction=0.0, batch_size=len(labels))
    net, X = head_net(
        LayerWeightedHead(2, 8, 3, ()), features, labels, config, rng=np.random.default_rng(0)
    )
    with pytest.raises(NonFiniteLossError) as info:
        fit_net(net, X)
    names = ", ".join(map(str, range(24)))
    assert f"training batch of 24 light curve(s), positions in X {names}." in str(info.value)


def test_estimator_fit_with_a_diverging_lr_raises_and_stays_unfitted(curves):
    from conftest import TINY

    X, _ = curves
    embedder = AstromerEmbedder(**{**TINY, "max_epochs": 3, "batch_size": 4, "lr": 1e30})
    with pytest.raises(NonFiniteLossError, match=r"lr=1e\+30"):
        embedder.fit(X)
    with pytest.raises(NotFittedError):
        embedder.transform(X)


def test_early_stopping_is_not_an_interruption(labelled):
    _, labels = labelled
    features = np.random.default_rng(0).normal(size=(len(labels), 2, 8)).astype(np.float32)
    # lr=0: the validation loss never improves after the first epoch.
    config = dataclasses.replace(CONFIG, max_epochs=10, patience=1, lr=0.0)
    history = fit_net(*head_net(
        LayerWeightedHead(2, 8, 3, ()), features, labels, config, rng=np.random.default_rng(0)
    ))
    assert len(history) == 2


@pytest.fixture
def interrupt_at_epoch_2(monkeypatch):
    """Ctrl-C during the first training step of the second epoch, in any stage."""
    train_step = TrainingNet.train_step

    def interrupted(net, batch, **fit_params):
        if len(net.history) == 2:
            raise KeyboardInterrupt
        return train_step(net, batch, **fit_params)

    monkeypatch.setattr(TrainingNet, "train_step", interrupted)


@pytest.mark.parametrize("stage", ["self-supervised", "head", "end-to-end"])
def test_interrupted_fit_raises_and_leaves_the_estimator_unfitted(
    curves, interrupt_at_epoch_2, stage
):
    from conftest import TINY

    X, y = curves
    if stage == "self-supervised":
        estimator = AstromerEmbedder(**{**TINY, "max_epochs": 3})
    else:
        estimator = AstromerClassifier(
            **{**TINY, "max_epochs": 0, "head_epochs": 3, "train_encoder": stage == "end-to-end"}
        )
    with pytest.raises(KeyboardInterrupt) as info:
        estimator.fit(X, y)
    assert isinstance(info.value, TrainingInterrupted)
    assert "after 1 complete epoch" in str(info.value)
    # The losses so far are kept, for the complete epoch only.
    assert [epoch["epoch"] for epoch in info.value.history] == [1]
    assert np.isfinite(info.value.history[0]["train_loss"])
    with pytest.raises(NotFittedError):
        estimator.predict(X) if stage != "self-supervised" else estimator.transform(X)
