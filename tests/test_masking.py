import numpy as np
import pytest

from sklearn_astromer._masking import mask_windows, nested_counts


def _windows(lengths, width=200, seed=0):
    rng = np.random.default_rng(seed)
    obs_mask = np.arange(width)[None, :] < np.asarray(lengths)[:, None]
    mags = np.where(obs_mask, rng.normal(size=obs_mask.shape), 0.0).astype(np.float32)
    return mags, obs_mask


def test_astromer1_counts_of_a_full_window():
    assert [int(c) for c in nested_counts(200, 0.5, 0.2, 0.2)] == [100, 20, 16, 64]


def test_counts_are_floored_and_exact_for_inexact_fractions():
    # 0.29 * 100 is 28.999999999999996 in binary floating point.
    assert int(nested_counts(100, 0.29, 0.0, 0.0)[0]) == 29
    assert [int(c) for c in nested_counts(7, 0.5, 0.2, 0.2)] == [3, 0, 0, 3]


@pytest.mark.parametrize("seed", range(10))
def test_plan_invariants(seed):
    lengths = [200, 150, 37, 2, 1]
    mags, obs_mask = _windows(lengths, seed=seed)
    plan = mask_windows(mags, obs_mask, np.random.default_rng(seed))
    n_probed, n_same, n_random, n_hidden = nested_counts(lengths)
    np.testing.assert_array_equal(plan.probed.sum(1), n_probed)
    np.testing.assert_array_equal(plan.hidden.sum(1), n_hidden)
    # Only real, probed observations are hidden or changed.
    assert not (plan.probed & ~obs_mask).any()
    assert not (plan.hidden & ~plan.probed).any()
    changed = plan.mags != mags
    assert not (changed & ~plan.probed).any()
    assert not (changed & plan.hidden).any()
    assert (changed.sum(1) <= n_random).all()
    # Replacements come from the same window's observations.
    for w in range(len(lengths)):
        assert set(plan.mags[w][changed[w]]) <= set(mags[w, : lengths[w]])


def test_plan_is_determined_by_the_generator():
    mags, obs_mask = _windows([200, 90])
    a = mask_windows(mags, obs_mask, np.random.default_rng(3))
    b = mask_windows(mags, obs_mask, np.random.default_rng(3))
    c = mask_windows(mags, obs_mask, np.random.default_rng(4))
    np.testing.assert_array_equal(a.probed, b.probed)
    np.testing.assert_array_equal(a.mags, b.mags)
    assert (a.probed != c.probed).any()


def test_probed_positions_are_uniform():
    mags, obs_mask = _windows([50] * 4000)
    plan = mask_windows(mags, obs_mask, np.random.default_rng(0))
    freq = plan.probed[:, :50].mean(0)
    np.testing.assert_allclose(freq, 0.5, atol=0.04)
