"""Tests of the few-shot harness in ``benchmarks/``: protocol draws, caches, methods, results and
the command line, end to end."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

pytest.importorskip("light_curve")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _methods
import fewshot
from _caching import CachedTransform, PoolFitted
from _protocol import (
    CRTS5_CLASSES,
    CRTS9_CLASSES,
    LightCurveSet,
    draw_split,
    load_light_curves,
    shared_pool,
)
from _results import COLUMNS, KEY

from sklearn_astromer import as_light_curves
from sklearn_astromer.features import LightCurveFeatures


def _toy_set(counts, seed=0):
    """A LightCurveSet with ``counts[label]`` objects per class (tiny random curves)."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([[label] * n for label, n in counts.items()])
    ids = np.array([f"obj{i:05d}" for i in range(labels.size)])
    curves = [np.column_stack([np.arange(5.0), rng.normal(size=5), np.full(5, 0.1)])
              for _ in labels]
    return LightCurveSet(object_ids=ids, labels=labels, curves=curves, source="toy")


def _synthetic_parquet(path, n_per_class=16, seed=0):
    """Periodic light curves of three shapes in the shared parquet schema."""
    rng = np.random.default_rng(seed)
    rows = []
    shapes = {
        "sine": lambda phase: 0.4 * np.sin(2 * np.pi * phase),
        "saw": lambda phase: 0.8 * (phase - 0.5),
        "eclipse": lambda phase: 0.8 * (np.abs(phase - 0.5) < 0.05),
    }
    for label, shape in shapes.items():
        for i in range(n_per_class):
            t = np.sort(rng.uniform(53000, 54000, 120))
            period = rng.uniform(0.3, 0.8)
            mag = 15 + shape((t / period) % 1.0) + rng.normal(0, 0.03, t.size)
            rows.append({
                "object_id": f"{label}-{i}", "label": label, "band": "V", "ra": np.nan,
                "dec": np.nan, "mjd": t, "mag": mag.astype(np.float32),
                "mag_err": np.full(t.size, 0.03, np.float32),
            })
    pd.DataFrame(rows).to_parquet(path)
    return path


# --- protocol -------------------------------------------------------------------------------

COUNTS = {"A": 300, "B": 150, "C": 40, "D": 12, "other": 50}


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("spc", [1, 20, 100])
def test_draws_disjoint_and_cover_the_pool(seed, spc):
    data = _toy_set(COUNTS)
    with pytest.warns(UserWarning, match="only 12 objects"):
        draw = draw_split(data, ["A", "B", "C", "D"], spc, seed, test_per_class=20)
    train, test, pool = set(draw.train), set(draw.test), set(draw.unlabelled)
    assert len(train) == draw.train.size and len(test) == draw.test.size
    assert not train & test and not train & pool and not test & pool
    assert train | test | pool == set(range(len(data)))
    # The unlabelled pool holds objects of every class, including those outside the task.
    assert "other" in set(data.labels[draw.unlabelled])


def test_draws_respect_spc_and_small_classes():
    data = _toy_set(COUNTS)
    with pytest.warns(UserWarning):
        draw = draw_split(data, ["A", "B", "C", "D"], 100, seed=0, test_per_class=20)
    n_train = pd.Series(data.labels[draw.train]).value_counts()
    n_test = pd.Series(data.labels[draw.test]).value_counts()
    assert n_test["A"] == n_test["B"] == n_test["C"] == 20
    assert n_train["A"] == n_train["B"] == 100
    assert n_train["C"] == 40 - 20  # a class with fewer left contributes all it has
    assert n_test["D"] == 6 and n_train["D"] == 6  # fewer than test_per_class: split in half


def test_draws_are_deterministic_and_independent_of_row_order():
    data = _toy_set(COUNTS)
    classes = ["A", "B", "C"]
    first = draw_split(data, classes, 20, seed=3, test_per_class=10)
    again = draw_split(data, classes, 20, seed=3, test_per_class=10)
    np.testing.assert_array_equal(first.train, again.train)
    np.testing.assert_array_equal(first.test, again.test)

    order = np.random.default_rng(0).permutation(len(data))
    shuffled = LightCurveSet(data.object_ids[order], data.labels[order],
                             [data.curves[i] for i in order])
    moved = draw_split(shuffled, classes, 20, seed=3, test_per_class=10)
    assert set(shuffled.object_ids[moved.train]) == set(data.object_ids[first.train])
    assert set(shuffled.object_ids[moved.test]) == set(data.object_ids[first.test])

    other = draw_split(data, classes, 20, seed=4, test_per_class=10)
    assert set(other.test) != set(first.test)


