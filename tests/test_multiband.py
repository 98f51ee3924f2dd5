"""Multi-band light curves: every input form (with an object missing a band), the refusal of
single-band estimators to merge bands, the multi-band features and embedder, the synthetic
two-band generator and the parquet round trip."""

import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import TINY
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from sklearn_astromer import AstromerEmbedder, as_light_curves
from sklearn_astromer.datasets import (
    load_multiband_light_curves,
    make_multiband_light_curves,
    write_light_curves,
    write_multiband_light_curves,
)
from sklearn_astromer.multiband import (
    MultiBandEmbedder,
    MultiBandFeatures,
    MultiBandLightCurves,
    as_multiband_light_curves,
    make_multiband_hybrid_pipeline,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# A coarse grid: the tests check bookkeeping, not periods.
FAST = dict(max_frequency=5.0, grid_log2=10)
EMBED = {**TINY, "max_epochs": 0}


def _curve(seed, n, shift=0.0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 100, n))
    return np.column_stack([t, 15 + shift + 0.3 * np.sin(t / 3) + rng.normal(0, 0.02, n),
                            np.full(n, 0.02)])


# Three objects; "b" lacks band r, "c" has its bands in the other key order.
OBJECTS = [
    {"g": _curve(0, 30, 0.5), "r": _curve(1, 25)},
    {"g": _curve(2, 20, 0.4)},
    {"r": _curve(3, 28), "g": _curve(4, 22, 0.6)},
]
IDS = ["a", "b", "c"]


def long_table(objects=OBJECTS, ids=IDS):
    rows = []
    for object_id, obj in zip(ids, objects):
        for band, curve in obj.items():
            for t, m, e in curve:
                rows.append((object_id, band, t, m, e))
    return pd.DataFrame(rows, columns=["object_id", "band", "mjd", "mag", "mag_err"])


def nested_table(objects=OBJECTS, ids=IDS):
    rows = [
        {"object_id": object_id, "band": band, "mjd": curve[:, 0], "mag": curve[:, 1],
         "mag_err": curve[:, 2]}
        for object_id, obj in zip(ids, objects) for band, curve in obj.items()
    ]
    return pd.DataFrame(rows)


def assert_same(mb, expected=OBJECTS):
    assert mb.bands == ("g", "r")
    assert len(mb) == len(expected)
    assert mb.present.tolist() == [[True, True], [True, False], [True, True]]
    for k, obj in enumerate(expected):
        got = mb[k]
        assert sorted(got) == sorted(obj)
        for band, curve in obj.items():
            time, mag, err = got[band]
            np.testing.assert_array_equal(time, curve[:, 0])
            np.testing.assert_array_equal(mag, curve[:, 1])
            np.testing.assert_array_equal(err, curve[:, 2])


# --- input forms -----------------------------------------------------------------------------


def test_list_of_dicts_and_one_dict():
    assert_same(as_multiband_light_curves(OBJECTS))
    one = as_multiband_light_curves(OBJECTS[1])
    assert len(one) == 1 and one.bands == ("g",)
    # A tuple (time, mag, err) per band, a None band and an empty band are read too.
    columns = [{"g": tuple(c.T) for c in obj.values()} for obj in OBJECTS[:1]]
    assert len(as_multiband_light_curves(columns)) == 1
    with_none = as_multiband_light_curves([{"g": OBJECTS[1]["g"], "r": None},
                                           {"r": np.zeros((0, 3)), "g": OBJECTS[1]["g"]}])
    assert with_none.bands == ("g",) and len(with_none) == 2


def test_long_and_nested_tables_keep_object_identity_across_bands():
    mb = as_multiband_light_curves(long_table())
    assert_same(mb)
    assert mb.ids.tolist() == IDS
    # Rows in any order: objects in order of first appearance, each curve sorted by time.
    shuffled = long_table().sample(frac=1.0, random_state=0)
    again = as_multiband_light_curves(shuffled)
    order = [list(again.ids).index(i) for i in IDS]
    assert_same(again.subset(order))
    assert_same(as_multiband_light_curves(nested_table()))


def test_band_index_level_and_custom_band_column():
    # A band level of the index: an (object, band, time) MultiIndex, as in sktime panels.
    table = long_table().set_index(["object_id", "band"]).reset_index("object_id")
    assert_same(as_multiband_light_curves(table))
    renamed = long_table().rename(columns={"band": "filter", "object_id": "oid"})
    assert_same(as_multiband_light_curves(renamed, columns={"band": "filter", "id": "oid"}))


