"""Embedding a partitioned table on a Dask LocalCluster of 2 worker processes."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")
pytestmark = pytest.mark.distributed

import dask.dataframe as dd  # noqa: E402

from sklearn_astromer import AstromerEmbedder  # noqa: E402
from sklearn_astromer.datasets import make_light_curves, write_light_curves  # noqa: E402
from sklearn_astromer.distributed import embed_dask  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.fixture(scope="module")
def data():
    X, y = make_light_curves(n_per_class=4, random_state=3)
    ids = np.array([f"star{k:02d}" for k in range(len(X))])
    long = pd.concat([
        pd.DataFrame({"object_id": i, "mjd": x[:, 0], "mag": x[:, 1], "mag_err": x[:, 2]})
        for i, x in zip(ids, X)
    ], ignore_index=True)
    embedder = AstromerEmbedder(weights=None, n_layers=1, d_model=16, d_ff=16, max_epochs=0,
                                random_state=0).fit(long)
    return X, y, ids, long, embedder


def test_long_table_split_across_partitions_equals_transform(client, data):
    X, y, ids, long, embedder = data
    expected = embedder.transform(long)
    counts = []
    # 7 partitions of rows: most objects continue from one partition into the next.
    table = dd.from_pandas(long, npartitions=7, sort=False)
    out = embed_dask(embedder, table, client=client, progress=lambda n: counts.append(n))
    assert list(out.index) == list(ids)
    assert out.index.name == "object_id"
    assert out.dtypes.eq(np.float32).all()
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-5, atol=1e-6)
    assert counts[0] == 7 and len(counts) > 7  # a regrouping pass ran

    # Another partitioning, and rows in random order inside partitions: same result.
    shuffled = long.sample(frac=1.0, random_state=0)
    first = shuffled.drop_duplicates("object_id")["object_id"].tolist()
    out2 = embed_dask(embedder, dd.from_pandas(shuffled, npartitions=3, sort=False),
                      client=client)
    assert list(out2.index) == first
    np.testing.assert_allclose(out2.loc[list(ids)].to_numpy(), expected, rtol=1e-5,
                               atol=1e-6)


def test_nested_parquet_files(client, data, tmp_path):
    X, y, ids, long, embedder = data
    write_light_curves(tmp_path / "a.parquet", X[:10], y[:10], ids=ids[:10])
    write_light_curves(tmp_path / "b.parquet", X[10:], y[10:], ids=ids[10:])
    out = embed_dask(embedder, [tmp_path / "a.parquet", tmp_path / "b.parquet"],
                     client=client)
    assert list(out.index) == list(ids)
    np.testing.assert_allclose(out.to_numpy(), embedder.transform(long), rtol=1e-5,
                               atol=1e-6)


def test_errors_name_the_problem(client, data):
    X, y, ids, long, embedder = data
    with pytest.raises(ValueError, match="object id column 'object_id'"):
        embed_dask(embedder, dd.from_pandas(long.drop(columns="object_id"), npartitions=2),
                   client=client)
    bad = long.copy()
    bad.loc[bad.object_id == "star05", "mag"] = np.nan
    with pytest.raises(ValueError, match="star05"):
        embed_dask(embedder, dd.from_pandas(bad, npartitions=2, sort=False), client=client)


def test_command_line_on_the_cluster(client, data, tmp_path):
    from sklearn_astromer.cli import main

    X, y, ids, long, embedder = data
    model = tmp_path / "model"
    embedder.save(model)
    long.to_parquet(tmp_path / "long.parquet")
    out = tmp_path / "emb.parquet"
    assert main(["embed", str(tmp_path / "long.parquet"), "-o", str(out), "--weights",
                 str(model), "--dask", client.scheduler.address, "--no-progress"]) == 0
    written = pd.read_parquet(out)
    assert written["object_id"].tolist() == list(ids)
    np.testing.assert_allclose(written.filter(like="emb_").to_numpy(),
                               embedder.transform(long), rtol=1e-5, atol=1e-6)
