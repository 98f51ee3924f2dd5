import numpy as np
import pytest
import torch

from sklearn_astromer import Astromer, AstromerConfig
from sklearn_astromer._model import positional_encoding
from sklearn_astromer._time_encoding import TimeEncoding, log_period_frequencies


def _batch(B=3, L=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    times = torch.randn(B, L, generator=g) * 100
    mags = torch.randn(B, L, generator=g)
    obs_mask = torch.ones(B, L, dtype=torch.bool)
    obs_mask[0, 12:] = False
    times[~obs_mask] = 0
    mags[~obs_mask] = 0
    return times, mags, obs_mask


def test_presets_have_the_published_sizes():
    assert Astromer(AstromerConfig.preset("astromer1")).n_parameters() == 661_505
    n2 = Astromer(AstromerConfig.preset("astromer2")).n_parameters()
    assert 3.9e6 < n2 < 4.0e6


def test_config_round_trip_and_validation():
    config = AstromerConfig.preset("astromer2", n_layers=2, d_model=16)
    assert AstromerConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="divisible"):
        AstromerConfig.preset("astromer1", d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="unknown preset"):
        AstromerConfig.preset("astromer3")


def test_positional_encoding_one_frequency_per_dimension():
    pe = positional_encoding(torch.tensor([[2.0]]), 4, base=10000.0)[0, 0]
    w = 10000.0 ** (-2 * torch.arange(4.0) / 4)
    expected = torch.stack([torch.sin(2 * w[0]), torch.cos(2 * w[1]), torch.sin(2 * w[2]), torch.cos(2 * w[3])])
    torch.testing.assert_close(pe, expected)


@pytest.mark.parametrize("preset", ["astromer1", "astromer2"])
def test_output_shapes(preset):
    model = Astromer(AstromerConfig.preset(preset, n_layers=2, d_model=16, d_ff=8)).eval()
    batch = _batch()
    out = model(*batch)
    assert len(out["layers"]) == 3
    assert all(z.shape == (3, 20, 16) for z in out["layers"])
    assert out["reconstruction"].shape == (3, 20)
    # The reconstruction is the head applied to the last block, and eval is deterministic.
    torch.testing.assert_close(out["reconstruction"], model.head(out["layers"][-1]))
    again = model(*batch)
    for a, b in zip(out["layers"], again["layers"]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # Permuting the light curves of a batch permutes the outputs.
    order = torch.tensor([2, 0, 1])
    permuted = model(*(x[order] for x in batch))
    torch.testing.assert_close(permuted["reconstruction"], out["reconstruction"][order],
                               atol=1e-5, rtol=1e-5)


def test_masked_attention_ignores_padding_length():
    model = Astromer(AstromerConfig.preset("astromer2", n_layers=2, d_model=16, d_ff=8)).eval()
    times, mags, obs_mask = _batch()
    short = model(times[:1, :12], mags[:1, :12], obs_mask[:1, :12])["layers"][-1]
    long = model(times[:1], mags[:1], obs_mask[:1])["layers"][-1][:, :12]
    torch.testing.assert_close(short, long, atol=1e-5, rtol=1e-5)


def test_legacy_attention_sees_padding():
    # The released weights were trained with padding visible (the +1 term):
    # padding length changes the output, which is why their windows stay at L.
    model = Astromer(AstromerConfig.preset("astromer1", n_layers=1, d_model=16, d_ff=8)).eval()
    times, mags, obs_mask = _batch()
    short = model(times[:1, :12], mags[:1, :12], obs_mask[:1, :12])["layers"][-1]
    long = model(times[:1], mags[:1], obs_mask[:1])["layers"][-1][:, :12]
    assert not torch.allclose(short, long, atol=1e-4)


@pytest.mark.parametrize("preset", ["astromer1", "astromer2"])
def test_hidden_magnitudes_do_not_reach_the_model(preset):
    model = Astromer(AstromerConfig.preset(preset, n_layers=1, d_model=16, d_ff=8)).eval()
    times, mags, obs_mask = _batch()
    hidden = torch.zeros_like(obs_mask)
    hidden[:, 3] = True
    other = mags.clone()
    other[:, 3] += 5.0
    a = model(times, mags, obs_mask, hidden)["reconstruction"]
    b = model(times, other, obs_mask, hidden)["reconstruction"]
    torch.testing.assert_close(a, b)


def test_batched_equals_one_by_one():
    model = Astromer(AstromerConfig.preset("astromer1", n_layers=2, d_model=16, d_ff=8)).eval()
    times, mags, obs_mask = _batch()
    together = model(times, mags, obs_mask)["layers"][-1]
    for i in range(3):
        alone = model(times[i : i + 1], mags[i : i + 1], obs_mask[i : i + 1])["layers"][-1]
        torch.testing.assert_close(alone[0], together[i], atol=1e-5, rtol=1e-5)


# -- time encodings ------------------------------------------------------------------


def _fit_r2(features, target):
    """R^2 of a least-squares fit of target on features (with an intercept)."""
    design = np.column_stack([np.ones(len(target)), features])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coef
    return 1.0 - residual.var() / target.var()


def test_log_period_encoding_reaches_sub_day_periods():
    # A 0.3-day sinusoid sampled once a night over 40 days: linear in the log-period
    # encoding of the times, invisible to the released geometric one (fastest 6.3 d).
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(-20, 20, 400))
    m = np.sin(2 * np.pi * t / 0.3 + 0.4)
    times = torch.tensor(t, dtype=torch.float32)[None]
    r2 = {}
    for kind in ("geometric", "log-period"):
        config = AstromerConfig.preset(
            "astromer2", d_model=256, time_encoding=kind, min_period=0.29, max_period=0.31
        ) if kind == "log-period" else AstromerConfig.preset("astromer2", d_model=256)
        pe = TimeEncoding(config)(times)[0].numpy()
        r2[kind] = _fit_r2(pe, m)
    assert r2["log-period"] > 0.99
    assert r2["geometric"] < 0.6


