"""ONNX export: the file runs under onnxruntime and light_curve.embed as the package runs.

Needs the ``onnx`` extra (onnx, onnxscript, onnxruntime) and, for the boundary test,
``light-curve``; each test skips when what it needs is absent. The released-weights tests
use the ``macho`` archive and the CRTS file from the shared folder.
"""

import json
import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import TINY

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

from sklearn_astromer import AstromerEmbedder  # noqa: E402
from sklearn_astromer._lightcurves import as_light_curves  # noqa: E402
from sklearn_astromer._model import Astromer, AstromerConfig  # noqa: E402
from sklearn_astromer._onnx import (  # noqa: E402
    CARD_KEY,
    OnnxEncoder,
    export_onnx,
    inference_session,
    read_model_card,
)
from sklearn_astromer._pooling import STATISTICS  # noqa: E402
from sklearn_astromer._preprocessing import make_windows  # noqa: E402
from sklearn_astromer.datasets import load_light_curves  # noqa: E402

MIN_COSINE = 0.9999


def cosine(a, b):
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def crts(crts_path):
    """Real CRTS curves: 24 of at most 200 observations, and 8 of several windows."""
    X, _ = load_light_curves(crts_path)
    n = np.array([len(x) for x in X])
    short = [X[i] for i in np.flatnonzero(n <= 200)[:24]]
    long = [X[i] for i in np.flatnonzero(n > 450)[:8]]
    return short, long


@pytest.fixture(scope="module")
def macho(tmp_path_factory, crts):
    """The released ``macho`` embedder and its export (with ``layer_means``)."""
    from conftest import SHARED_WEIGHTS

    if not (SHARED_WEIGHTS / "macho_a0.zip").is_file():
        pytest.skip(f"released weights not found in {SHARED_WEIGHTS}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKLEARN_ASTROMER_HOME", str(SHARED_WEIGHTS))
        embedder = AstromerEmbedder("macho", max_epochs=0, device="cpu").fit(crts[0][:4])
        path = embedder.to_onnx(tmp_path_factory.mktemp("onnx") / "macho.onnx", layer_means=True)
    return embedder, path