def test_test_set_fixed_across_spc_and_training_sets_nested():
    data = _toy_set(COUNTS)
    small = draw_split(data, ["A", "B"], 20, seed=1, test_per_class=30)
    large = draw_split(data, ["A", "B"], 100, seed=1, test_per_class=30)
    np.testing.assert_array_equal(small.test, large.test)
    assert set(small.train) <= set(large.train)
    # A class's draw does not depend on the other classes of the protocol.
    alone = draw_split(data, ["A"], 20, seed=1, test_per_class=30)
    assert set(alone.train) <= set(small.train)


def test_separate_test_set_excludes_shared_objects():
    train_set = _toy_set({"A": 50, "B": 50})
    test_set = _toy_set({"A": 30, "B": 5}, seed=1)
    draw = draw_split(train_set, ["A", "B"], 10, seed=0, test_per_class=20, test_set=test_set)
    assert pd.Series(test_set.labels[draw.test]).value_counts().to_dict() == {"A": 20, "B": 5}
    # The toy sets share object ids: drawn test objects never train nor join the pool.
    shared = set(test_set.object_ids[draw.test])
    assert not shared & set(train_set.object_ids[draw.train])
    assert not shared & set(train_set.object_ids[draw.unlabelled])
    assert draw.train.size == 20


def test_unknown_class_is_an_error():
    with pytest.raises(ValueError, match="not found"):
        draw_split(_toy_set({"A": 30}), ["A", "Z"], 5, seed=0, test_per_class=5)


# --- caches ---------------------------------------------------------------------------------


def test_cached_features_equal_the_package_features_and_are_reused(tmp_path):
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 500, 150))
    curves = [np.column_stack([t, 15 + a * np.sin(2 * np.pi * t / 0.4), np.full(t.size, 0.02)])
              for a in (0.2, 0.5, 0.8)]
    direct = LightCurveFeatures(grid_log2=14).fit_transform(curves)
    cached = CachedTransform(LightCurveFeatures(grid_log2=14, n_jobs=1), cache_dir=tmp_path)
    np.testing.assert_array_equal(cached.fit(curves).transform(curves), direct)
    (shard,) = (tmp_path / "transform").glob("*/shard-*.npz")
    # n_jobs does not change the values, so it does not change the cache entry either.
    again = CachedTransform(LightCurveFeatures(grid_log2=14, n_jobs=2), cache_dir=tmp_path)
    np.testing.assert_array_equal(again.fit(curves).transform(curves[::-1]), direct[::-1])
    assert list((tmp_path / "transform").glob("*/shard-*.npz")) == [shard]
    names = list(again.get_feature_names_out())
    assert names == list(LightCurveFeatures(grid_log2=14).get_feature_names_out())


# --- harness --------------------------------------------------------------------------------


def _check_results(out_dir, n_rows):
    table = pd.read_csv(out_dir / "results.csv")
    assert set(COLUMNS) <= set(table.columns)
    assert len(table) == n_rows
    assert table["macro_f1"].between(0, 1).all()
    for name in ("results.json", "results.md", "results.png"):
        assert (out_dir / name).stat().st_size > 0
    return table


@pytest.mark.slow  # ~20 s: three harness runs; test_harness_on_real_crts runs main by default
def test_harness_end_to_end_on_synthetic_data(tmp_path):
    data = _synthetic_parquet(tmp_path / "toy.parquet")
    out = tmp_path / "out"
    common = ["--data", str(data), "--classes", "sine,saw,eclipse", "--test-per-class", "4",
              "--out", str(out), "--cache", str(tmp_path / "cache"), "--n-jobs", "1"]
    assert fewshot.main([*common, "--spc", "3,6", "--seeds", "0", "--methods", "features-rf"]) == 0
    table = _check_results(out, 2)
    assert set(table["n_train"]) == {9, 18} and set(table["n_test"]) == {12}

    # A rerun with another method and seed keeps the earlier rows and replaces equal keys.
    status = fewshot.main(
        [*common, "--spc", "3", "--seeds", "0,1", "--methods", "features-rf,features-brf"]
    )
    assert status == 0
    table = _check_results(out, 2 + 4 - 1)
    assert not table.duplicated(KEY).any()
    assert ((table["method"] == "features-rf") & (table["spc"] == 6)).sum() == 1
    assert "| features-brf |" in (out / "results.md").read_text()

    # --merge alone copies results into another directory without running anything.
    other = tmp_path / "merged"
    assert fewshot.main(["--merge", str(out / "results.csv"), "--out", str(other)]) == 0
    pd.testing.assert_frame_equal(_check_results(other, len(table)), table)


