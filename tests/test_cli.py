"""The ``sklearn-astromer`` command line, run in-process through ``main``."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import TINY

from sklearn_astromer import AstromerEmbedder
from sklearn_astromer.cli import main
from sklearn_astromer.datasets import load_light_curves, make_light_curves, write_light_curves

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    X, y = make_light_curves(n_per_class=3, classes=["RRab", "EA", "LPV"], n_obs=(20, 60),
                             random_state=0)
    ids = np.array([f"obj{k:02d}" for k in range(len(X))])
    return X, y, ids


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, data):
    X, _, _ = data
    path = tmp_path_factory.mktemp("model") / "tiny"
    embedder = AstromerEmbedder(**TINY).fit(X)
    embedder.save(path)
    return path, embedder


def long_table(X, y, ids):
    return pd.DataFrame({
        "object_id": np.repeat(ids, [len(x) for x in X]),
        "label": np.repeat(y, [len(x) for x in X]),
        "mjd": np.concatenate([x[:, 0] for x in X]),
        "mag": np.concatenate([x[:, 1] for x in X]),
        "mag_err": np.concatenate([x[:, 2] for x in X]),
    })


def embeddings(path):
    table = pd.read_parquet(path)
    return table, table.filter(like="emb_").to_numpy()


def run_failing(argv, capsys):
    """Run a command expected to fail on its input; return its error message."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", [[], ["quickstart"], ["embed"], ["finetune"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sklearn-astromer")
    if command == ["embed"]:
        assert "--columns" in out and "--weights" in out and "--batch-size" in out


def test_bad_options_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["embed", "in.parquet", "-o", "out.parquet", "--columns", "colour=g"])
    assert exit_info.value.code == 2
    assert "unknown key 'colour'" in capsys.readouterr().err


# --------------------------------------------------------------------------- quickstart


def test_quickstart(capsys):
    assert main(["quickstart", "--quick", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    for section in ("== data ==", "== model ==", "== embeddings ==", "macro-F1", "accuracy",
                    "precision", "== timings =="):
        assert section in out
    assert "epoch  1  train loss" in out
    assert "train (105, 32), test (45, 32)" in out


# --------------------------------------------------------------------------- embed


def test_embed_parquet_and_csv(tmp_path, data, tiny_model, capsys):
    X, y, ids = data
    model, embedder = tiny_model
    expected = embedder.transform(X)

    nested = tmp_path / "curves.parquet"
    write_light_curves(nested, X, y, ids=ids, band="V")
    csv = tmp_path / "curves.csv"
    long_table(X, y, ids).to_csv(csv, index=False)

    outputs = []
    for source, batch in [(nested, "1024"), (nested, "2"), (csv, "4")]:
        out = tmp_path / f"emb_{source.suffix[1:]}_{batch}.parquet"
        assert main(["embed", str(source), "-o", str(out), "--weights", str(model),
                     "--batch-size", batch, "--no-progress"]) == 0
        table, values = embeddings(out)
        assert list(table["object_id"]) == list(ids)
        assert list(table["label"]) == list(y)
        # Parquet stores magnitudes as float32, so embeddings agree to float32 precision.
        np.testing.assert_allclose(values, expected, rtol=1e-4, atol=1e-4)
        outputs.append(values)
    assert list(table.columns[:2]) == ["object_id", "label"]
    assert f"embedded {len(X)} light curves" in capsys.readouterr().out
    # Batching does not change the result.
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not list(tmp_path.glob("*.partial"))


def test_embed_long_parquet_in_small_chunks(tmp_path, data, tiny_model):
    X, y, ids = data
    model, embedder = tiny_model
    frame = long_table(X, y, ids).rename(columns={"object_id": "oid", "mjd": "t"})
    source = tmp_path / "long.parquet"
    # Small row groups so objects straddle the chunks read.
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source,
                   row_group_size=17)
    out = tmp_path / "emb.parquet"
    assert main(["embed", str(source), "-o", str(out), "--weights", str(model),
                 "--columns", "id=oid,time=t", "--batch-size", "1", "--pooling", "layers",
                 "--no-progress"]) == 0
    table, values = embeddings(out)
    assert list(table["object_id"]) == list(ids)
    embedder_layers = AstromerEmbedder(weights=model, max_epochs=0, pooling="layers").fit(X)
    np.testing.assert_allclose(values, embedder_layers.transform(X), rtol=1e-5, atol=1e-5)


def test_embed_band_filter(tmp_path, data, tiny_model):
    X, y, ids = data
    model, _ = tiny_model
    frame = long_table(X, y, ids)
    frame["band"] = np.where(frame["object_id"] < "obj04", "g", "r")
    source = tmp_path / "two_bands.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "emb.parquet"
    assert main(["embed", str(source), "-o", str(out), "--weights", str(model),
                 "--band", "r", "--no-progress"]) == 0
    table, _ = embeddings(out)
    assert list(table["object_id"]) == list(ids[4:])
    assert set(table["band"]) == {"r"}


def test_embed_drops_placeholder_times(tmp_path, data, tiny_model):
    X, y, ids = data
    model, embedder = tiny_model
    frame = long_table(X, y, ids)
    # obj01 gains a first observation at Julian date 0; "ghost" has nothing else.
    placeholder = frame[frame["object_id"] == "obj01"].iloc[:1].assign(mjd=-2409998.5)
    ghost = placeholder.assign(object_id="ghost")
    at = int(np.flatnonzero(frame["object_id"] == "obj01")[0])
    frame = pd.concat([frame.iloc[:at], placeholder, frame.iloc[at:], ghost])
    source = tmp_path / "placeholders.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "emb.parquet"
    common = ["-o", str(out), "--weights", str(model), "--no-progress"]

    # Run by hand, the warning is printed on stderr.
    with pytest.warns(UserWarning, match=r"dropped 1 light curve\(s\) .*: 'ghost'"):
        assert main(["embed", str(source), *common, "--batch-size", "4"]) == 0
    table, values = embeddings(out)
    assert list(table["object_id"]) == list(ids)
    np.testing.assert_allclose(values, embedder.transform(X), rtol=1e-5, atol=1e-6)

    assert main(["embed", str(source), *common, "--keep-negative-times"]) == 0
    table, kept = embeddings(out)
    assert list(table["object_id"]) == [*ids, "ghost"]
    assert not np.allclose(kept[1], values[1], atol=1e-4)  # obj01 read with its placeholder
    np.testing.assert_allclose(kept[2:-1], values[2:], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- bad input


def test_bad_light_curve_is_named_with_its_position_in_the_file(tmp_path, data, tiny_model,
                                                                capsys):
    X, y, ids = data
    model, _ = tiny_model
    frame = long_table(X, y, ids)
    frame.loc[frame.index[frame["object_id"] == "obj05"][3], "mjd"] = np.nan
    source = tmp_path / "nan.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "emb.parquet"
    err = run_failing(["embed", str(source), "-o", str(out), "--weights", str(model),
                       "--batch-size", "2", "--no-progress"], capsys)
    assert "light curve 5 ('obj05'): NaN or infinite time (observation 3)" in err
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("form, batch", [("csv", "1024"), ("csv", "2"), ("nested", "3")])
def test_embed_on_error_skip_leaves_bad_light_curves_out(tmp_path, data, tiny_model, capsys,
                                                         form, batch):
    X, y, ids = data
    model, embedder = tiny_model
    X = [x.copy() for x in X]
    X[2][4, 1] = 1e30  # an absurd magnitude
    X[5][3, 0] = np.nan  # a missing time
    if form == "csv":
        source = tmp_path / "bad.csv"
        long_table(X, y, ids).to_csv(source, index=False)
    else:
        # write_light_curves validates, so the bad values go in afterwards.
        source = tmp_path / "bad.parquet"
        write_light_curves(source, data[0], y, ids=ids)
        table = pq.read_table(source).to_pydict()
        table["mag"][2][4] = 1e30
        table["mjd"][5][3] = float("nan")
        pq.write_table(pa.table(table), source)
    out = tmp_path / "emb.parquet"
    common = ["embed", str(source), "-o", str(out), "--weights", str(model),
              "--batch-size", batch, "--no-progress"]

    # Default (raise): stops on a bad light curve of the batch, writes nothing.
    err = run_failing(common, capsys)
    assert "light curve 2 ('obj02')" in err or "light curve 5 ('obj05')" in err
    assert not out.exists()
    assert run_failing([*common, "--on-error", "raise"], capsys)

    assert main([*common, "--on-error", "skip"]) == 0
    summary = capsys.readouterr().out
    good = [k for k in range(len(X)) if k not in (2, 5)]
    table, values = embeddings(out)
    assert list(table["object_id"]) == list(ids[good])
    assert list(table["label"]) == list(y[good])
    np.testing.assert_allclose(values, embedder.transform([X[k] for k in good]),
                               rtol=1e-4, atol=1e-4)
    skipped = pd.read_csv(out.with_name(out.name + ".skipped.csv"))
    assert list(skipped.columns) == ["id", "position", "reason"]
    assert list(skipped["id"]) == ["obj02", "obj05"]
    assert list(skipped["position"]) == [2, 5]
    assert "magnitude" in skipped["reason"][0]
    assert "NaN or infinite time" in skipped["reason"][1]
    assert f"embedded {len(good)} light curves" in summary
    assert "skipped 2 invalid light curves" in summary
    assert not list(tmp_path.glob("*.partial"))


def test_bad_files(tmp_path, data, tiny_model, capsys):
    X, y, ids = data
    model, _ = tiny_model
    frame = long_table(X, y, ids)
    out = str(tmp_path / "emb.parquet")
    common = ["-o", out, "--weights", str(model), "--no-progress"]

    renamed = tmp_path / "renamed.csv"
    frame.rename(columns={"mag": "m"}).to_csv(renamed, index=False)
    err = run_failing(["embed", str(renamed), *common], capsys)
    assert "missing column(s) ['mag']" in err and "--columns" in err

    no_ids = tmp_path / "no_ids.csv"
    frame.drop(columns="object_id").to_csv(no_ids, index=False)
    err = run_failing(["finetune", str(no_ids), "-o", str(tmp_path / "m")], capsys)
    assert "needs an object id column 'object_id'" in err

    shuffled = tmp_path / "shuffled.csv"
    pd.concat([frame.iloc[:10], frame.iloc[30:], frame.iloc[10:30]]).to_csv(shuffled,
                                                                           index=False)
    err = run_failing(["embed", str(shuffled), *common, "--batch-size", "1"], capsys)
    assert "rows of object 'obj00' are not consecutive" in err

    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("not a parquet file")
    assert "not a readable parquet file" in run_failing(["embed", str(garbage), *common],
                                                        capsys)
    assert "no such file" in run_failing(["embed", str(tmp_path / "none.csv"), *common],
                                         capsys)
    unknown = tmp_path / "curves.txt"
    frame.to_csv(unknown, index=False)
    assert "cannot tell the format" in run_failing(["embed", str(unknown), *common], capsys)
    assert main(["embed", str(unknown), *common, "--format", "csv"]) == 0

    text = tmp_path / "text.csv"
    frame.assign(mag="bright").to_csv(text, index=False)
    assert "non-numeric" in run_failing(["finetune", str(text), "-o", str(tmp_path / "m")],
                                        capsys)


# --------------------------------------------------------------------------- round trip


def test_finetune_then_embed_on_crts(tmp_path, crts_path, released_weights, capsys):
    source = tmp_path / "crts.parquet"
    table = pq.read_table(crts_path).slice(0, 32)
    pq.write_table(table, source)

    model = tmp_path / "model"
    assert main(["finetune", str(source), "-o", str(model), "--weights", "macho",
                 "--epochs", "1", "--batch-size", "16", "--quiet"]) == 0
    assert "trained macho on 32 light curves for 1 epochs" in capsys.readouterr().out

    out = tmp_path / "emb.parquet"
    assert main(["embed", str(source), "-o", str(out), "--weights", str(model),
                 "--batch-size", "10", "--no-progress"]) == 0
    result, values = embeddings(out)
    assert values.shape == (32, 256)
    assert list(result["object_id"]) == table["object_id"].to_pylist()
    assert list(result["label"]) == table["label"].to_pylist()

    X, _ = load_light_curves(source)
    reloaded = AstromerEmbedder(weights=model, max_epochs=0).fit(X)
    np.testing.assert_allclose(values, reloaded.transform(X), rtol=1e-4, atol=1e-5)
    # Fine-tuning moved the weights away from the released ones.
    released = AstromerEmbedder(weights="macho", max_epochs=0).fit(X).transform(X)
    assert not np.allclose(values, released, atol=1e-4)


def test_finetune_sets_any_architecture_field(tmp_path, data, capsys):
    X, y, ids = data
    source = tmp_path / "curves.parquet"
    write_light_curves(source, X, y, ids=ids)
    model = tmp_path / "model"
    assert main(["finetune", str(source), "-o", str(model), "--weights", "none",
                 "--preset", "astromer2", "--n-layers", "1", "--n-heads", "2", "--d-model", "8",
                 "--d-ff", "8", "--window-length", "16", "--set", "pe_base=1000",
                 "--set", "mask_token=false", "--epochs", "1", "--quiet"]) == 0
    config = AstromerEmbedder(weights=model, max_epochs=0).fit(X[:1]).config_
    assert (config.pe_base, config.mask_token, config.residual, config.n_layers) == (
        1000, False, True, 1)
    err = run_failing(["finetune", str(source), "-o", str(model), "--weights", "none",
                       "--set", "pe_bse=10", "--epochs", "0"], capsys)
    assert "unknown fields ['pe_bse']" in err
    err = run_failing(["finetune", str(source), "-o", str(model), "--set", "pe_base=10"], capsys)
    assert "only to a new model" in err


def test_version(capsys):
    from importlib.metadata import PackageNotFoundError, version

    import sklearn_astromer

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"sklearn-astromer {sklearn_astromer.__version__}\n"
    # One source: the installed metadata is read from the package.
    try:
        installed = version("sklearn-astromer")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return
    assert installed == sklearn_astromer.__version__