def test_band_selection_order_and_passthrough():
    mb = as_multiband_light_curves(OBJECTS, bands=["r", "g"])
    assert mb.bands == ("r", "g")
    assert as_multiband_light_curves(mb) is mb
    only_g = as_multiband_light_curves(OBJECTS, bands="g")
    assert only_g.bands == ("g",) and len(only_g) == 3
    subset = mb.subset([2, 0])
    assert subset.present.tolist() == [[True, True], [True, True]]
    np.testing.assert_array_equal(subset[0]["g"][0], OBJECTS[2]["g"][:, 0])


@pytest.mark.parametrize(
    "X, bands, message",
    [
        (OBJECTS, ["g", "i"], r"band\(s\) \['i'\] not in the light curves"),
        (OBJECTS, "r", r"object 1: no observations in any of the bands \['r'\]"),
        ([_curve(0, 10)], None, "list of such dicts"),
        (pd.DataFrame({"object_id": ["a"], "mjd": [0.0], "mag": [15.0]}), None,
         "needs a band column or index level 'band'"),
    ],
)
def test_invalid_multiband_input_raises_clearly(X, bands, message):
    with pytest.raises(ValueError, match=message):
        as_multiband_light_curves(X, bands=bands)


def test_bad_curve_error_names_object_and_band():
    bad = [dict(OBJECTS[0]), {"g": OBJECTS[1]["g"].copy()}]
    bad[1]["g"][3, 1] = np.nan
    with pytest.raises(ValueError, match=r"object 1, band 'g': NaN or infinite magnitude"):
        as_multiband_light_curves(bad)
    table = long_table()
    table.loc[(table.object_id == "c") & (table.band == "r"), "mag"] = 1e30
    with pytest.raises(ValueError, match=r"object 2 \('c'\), band 'r'"):
        as_multiband_light_curves(table)