def test_harness_on_real_crts(shared_dir, tmp_path):
    data = shared_dir / "crts_train.parquet"
    if not data.exists():
        pytest.skip(f"{data} not found")
    out = tmp_path / "out"
    status = fewshot.main([
        "--data", str(data), "--protocol", "CRTS-5", "--spc", "5", "--test-per-class", "5",
        "--seeds", "0", "--methods", "features-rf", "--out", str(out),
        "--cache", str(tmp_path / "cache"),
    ])
    assert status == 0
    table = _check_results(out, 1)
    assert table.loc[0, "n_train"] == 5 * len(CRTS5_CLASSES)
    assert table.loc[0, "n_test"] == 5 * len(CRTS5_CLASSES)


def test_registry_holds_top_level_factories_and_protocol_defaults():
    assert {"features-rf", "features-brf", "astromer-hybrid-pca-rf"} <= set(_methods.METHODS)
    for name, factory in _methods.METHODS.items():
        # Importable by name (picklable, no closure), documented for --list-methods.
        assert getattr(_methods, factory.__name__) is factory, name
        assert factory.__doc__.strip(), name
    args = fewshot.build_parser().parse_args([])
    tasks = fewshot._tasks(args)
    assert [(name, spcs) for name, _, spcs in tasks] == [
        ("CRTS-5", (20, 100, 500)), ("CRTS-9", (20, 100))
    ]
    assert tasks[1][1] == CRTS9_CLASSES


def test_hybrid_method_is_the_package_hybrid_with_a_pool_fitted_embedding(tmp_path):
    pool = _curves(4)
    context = _methods.MethodContext(
        seed=3, protocol="toy", classes=("A", "B"), spc=2, unlabelled=pool,
        cache_dir=tmp_path, n_jobs=1,
    )
    model = _methods.astromer_hybrid_pca_rf(3, context)
    union = model.named_steps["union"]
    branch = union.named_transformers["embedding"]
    assert isinstance(branch, PoolFitted) and branch.unlabelled is pool
    assert [name for name, _ in branch.transformer.steps] == ["embedder", "scaler", "pca"]
    assert branch.transformer.named_steps["pca"].get_params()["n_components"] == 8
    embedder = branch.transformer.named_steps["embedder"].transformer
    assert embedder.get_params()["pooling"] == "layers"
    assert embedder.get_params()["max_epochs"] == 0
    assert isinstance(union.named_transformers["features"].named_steps["features"],
                      CachedTransform)
    assert model.named_steps["classifier"].get_params()["random_state"] == 3


# --- Astromer building blocks and methods ---------------------------------------------------


class _CountingScaler(TransformerMixin, BaseEstimator):
    """Per-curve mean magnitude times ``factor``; counts the curves it transforms."""

    calls = 0

    def __init__(self, factor=1.0):
        self.factor = factor

    def fit(self, X, y=None):
        self.mean_ = float(np.mean([np.mean(mag) for _, mag, _ in as_light_curves(X)]))
        return self

    def transform(self, X):
        means = np.array([np.mean(mag) for _, mag, _ in as_light_curves(X)])
        type(self).calls += len(means)
        return (self.factor * means - self.mean_)[:, None]


def _curves(n, seed=0):
    rng = np.random.default_rng(seed)
    return [np.column_stack([np.arange(20.0), rng.normal(size=20), np.full(20, 0.1)])
            for _ in range(n)]


def test_cached_transform_computes_each_curve_once(tmp_path):
    curves = _curves(6)
    _CountingScaler.calls = 0
    cached = CachedTransform(_CountingScaler(2.0), cache_dir=tmp_path).fit(curves)
    first = cached.transform(curves[:4])
    assert _CountingScaler.calls == 4
    again = CachedTransform(_CountingScaler(2.0), cache_dir=tmp_path).fit(curves)
    np.testing.assert_array_equal(again.transform(curves[2:]), cached.transform(curves)[2:])
    assert _CountingScaler.calls == 4 + 2  # only the two new curves were computed
    np.testing.assert_array_equal(again.transform(curves[:4]), first)
    # Other parameters are another cache entry, not a stale hit.
    other = CachedTransform(_CountingScaler(3.0), cache_dir=tmp_path).fit(curves)
    assert not np.allclose(other.transform(curves[:4]), first)