def test_light_curve_embed_runs_the_export(macho, crts):
    """light_curve.embed's public Astromer1 class on the exported file matches transform."""
    embed = pytest.importorskip("light_curve.embed")
    embedder, path = macho
    short, _ = crts
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for output in ("mean", "max"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # light_curve.embed marks itself experimental
            model = embed.Astromer1(session, output=output)
            theirs = np.stack([model(x[:, 0], x[:, 1]).squeeze() for x in short])
        ours = embedder.set_params(pooling=output).transform(short)
        assert theirs.shape == ours.shape == (len(short), 256)
        assert cosine(theirs, ours).min() >= MIN_COSINE, output
    embedder.set_params(pooling="mean")


def test_onnxruntime_matches_torch_on_padded_windows(macho, crts):
    """Every output of the file against the torch encoder, on windows of 1 to 200 observations."""
    embedder, path = macho
    short, long = crts
    lc = as_light_curves(short[:3] + long[:2])
    # Windows of 200 (full), 137, 60, 2 and 1 observations; batch sizes 5 and 1.
    objects = np.array([3, 0, 1, 2, 4])
    starts = np.array([0, 0, 0, lc.lengths[2] - 2, lc.lengths[4] - 1])
    lengths = np.minimum(lc.lengths[objects] - starts, 200)
    lengths[1] = min(lengths[1], 137)
    w = make_windows(lc, objects, starts, 200)
    # Trim the second window to 137 observations: re-centre on the kept ones.
    keep = np.arange(200) < lengths[:, None]
    times = np.where(keep, w.times - (w.times * keep).sum(1, keepdims=True) / lengths[:, None], 0)
    mags = np.where(keep, w.mags - (w.mags * keep).sum(1, keepdims=True) / lengths[:, None], 0)
    times, mags = times.astype(np.float32), mags.astype(np.float32)

    session = inference_session(path)
    names = [o.name for o in session.get_outputs()]
    assert names == ["mean", "max", "sequence", "layer_means"]
    feeds = {"input": mags[..., None], "times": times[..., None],
             "mask_in": keep[..., None].astype(np.float32)}
    batched = dict(zip(names, session.run(None, feeds)))
    single = [dict(zip(names, session.run(None, {k: v[i : i + 1] for k, v in feeds.items()})))
              for i in range(len(objects))]
    with torch.inference_mode():
        mask = torch.from_numpy(keep)
        layers = embedder.module_.layers(torch.from_numpy(times), torch.from_numpy(mags), mask)
        expected = {name: STATISTICS[name](layers, mask).numpy()
                    for name in ("mean", "max", "layer_means")}
        expected["sequence"] = layers[-1].numpy()
    for name in names:
        for i in range(len(objects)):
            got = (batched[name][i], single[i][name][0])
            want = expected[name][i]
            if name == "sequence":
                got = tuple(g[: lengths[i]] for g in got)
                want = want[: lengths[i]]
            for g in got:
                assert cosine(g[None], want[None])[0] >= MIN_COSINE, (name, i)
                np.testing.assert_allclose(g, want, atol=2e-3 * np.abs(want).max(), err_msg=name)


def test_file_encoder_matches_transform_on_long_curves(macho, crts):
    """The package's windowing over the exported file: curves of several windows too."""
    embedder, path = macho
    short, long = crts
    X = short[:6] + long
    encoder = OnnxEncoder.from_file(path)
    stats = encoder.encode(as_light_curves(X), ["mean", "layer_means"])
    for pooling, statistic in (("mean", "mean"), ("layers", "layer_means")):
        ours = embedder.set_params(pooling=pooling).transform(X)
        assert cosine(stats[statistic], ours).min() >= MIN_COSINE, pooling
    embedder.set_params(pooling="mean")


def test_model_card(macho):
    embedder, path = macho
    card = read_model_card(path)
    assert card == json.loads(path.with_name(path.name + ".json").read_text())
    assert card["format"] == "light_curve.embed Astromer"
    assert AstromerConfig.from_dict(card["architecture"]) == embedder.config_
    assert card["weights"] == "macho"
    assert card["opset"] == 18
    assert set(card["inputs"]) == {"input", "times", "mask_in"}
    assert card["inputs"]["times"][0] == ["batch", 200, 1]
    assert set(card["outputs"]) == {"mean", "max", "sequence", "layer_means"}
    import onnx

    model = onnx.load(str(path))
    assert {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == 18
    assert CARD_KEY in {p.key for p in model.metadata_props}


@pytest.mark.slow
def test_backend_onnxruntime(synthetic):
    """backend="onnxruntime" embeds as the torch backend does, for every pooling; pickles.

    The ``"weighted"`` pooling standardises each dimension by its spread over the objects,
    and the input embedding's per-object means barely spread (down to the 1e-5 floor of the
    scale): float32 rounding differences of ~2e-7 between the two backends become ~2e-2
    standard deviations there, so that pooling agrees to 0.999 only.
    """
    X, _ = synthetic
    embedder = AstromerEmbedder(**TINY, pooling="weighted").fit(X)
    torch_out = {}
    for pooling in ("mean", "max", "layers", "weighted"):
        torch_out[pooling] = embedder.set_params(pooling=pooling).transform(X)
    embedder.set_params(backend="onnxruntime")
    for pooling, want in torch_out.items():
        got = embedder.set_params(pooling=pooling).transform(X)
        bound = 0.999 if pooling == "weighted" else MIN_COSINE
        assert cosine(got, want).min() >= bound, pooling
    restored = pickle.loads(pickle.dumps(embedder))
    assert "_onnx_encoder" not in vars(restored)
    assert "_onnx_encoder" in vars(embedder)
    np.testing.assert_allclose(restored.transform(X), got, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_file_without_layer_means_refuses_layer_statistics(tmp_path):
    config = AstromerConfig.preset("astromer1", n_layers=1, n_heads=2, d_model=8, d_ff=8,
                                   window_length=16)
    path = export_onnx(Astromer(config).eval(), tmp_path / "tiny.onnx")
    X = [np.column_stack([np.arange(20.0), np.sin(np.arange(20.0)), np.full(20, 0.1)])]
    with pytest.raises(ValueError, match="layer_means=True"):
        OnnxEncoder.from_file(path).encode(as_light_curves(X), ["layer_means"])


def test_missing_extra_is_named(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    monkeypatch.delitem(__import__("sys").modules, "onnx", raising=False)
    config = AstromerConfig.preset("astromer1", n_layers=1, n_heads=2, d_model=8, d_ff=8)
    with pytest.raises(ImportError, match=r"sklearn-astromer\[onnx\]"):
        export_onnx(Astromer(config), tmp_path / "x.onnx")


def _presets():
    configs = {
        name: AstromerConfig.preset(name, n_layers=2, n_heads=2, d_model=16, d_ff=16,
                                    window_length=32)
        for name in ("astromer1", "astromer2")
    }
    fields = AstromerConfig.__dataclass_fields__
    if "time_encoding" in fields:
        configs["astromer2-log-period"] = AstromerConfig.preset(
            "astromer2", n_layers=2, n_heads=2, d_model=16, d_ff=16, window_length=32,
            time_encoding="log-period",
        )
    return configs


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_presets()))
def test_every_architecture_exports(name, tmp_path, synthetic):
    """Each preset (and time encoding) exports and runs as the torch encoder, padded windows included."""
    X, _ = synthetic
    torch.manual_seed(0)
    module = Astromer(_presets()[name]).eval()
    if getattr(module.config, "mask_token", False):
        with torch.no_grad():
            module.mask_token.fill_(0.7)  # a non-zero token must not reach inference
    path = export_onnx(module, tmp_path / f"{name}.onnx", layer_means=True)
    lc = as_light_curves(X)
    from sklearn_astromer._inference import encode

    want = encode(module, lc, ["mean", "max", "layer_means"])
    got = OnnxEncoder.from_file(path).encode(lc, ["mean", "max", "layer_means"])
    for key in want:
        assert cosine(got[key], want[key]).min() >= MIN_COSINE, key


@pytest.mark.slow
def test_cli_export_check(tmp_path, released_weights, capsys):
    """``sklearn-astromer export --check`` writes the file and its card and agrees with the package."""
    from sklearn_astromer.cli import main

    out = tmp_path / "macho.onnx"
    assert main(["export", "--weights", "macho", "-o", str(out), "--layer-means", "--check"]) == 0
    printed = capsys.readouterr().out
    assert "layer_means: per-object cosine" in printed
    card = json.loads(out.with_name("macho.onnx.json").read_text())
    assert card["weights"] == "macho" and "layer_means" in card["outputs"]
