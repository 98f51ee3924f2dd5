"""One partition's embedding on a Dask worker, without a cluster."""

import numpy as np
import pytest

from sklearn_astromer import AstromerEmbedder
from sklearn_astromer.datasets import make_light_curves


def test_dask_partition_refuses_repeated_ids_in_a_nested_table():
    pytest.importorskip("dask")
    import pandas as pd

    from sklearn_astromer.distributed import _embed_partition

    X, _ = make_light_curves(n_per_class=1, random_state=0)
    frame = pd.DataFrame({"object_id": ["a", "b", "a"],
                          "mjd": [x[:, 0] for x in X[:3]], "mag": [x[:, 1] for x in X[:3]]})
    emb = AstromerEmbedder(weights=None, n_layers=1, d_model=16, d_ff=16, max_epochs=0,
                           random_state=0).fit(X)
    names = {"id": "object_id", "time": "mjd", "mag": "mag", "err": "mag_err"}
    with pytest.raises(ValueError, match="'a' is on several rows"):
        _embed_partition(frame, emb, names)
    out = _embed_partition(frame.iloc[:2], emb, names, partition_info={"number": 3})
    assert list(out.index) == ["a", "b"] and out["_partition"].tolist() == [3, 3]
    np.testing.assert_allclose(out.filter(like="emb_").to_numpy(), emb.transform(X[:2]),
                               rtol=1e-6, atol=1e-6)