def test_nested_table_with_an_object_twice_in_a_band_raises():
    table = pd.concat([nested_table(), nested_table().iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="object 'a': several rows in band 'g'"):
        as_multiband_light_curves(table)


# --- single-band estimators never merge bands ----------------------------------------------------


@pytest.mark.parametrize("table", [long_table, nested_table])
def test_single_band_funnel_refuses_several_bands_under_one_id(table):
    with pytest.raises(ValueError, match=r"object 'a' has .* in 2 bands \['g', 'r'\].*band='g'"):
        as_light_curves(table())
    with pytest.raises(ValueError, match="does not merge bands"):
        AstromerEmbedder(**EMBED).fit(table())
    # One band selected, or one band per object: single-band input as before.
    frame = table()
    assert len(as_light_curves(frame[frame.band == "g"])) == 3
    one_each = frame.drop_duplicates("object_id")
    assert as_light_curves(one_each).ids.tolist() == IDS


# --- estimators ------------------------------------------------------------------------------


def test_multiband_features_blocks_colours_and_missing_band():
    from sklearn_astromer.features import LightCurveFeatures

    features = MultiBandFeatures(features=LightCurveFeatures(**FAST)).fit(OBJECTS)
    names = list(features.get_feature_names_out())
    Z = features.transform(OBJECTS)
    assert Z.shape == (3, len(names)) == (3, features.n_features_out_)
    single = LightCurveFeatures(**FAST).fit_transform([obj["g"] for obj in OBJECTS])
    width = single.shape[1]
    np.testing.assert_array_equal(Z[:, :width], single)  # band g, in object order
    assert np.isnan(Z[1, width : 2 * width]).all()  # object b lacks band r
    colour = Z[:, names.index("colour_g-r")]
    g, r = OBJECTS[0]["g"], OBJECTS[0]["r"]
    expected = np.average(g[:, 1], weights=g[:, 2] ** -2) - np.average(r[:, 1], weights=r[:, 2] ** -2)
    assert colour[0] == pytest.approx(expected)
    assert np.isnan(colour[1])
    # The same objects as tables, and with the bands' keys in another order.
    np.testing.assert_array_equal(features.transform(long_table()), Z)
    np.testing.assert_array_equal(features.transform(nested_table()), Z)
    # Only one of the fitted bands in X: the other's columns are NaN.
    only_g = features.transform([{"g": obj["g"]} for obj in OBJECTS])
    np.testing.assert_array_equal(only_g[:, :width], single)
    assert np.isnan(only_g[:, width:]).all()
    frame = features.set_output(transform="pandas").transform(long_table())
    assert frame.index.tolist() == IDS and list(frame.columns) == names


def test_band_order_fixes_the_columns():
    from sklearn_astromer.features import LightCurveFeatures

    gr = MultiBandFeatures(bands=["g", "r"], features=LightCurveFeatures(**FAST)).fit(OBJECTS)
    rg = MultiBandFeatures(bands=["r", "g"], features=LightCurveFeatures(**FAST)).fit(OBJECTS)
    assert rg.get_feature_names_out()[0].startswith("r__")
    assert "colour_r-g" in list(rg.get_feature_names_out())
    a, b = gr.transform(OBJECTS), rg.transform(OBJECTS)
    width = (a.shape[1] - 3) // 2
    np.testing.assert_array_equal(a[:, :width], b[:, width : 2 * width])


def test_multiband_embedder_fills_and_masks_missing_bands():
    embedder = MultiBandEmbedder(AstromerEmbedder(**EMBED), bands=["g", "r"])
    Z = embedder.fit_transform(OBJECTS)
    d = EMBED["d_model"]
    assert Z.shape == (3, 2 * d + 2) and Z.dtype == np.float32
    single = AstromerEmbedder(**EMBED).fit([o["g"] for o in OBJECTS]).transform(
        [o["g"] for o in OBJECTS]
    )
    np.testing.assert_allclose(Z[:, :d], single, rtol=1e-6)
    assert (Z[1, d : 2 * d] == 0).all()  # filled
    assert Z[:, -2:].tolist() == [[1, 1], [1, 0], [1, 1]]  # mask: g, r
    filled = MultiBandEmbedder(AstromerEmbedder(**EMBED), fill_value=-1.0, mask=False)
    Z2 = filled.fit_transform(long_table())
    assert Z2.shape == (3, 2 * d) and (Z2[1, d:] == -1).all()
    names = embedder.get_feature_names_out()
    assert len(names) == Z.shape[1] and names[-1] == "r__present"
    again = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_array_equal(again.transform(OBJECTS), Z)


def test_multiband_pipelines_fit_and_predict():
    from sklearn_astromer.features import LightCurveFeatures

    X, y = make_multiband_light_curves(
        n_per_class=4, classes=["RRab", "EA", "LPV"], missing_band=0.3, random_state=0
    )
    model = make_pipeline(
        MultiBandFeatures(features=LightCurveFeatures(**FAST)),
        SimpleImputer(strategy="median", keep_empty_features=True),
        RandomForestClassifier(n_estimators=10, random_state=0),
    ).fit(X, y)
    assert model.predict(X).shape == (12,)
    hybrid = make_multiband_hybrid_pipeline(
        ["B", "R"], embedder=AstromerEmbedder(**EMBED), features=LightCurveFeatures(**FAST),
        n_components=2, classifier=RandomForestClassifier(n_estimators=10, random_state=0),
        random_state=0,
    ).fit(X, y)
    assert set(hybrid.predict(X)) <= set(y)


# --- data sets ---------------------------------------------------------------------------------


def test_make_multiband_light_curves():
    X, y = make_multiband_light_curves(
        n_per_class=30, classes=["RRc", "LPV", "EW"], cadence="ztf", random_state=0
    )
    again, _ = make_multiband_light_curves(
        n_per_class=30, classes=["RRc", "LPV", "EW"], cadence="ztf", random_state=0
    )
    np.testing.assert_array_equal(X[5]["B"], again[5]["B"])
    colour = {label: [] for label in set(y)}
    for obj, label in zip(X, y):
        assert sorted(obj) == ["B", "R"]
        # ZTF-like: the bands on different nights; EROS-like: the same times.
        assert not np.intersect1d(obj["B"][:, 0], obj["R"][:, 0]).size
        colour[label].append(np.mean(obj["B"][:, 1]) - np.mean(obj["R"][:, 1]))
    assert np.median(colour["LPV"]) > 1.0 > np.median(colour["RRc"])
    eros, _ = make_multiband_light_curves(n_per_class=2, classes=["RRab"], random_state=0)
    np.testing.assert_array_equal(eros[0]["B"][:, 0], eros[0]["R"][:, 0])
    missing, _ = make_multiband_light_curves(n_per_class=20, missing_band=0.5, random_state=0)
    counts = [len(obj) for obj in missing]
    assert 1 in counts and 2 in counts
    with pytest.raises(ValueError, match="cadence must be one of"):
        make_multiband_light_curves(cadence="rubin")


def test_multiband_parquet_round_trip(tmp_path):
    path = tmp_path / "two.parquet"
    write_multiband_light_curves(path, OBJECTS, ["X", "Y", "X"], ids=IDS)
    table = pd.read_parquet(path)
    assert table["object_id"].tolist() == ["a", "a", "b", "c", "c"]
    mb, y = load_multiband_light_curves(path)
    assert y.tolist() == ["X", "Y", "X"] and mb.ids.tolist() == IDS
    assert mb.present.tolist() == [[True, True], [True, False], [True, True]]
    np.testing.assert_allclose(mb[2]["r"][1], OBJECTS[2]["r"][:, 1], rtol=1e-6)  # float32
    only_r, y_r = load_multiband_light_curves(path, bands="r")
    assert len(only_r) == 2 and y_r.tolist() == ["X", "X"]
    # A file whose one object carries two labels, and a single-band file.
    write_light_curves(tmp_path / "clash.parquet", [OBJECTS[0]["g"], OBJECTS[0]["r"]],
                       ["X", "Y"], ids=["a", "a"], band=["g", "r"])
    with pytest.raises(ValueError, match="labelled 'X' and 'Y' in different bands"):
        load_multiband_light_curves(tmp_path / "clash.parquet")
    write_light_curves(tmp_path / "one.parquet", [OBJECTS[0]["g"]])
    with pytest.raises(ValueError, match="no 'band' column"):
        load_multiband_light_curves(tmp_path / "one.parquet")
    assert isinstance(mb, MultiBandLightCurves)


# --- command line ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny"
    AstromerEmbedder(**EMBED).fit([obj["g"] for obj in OBJECTS]).save(path)
    return path


def test_cli_refuses_merging_bands_and_embeds_them_side_by_side(tmp_path, tiny_folder, capsys):
    from sklearn_astromer.cli import main

    source = tmp_path / "two_bands.csv"
    table = long_table()
    table["label"] = table["object_id"].map({"a": "X", "b": "Y", "c": "X"})
    table.sort_values(["object_id", "band", "mjd"]).to_csv(source, index=False)
    out = tmp_path / "emb.parquet"
    # Without --band, the rows of one object in two bands are not merged into one curve.
    assert main(["embed", str(source), "-o", str(out), "--weights", str(tiny_folder),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "in 2 bands ['g', 'r']" in err and "--band g" in err and not out.exists()
    # One band: as before.
    assert main(["embed", str(source), "-o", str(out), "--weights", str(tiny_folder),
                 "--band", "r", "--no-progress"]) == 0
    assert pd.read_parquet(out)["object_id"].tolist() == ["a", "c"]
    # Two bands: one row per object, each band's embedding and its presence.
    assert main(["embed", str(source), "-o", str(out), "--weights", str(tiny_folder),
                 "--band", "r,g", "--no-progress"]) == 0
    result = pd.read_parquet(out)
    d = EMBED["d_model"]
    assert result["object_id"].tolist() == ["a", "c", "b"]  # band r's objects first
    assert result["label"].tolist() == ["X", "X", "Y"]
    assert list(result.columns[2 : 2 + d]) == [f"emb_r_{j}" for j in range(d)]
    assert result["present_r"].tolist() == [1, 1, 0] and result["present_g"].tolist() == [1, 1, 1]
    expected = MultiBandEmbedder(AstromerEmbedder(weights=str(tiny_folder), max_epochs=0,
                                                  random_state=0), bands=["r", "g"])
    values = expected.fit(long_table()).transform(long_table())
    got = result.filter(regex="^emb_").to_numpy()
    np.testing.assert_allclose(got, values[[0, 2, 1], : 2 * d], rtol=1e-5, atol=1e-6)


# --- sktime ------------------------------------------------------------------------------------


def _panel(objects=OBJECTS, ids=IDS, band_values=None):
    """pd-multiindex panel with mjd, mag, mag_err and a numeric band column ``fid``."""
    codes = band_values or {"g": 1, "r": 2}
    frames = {
        object_id: pd.concat(
            [pd.DataFrame({"mjd": c[:, 0], "mag": c[:, 1], "mag_err": c[:, 2], "fid": codes[b]})
             for b, c in obj.items()], ignore_index=True,
        )
        for object_id, obj in zip(ids, objects)
    }
    return pd.concat(frames)


def test_sktime_panels_with_a_band_column_or_level():
    pytest.importorskip("sktime")
    from sklearn_astromer.sktime import (
        AstromerTimeSeriesClassifier,
        AstromerTransformer,
        panel_to_light_curves,
        panel_to_multiband_light_curves,
    )

    panel = _panel()
    columns = dict(time_column="mjd", mag_column="mag", err_column="mag_err")
    with pytest.raises(ValueError, match=r"instance 'a' has observations in 2 bands \[1, 2\]"):
        panel_to_light_curves(panel, band_column="fid", **columns)
    # A column named "band" is found without band_column, and never read as magnitudes.
    named = panel.rename(columns={"fid": "band"})
    with pytest.raises(ValueError, match="band=1"):
        panel_to_light_curves(named, time_column="mjd")
    lc = panel_to_light_curves(panel, band_column="fid", band=1, as_light_curves=True, **columns)
    np.testing.assert_array_equal(lc[1][1], OBJECTS[1]["g"][:, 1])
    mb = panel_to_multiband_light_curves(panel, band_column="fid", **columns)
    assert mb.bands == ("1", "2") and mb.ids.tolist() == IDS
    assert mb.present.tolist() == [[True, True], [True, False], [True, True]]
    # The (instance, band, time) hierarchical form.
    level = long_table().set_index(["object_id", "band", "mjd"])
    mb_level = panel_to_multiband_light_curves(level, mag_column="mag", err_column="mag_err")
    assert mb_level.bands == ("g", "r") and mb_level.ids.tolist() == IDS
    np.testing.assert_array_equal(mb_level[2]["r"][0], OBJECTS[2]["r"][:, 0])

    tiny = {k: v for k, v in EMBED.items()}
    transformer = AstromerTransformer(band=[1, 2], band_column="fid", **columns, **tiny)
    out = transformer.fit_transform(panel)
    assert out.index.tolist() == IDS and out.shape == (3, 2 * EMBED["d_model"] + 2)
    assert out.iloc[:, -2:].to_numpy().tolist() == [[1, 1], [1, 0], [1, 1]]
    expected = MultiBandEmbedder(AstromerEmbedder(**EMBED), bands=["g", "r"]).fit(OBJECTS)
    np.testing.assert_allclose(out.to_numpy(), expected.transform(OBJECTS), rtol=1e-5)
    with pytest.raises(ValueError, match="does not merge bands"):
        AstromerTransformer(band_column="fid", **columns, **tiny).fit(panel)
    with pytest.raises(ValueError, match="the classifier takes one band"):
        AstromerTimeSeriesClassifier(band=[1, 2], band_column="fid", **columns, **tiny).fit(
            panel, np.array(["x", "y", "x"])
        )


# --- the few-shot harness on a two-band file ---------------------------------------------------


@pytest.mark.slow
def test_harness_runs_multiband_methods_on_a_two_band_file(tmp_path, monkeypatch):
    """``python -m pytest -m slow tests/test_multiband.py`` (about 10 s on an idle machine)."""
    import sys
    from pathlib import Path

    pytest.importorskip("light_curve")
    from sklearn_astromer.features import LightCurveFeatures
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import _methods
    import fewshot

    X, y = make_multiband_light_curves(
        n_per_class=8, classes=["RRab", "EA", "LPV"], missing_band=0.2, random_state=0
    )
    data = tmp_path / "two.parquet"
    write_multiband_light_curves(data, X, y)
    # A tiny encoder and grid instead of the released weights and the full periodogram.
    monkeypatch.setattr(_methods, "AstromerEmbedder",
                        lambda **kw: AstromerEmbedder(**{**EMBED, "pooling": kw.get("pooling", "mean")}))
    monkeypatch.setattr(_methods, "LightCurveFeatures", lambda n_jobs=None: LightCurveFeatures(**FAST))
    out = tmp_path / "out"
    argv = ["--data", str(data), "--classes", "RRab,EA,LPV", "--band", "B,R", "--spc", "3",
            "--test-per-class", "4", "--seeds", "0", "--n-jobs", "1", "--out", str(out),
            "--no-cache", "--methods", "features-rf,astromer-rf,astromer-hybrid-pca-rf"]
    assert fewshot.main(argv) == 0
    table = pd.read_csv(out / "results.csv")
    assert sorted(table["method"]) == [
        "astromer-hybrid-pca-rf[B+R]", "astromer-rf[B+R]", "features-rf[B+R]"]
    assert (table["n_test"] == 12).all()
    # Single-band-only methods refuse several bands; one band runs as before.
    assert fewshot.main(argv[:-1] + ["astromer-fold-rf"]) == 1
    assert fewshot.main(argv[:5] + ["R"] + argv[6:-1] + ["features-rf"]) == 0
    assert "features-rf" in set(pd.read_csv(out / "results.csv")["method"])
    assert sys.modules["_methods"] is _methods