def test_pool_fitted_uses_the_pool_and_caches_by_content(tmp_path):
    pool, train = _curves(5, seed=1), _curves(3, seed=2)
    fitted = PoolFitted(_CountingScaler(), unlabelled=pool, cache_dir=tmp_path).fit(train)
    expected = np.mean([np.mean(c[:, 1]) for c in pool + train])
    assert fitted.transformer_.mean_ == pytest.approx(expected)
    assert len(list((tmp_path / "fitted").glob("*.joblib"))) == 1
    # The same set of curves split differently between pool and training finds the cache.
    reordered = PoolFitted(_CountingScaler(), unlabelled=train + pool[:2], cache_dir=tmp_path)
    reordered.fit(pool[2:])
    assert len(list((tmp_path / "fitted").glob("*.joblib"))) == 1
    np.testing.assert_array_equal(reordered.transform(train), fitted.transform(train))
    PoolFitted(_CountingScaler(), unlabelled=pool[1:], cache_dir=tmp_path).fit(train)
    assert len(list((tmp_path / "fitted").glob("*.joblib"))) == 2
    # A training curve already in the pool is fitted on once.
    again = PoolFitted(_CountingScaler(), unlabelled=pool + train, cache_dir=None).fit(train)
    assert again.transformer_.mean_ == pytest.approx(expected)
    # Without the training curves (shared pool): the pool alone.
    alone = PoolFitted(_CountingScaler(), unlabelled=pool, with_training=False).fit(train)
    assert alone.transformer_.mean_ == pytest.approx(np.mean([np.mean(c[:, 1]) for c in pool]))


def test_shared_pool_excludes_every_test_object():
    data = _toy_set(COUNTS)
    draws = [draw_split(data, ("A", "B", "C"), spc, seed, test_per_class=5)
             for spc in (3, 10) for seed in (0, 1)]
    pool = set(shared_pool(draws).tolist())
    tests = set(np.concatenate([d.test for d in draws]).tolist())
    assert not pool & tests
    assert pool | tests == set(range(len(data)))  # nothing else is withheld


@pytest.mark.slow
def test_astromer_methods_run_on_synthetic_data(tmp_path):
    data = _synthetic_parquet(tmp_path / "toy.parquet", n_per_class=10)
    out, cache = tmp_path / "out", tmp_path / "cache"
    methods = [m for m in _methods.METHODS if m.startswith("astromer")]
    assert {"astromer-rf", "astromer-ft-rf", "astromer-clf", "astromer-hybrid-pca-rf"} <= set(
        methods
    )
    status = fewshot.main([
        "--data", str(data), "--classes", "sine,saw,eclipse", "--test-per-class", "3",
        "--spc", "3", "--seeds", "0", "--methods", ",".join(methods), "--out", str(out),
        "--cache", str(cache), "--n-jobs", "1",
    ])
    assert status == 0
    table = _check_results(out, len(methods))
    assert set(table["method"]) == set(methods)
    # Fine-tuned encoders and pool-fitted reductions were cached for the next training size.
    assert list((cache / "fitted").glob("*.joblib"))
    assert list((cache / "transform").glob("*/shard-*.npz"))


@pytest.mark.slow
def test_shared_pool_fits_once_per_seed(tmp_path):
    data = _synthetic_parquet(tmp_path / "toy.parquet", n_per_class=10)
    out, cache = tmp_path / "out", tmp_path / "cache"
    status = fewshot.main([
        "--data", str(data), "--classes", "sine,saw,eclipse", "--test-per-class", "3",
        "--spc", "2,4", "--seeds", "0,1", "--methods", "astromer-ft-rf", "--shared-pool",
        "--out", str(out), "--cache", str(cache), "--n-jobs", "1",
    ])
    assert status == 0
    table = _check_results(out, 4)
    assert set(table["method"]) == {"astromer-ft-rf" + fewshot.SHARED_POOL_SUFFIX}
    # Every object in no test set of either seed: the same pool for the four draws.
    assert table["n_unlabelled"].nunique() == 1
    assert table["n_unlabelled"].iloc[0] == 30 - len(set(
        np.concatenate([draw_split(load_light_curves(data), ("sine", "saw", "eclipse"),
                                   2, seed, 3).test for seed in (0, 1)]).tolist()
    ))
    # One self-supervised fine-tuning per seed (random_state), shared by both sizes.
    assert len(list((cache / "fitted").glob("*.joblib"))) == 2
