import numpy as np
import pytest

from sklearn_astromer import as_light_curves
from sklearn_astromer._preprocessing import (
    covering_windows,
    make_windows,
    official_window_starts,
    random_windows,
)


@pytest.mark.parametrize(
    "n, starts",
    [(1, [0]), (150, [0]), (200, [0, 0]), (201, [0, 1]), (399, [0, 199]), (400, [0, 200, 200]), (450, [0, 200, 250])],
)
def test_official_window_starts(n, starts):
    assert official_window_starts(n, 200).tolist() == starts


def test_covering_windows_drop_repeats_and_cover_every_observation():
    lengths = np.array([1, 150, 200, 201, 400, 450, 1000])
    objects, starts = covering_windows(lengths, 200)
    for k, n in enumerate(lengths):
        mine = starts[objects == k]
        official = np.unique(official_window_starts(n, 200))
        np.testing.assert_array_equal(mine, official)
        covered = np.zeros(n, bool)
        for s in mine:
            covered[s : s + 200] = True
        assert covered.all()


def test_random_windows_stay_inside():
    rng = np.random.default_rng(0)
    lengths = np.array([10, 200, 201, 500] * 100)
    starts = random_windows(lengths, 200, rng)
    assert (starts >= 0).all() and (starts <= np.maximum(lengths - 200, 0)).all()
    assert set(starts[lengths == 201]) == {0, 1}


def test_make_windows_centres_in_float64_and_pads():
    t = 55000.0 + np.array([0.0, 0.25, 0.5, 10.0])
    lc = as_light_curves([(t, np.array([15.0, 15.5, 16.0, 15.5]), np.array([0.1, 0.1, 0.2, 0.1]))])
    w = make_windows(lc, [0], [0], 6)
    assert w.times.dtype == np.float32 and w.times.shape == (1, 6)
    np.testing.assert_array_equal(w.obs_mask[0], [True] * 4 + [False] * 2)
    np.testing.assert_allclose(w.times[0, :4], t - t.mean(), atol=1e-6)
    np.testing.assert_allclose(w.mags[0, :4], [-0.5, 0.0, 0.5, 0.0])
    np.testing.assert_array_equal(w.times[0, 4:], 0)
    np.testing.assert_allclose(w.errs[0, :4], [0.1, 0.1, 0.2, 0.1])


def test_make_windows_pad_to_and_offsets():
    lc = as_light_curves([np.c_[np.arange(5.0), np.arange(5.0)], np.c_[np.arange(3.0), 10 + np.arange(3.0)]])
    w = make_windows(lc, [0, 1], [2, 0], 3, pad_to=3)
    np.testing.assert_allclose(w.mags, [[-1, 0, 1], [-1, 0, 1]])
    assert w.n_obs.tolist() == [3, 3]