def test_log_period_frequencies_span_the_range():
    freqs = log_period_frequencies(64, 0.02, 1e4).double()
    periods = 2 * np.pi / freqs.numpy()
    assert periods.shape == (32,)
    np.testing.assert_allclose([periods[0], periods[-1]], [0.02, 1e4], rtol=1e-5)
    assert np.allclose(np.diff(np.log(periods)), np.log(periods[1] / periods[0]))


def test_time_encoding_state_and_shapes():
    fixed = Astromer(AstromerConfig.preset("astromer2", d_model=16, n_layers=1, d_ff=8,
                                           time_encoding="log-period"))
    learnt = Astromer(AstromerConfig.preset("astromer2", d_model=16, n_layers=1, d_ff=8,
                                            time_encoding="log-period",
                                            learn_time_encoding=True))
    released = Astromer(AstromerConfig.preset("astromer1", d_model=16, n_layers=1, d_ff=8))
    # Fixed encodings hold no tensors: the released weights' state dicts are unchanged.
    assert not any(k.startswith("time_encoding") for k in fixed.state_dict())
    assert not any(k.startswith("time_encoding") for k in released.state_dict())
    assert "time_encoding.log_frequencies" in learnt.state_dict()
    times = torch.linspace(-3, 3, 10)[None]
    mags = torch.zeros(1, 10)
    mask = torch.ones(1, 10, dtype=torch.bool)
    out = learnt(times, mags, mask)
    out["reconstruction"].sum().backward()
    assert learnt.time_encoding.log_frequencies.grad is not None
    assert fixed(times, mags, mask)["layers"][0].shape == (1, 10, 16)


@pytest.mark.parametrize(
    "field, value",
    [("time_encoding", "fourier"), ("min_period", 0.0), ("max_period", 0.01),
     ("fold_cycles", -1)],
)
def test_time_encoding_config_is_validated(field, value):
    with pytest.raises(ValueError, match=field.split("_")[0]):
        AstromerConfig.preset("astromer2", **{field: value})
