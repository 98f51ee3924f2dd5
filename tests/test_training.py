"""The training engine's contracts, checked on its batches and nets without fitting."""

import numpy as np
import pytest
import torch

from sklearn_astromer import Astromer, AstromerConfig, as_light_curves
from sklearn_astromer._heads import EncoderClassifier, LayerWeightedHead
from sklearn_astromer._training import (
    LabelledWindows,
    MaskedWindows,
    Seeds,
    TrainingConfig,
    end_to_end_net,
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
    net, X, y = head_net(
        LayerWeightedHead(2, 8, 3, ()), features, labels, CONFIG, rng=np.random.default_rng(5)
    )
    train, valid = split_objects(len(labels), 0.25, np.random.default_rng(5), labels)
    np.testing.assert_array_equal(X, features[train])
    np.testing.assert_array_equal(y, labels[train])
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
