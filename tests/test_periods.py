import numpy as np
import pytest
import torch

from sklearn_astromer import AstromerEmbedder, as_light_curves
from sklearn_astromer._contrastive import AugmentedPairs, NTXentLoss, train_contrastive
from sklearn_astromer._model import Astromer, AstromerConfig
from sklearn_astromer._training import TrainingConfig
from sklearn_astromer.periods import find_periods, fold_light_curves

pytest.importorskip("light_curve")

TINY = dict(n_layers=1, d_model=16, d_ff=16, n_heads=2, window_length=32)
MASKING = {"probed": 0.5, "same": 0.2, "random": 0.2}


def _sinusoid(period, n=150, seed=0, span=600.0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, span, n))
    m = 15 + 0.4 * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.01, n)
    return np.column_stack([t, m, np.full(n, 0.01)])


def test_find_periods_recovers_sub_day_periods():
    curves = [_sinusoid(0.37, seed=1), _sinusoid(2.9, seed=2)]
    periods = find_periods(curves)
    np.testing.assert_allclose(periods, [0.37, 2.9], rtol=1e-3)


def test_fold_spans_n_cycles_in_days_and_keeps_every_observation():
    curve = _sinusoid(0.5, n=120)
    folded = fold_light_curves([curve], [0.5], n_cycles=2)
    t, m, e = folded[0]
    assert len(t) == 120 and np.all(np.diff(t) >= 0)
    assert t.min() >= 0 and t.max() < 1.0
    # The magnitude at each folded time is the sinusoid at that phase.
    np.testing.assert_allclose(m, 15 + 0.4 * np.sin(2 * np.pi * (t + curve[0, 0]) / 0.5),
                               atol=0.05)
    assert sorted(m.tolist()) == sorted(curve[:, 1].tolist())


def test_fold_thins_evenly_in_phase():
    folded = fold_light_curves([_sinusoid(0.5, n=300)], [0.5], max_observations=50)
    t, _, _ = folded[0]
    assert len(t) == 50
    # Spread over the whole fold, not a slice of phases.
    assert t.min() < 0.02 and t.max() > 0.98


def test_curves_without_a_period_stay_unfolded_with_a_warning():
    lc = as_light_curves([_sinusoid(0.5, n=40), _sinusoid(0.7, n=40, seed=3)])
    with pytest.warns(UserWarning, match="1 of 2 light curves have no period.*\\[1\\]"):
        folded = fold_light_curves(lc, [0.5, np.nan])
    np.testing.assert_array_equal(folded[1][0], lc[1][0])


def test_fold_rejects_a_period_count_mismatch():
    with pytest.raises(ValueError, match="got 1 periods for 2 light curves"):
        fold_light_curves([_sinusoid(0.5), _sinusoid(0.6)], [0.5])


def test_embedder_folds_for_a_folded_model():
    curves = [_sinusoid(p, seed=k) for k, p in enumerate([0.3, 0.45, 0.8, 1.7])]
    arch = dict(TINY, time_encoding="log-period", fold_cycles=2)
    emb = AstromerEmbedder(weights=None, preset="astromer2", architecture=arch, max_epochs=0,
                           random_state=0).fit(curves)
    # The same weights, told the curves are already folded, given the folded curves.
    plain = AstromerEmbedder(weights=None, preset="astromer2",
                             architecture=dict(arch, fold_cycles=0), max_epochs=0,
                             random_state=0).fit(curves)
    folded = fold_light_curves(curves, find_periods(curves), 2, max_observations=32)
    np.testing.assert_allclose(emb.transform(curves), plain.transform(folded), atol=1e-6)


def test_augmented_pairs_keep_the_fold_span():
    lc = fold_light_curves([_sinusoid(0.5, n=100), _sinusoid(2.0, n=80)], [0.5, 2.0])
    pairs = AugmentedPairs(lc, np.array([1.0, 4.0]), 64, np.random.default_rng(0), MASKING,
                           pad_full=False)
    X, y = pairs.arrays([0, 1])
    assert X["times"].shape[0] == 4 and X["times"].shape == X["hidden"].shape
    for row, span in zip(range(4), [1.0, 4.0, 1.0, 4.0]):
        times = X["times"][row][X["obs_mask"][row]]
        assert np.ptp(times) <= span
    # A view keeps between half and all of the observations.
    assert 50 <= X["obs_mask"][0].sum() <= 64


def test_nt_xent_prefers_matching_views():
    loss = NTXentLoss(temperature=0.1)
    z = torch.eye(8)[:4] * 5
    aligned = loss({"projection": torch.cat([z, z])}, {})
    shuffled = loss({"projection": torch.cat([z, z[[1, 2, 3, 0]]])}, {})
    assert aligned < 0.01 < 2.0 < shuffled


def test_contrastive_training_runs_and_changes_the_encoder():
    curves = [_sinusoid(p, n=60, seed=k) for k, p in enumerate(np.geomspace(0.2, 5.0, 24))]
    lc = as_light_curves(curves)
    periods = find_periods(lc)
    folded = fold_light_curves(lc, periods, 2, max_observations=32)
    config = AstromerConfig.preset("astromer2", time_encoding="log-period", fold_cycles=2, **TINY)
    torch.manual_seed(0)
    module = Astromer(config)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    training = TrainingConfig(max_epochs=2, batch_size=8, lr=1e-3, validation_fraction=0.25,
                              patience=5, device="cpu", verbose=0)
    history = train_contrastive(module, folded, 2 * periods, training, masking=MASKING,
                                rng=np.random.default_rng(0), reconstruction_weight=1.0)
    assert len(history) == 2
    assert all(np.isfinite([h["train_loss"], h["valid_loss"]]).all() for h in history)
    assert any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


class _FixedPeriod:
    """A 'features' transformer that gives every curve the same fourier_period."""

    def __init__(self, period=0.45):
        self.period = period

    def get_params(self, deep=True):
        return {"period": self.period}

    def set_params(self, **params):
        self.period = params.get("period", self.period)
        return self

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.full((len(as_light_curves(X)), 1), self.period)

    def get_feature_names_out(self, input_features=None):
        return np.array(["fourier_period"], dtype=object)


def test_period_features_choose_the_folding_period():
    curves = [_sinusoid(p, seed=k) for k, p in enumerate([0.3, 0.45, 0.8])]
    arch = dict(TINY, time_encoding="log-period", fold_cycles=2)
    emb = AstromerEmbedder(weights=None, preset="astromer2", architecture=arch, max_epochs=0,
                           period_features=_FixedPeriod(0.45), random_state=0).fit(curves)
    plain = AstromerEmbedder(weights=None, preset="astromer2",
                             architecture=dict(arch, fold_cycles=0), max_epochs=0,
                             random_state=0).fit(curves)
    folded = fold_light_curves(curves, [0.45] * 3, 2, max_observations=32)
    np.testing.assert_allclose(emb.transform(curves), plain.transform(folded), atol=1e-6)
