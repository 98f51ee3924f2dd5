"""transform works block by block: the result does not depend on the block size."""

import numpy as np
import pytest

from sklearn_astromer import AstromerEmbedder
from sklearn_astromer import _embedder
from sklearn_astromer._lightcurves import as_light_curves, light_curve_blocks
from sklearn_astromer.datasets import make_light_curves


def test_blocks_are_views_covering_every_light_curve():
    X, _ = make_light_curves(n_per_class=3, random_state=0)
    lc = as_light_curves(X)
    blocks = list(light_curve_blocks(lc, 5))
    assert [start for start, _ in blocks] == list(range(0, len(lc), 5))
    assert sum(len(b) for _, b in blocks) == len(lc)
    for start, block in blocks:
        assert np.shares_memory(block.time, lc.time)
        for k in range(len(block)):
            for a, b in zip(block[k], lc[start + k]):
                np.testing.assert_array_equal(a, b)
    assert list(light_curve_blocks(lc, len(lc)))[0][1] is lc


@pytest.mark.parametrize("pooling", ["mean", "weighted"])
def test_transform_in_blocks_equals_one_block(monkeypatch, pooling):
    X, y = make_light_curves(n_per_class=4, random_state=1)
    emb = AstromerEmbedder(weights=None, n_layers=1, d_model=16, d_ff=16, max_epochs=0,
                           pooling=pooling, head_epochs=2, random_state=0).fit(X, y)
    whole = emb.transform(X)
    monkeypatch.setattr(_embedder, "TRANSFORM_BLOCK", 5)
    blocked = emb.transform(X)
    assert blocked.dtype == np.float32 and blocked.shape == whole.shape
    np.testing.assert_allclose(blocked, whole, rtol=1e-6, atol=1e-6)
