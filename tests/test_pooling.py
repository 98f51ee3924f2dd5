"""The pooling table: reductions against hand computations, widths, the weighting."""

import numpy as np
import pytest
import torch
from conftest import TINY

from sklearn_astromer import AstromerEmbedder, as_light_curves
from sklearn_astromer._inference import encode
from sklearn_astromer._pooling import POOLINGS, STATISTICS, LayerWeighting, masked_max, masked_mean
from sklearn_astromer.cli import _parser

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Two blocks, so that the layer statistics have three layers; untrained.
TWO_BLOCKS = {**TINY, "n_layers": 2, "max_epochs": 0}


def test_masked_mean_and_max_ignore_padding():
    z = torch.tensor([[[1.0, -2.0], [3.0, 5.0], [100.0, 100.0]],
                      [[0.0, 1.0], [2.0, 3.0], [4.0, -5.0]]])  # (B=2, L=3, D=2)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    np.testing.assert_allclose(masked_mean(z, mask), [[2.0, 1.5], [2.0, -1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(masked_max(z, mask), [[3.0, 5.0], [4.0, 3.0]])


def test_layer_means_statistic_stacks_every_layer():
    rng = torch.Generator().manual_seed(0)
    layers = [torch.randn(3, 5, 4, generator=rng) for _ in range(3)]
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    stacked = STATISTICS["layer_means"](layers, mask)
    assert stacked.shape == (3, 3, 4)
    for m, z in enumerate(layers):
        expected = [z[b, mask[b]].mean(dim=0).numpy() for b in range(3)]
        np.testing.assert_allclose(stacked[:, m], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(STATISTICS["mean"](layers, mask), stacked[:, -1])


@pytest.fixture(scope="module")
def embedder(curves):
    X, y = curves
    return AstromerEmbedder(**TWO_BLOCKS).fit(X), X, y


def test_inference_computes_only_the_statistics_asked_for(embedder):
    emb, X, _ = embedder
    lc = as_light_curves(X)
    mean_only = encode(emb.module_, lc, ["mean"])
    assert set(mean_only) == {"mean"}
    everything = encode(emb.module_, lc, ["mean", "max", "layer_means"])
    assert everything["layer_means"].shape == (len(X), 3, 8)
    # The same numbers whichever statistics are computed together.
    np.testing.assert_array_equal(mean_only["mean"], everything["mean"])
    np.testing.assert_allclose(everything["layer_means"][:, -1], everything["mean"], rtol=1e-6)
    assert (everything["max"] >= everything["mean"] - 1e-6).all()


@pytest.mark.parametrize("name", sorted(POOLINGS))
def test_output_width_comes_from_the_table(embedder, name):
    emb, X, y = embedder
    fitted = AstromerEmbedder(pooling=name, head_epochs=2, **TWO_BLOCKS).fit(X, y)
    Z = fitted.transform(X)
    assert Z.shape == (len(X), POOLINGS[name].width(fitted.config_))
    assert len(fitted.get_feature_names_out()) == Z.shape[1]


def test_command_line_offers_every_pooling():
    parser = _parser()
    embed = parser._subparsers._group_actions[0].choices["embed"]
    (pooling,) = [a for a in embed._actions if a.dest == "pooling"]
    assert list(pooling.choices) == sorted(POOLINGS)


def test_layer_weighting_standardises_then_weights():
    rng = np.random.default_rng(0)
    # Layers of very different scales: (N=50, M=3, D=4).
    means = rng.normal(size=(50, 3, 4)) * np.array([1e-3, 1.0, 1e3])[None, :, None]
    equal = LayerWeighting.equal(means)
    standardised = (means - means.mean(axis=0)) / means.std(axis=0, ddof=1)
    np.testing.assert_allclose(equal(means), standardised.mean(axis=1), rtol=1e-4, atol=1e-5)
    # Every layer contributes on the same scale, whatever its raw scale.
    np.testing.assert_allclose(equal(means).std(axis=0), standardised.mean(axis=1).std(axis=0),
                               rtol=1e-4)
    again = LayerWeighting.from_dict(equal.to_dict())
    np.testing.assert_array_equal(again(means), equal(means))


def test_weighted_pooling_needs_its_weighting_from_fit(embedder):
    emb, X, _ = embedder
    assert emb.layer_weighting_ is None  # fitted with pooling="mean"
    with pytest.raises(ValueError, match="fit it again"):
        emb.set_params(pooling="weighted").transform(X)
    emb.set_params(pooling="mean")
    # The poolings that need nothing from fit can be swapped on the fitted embedder.
    swapped = emb.set_params(pooling="max").transform(X)
    emb.set_params(pooling="mean")
    assert swapped.shape == (len(X), 8)
    # ... and give what an embedder fitted with that pooling gives.
    np.testing.assert_array_equal(
        swapped, AstromerEmbedder(pooling="max", **TWO_BLOCKS).fit(X).transform(X)
    )


def test_folder_saved_with_weights_alone_keeps_them(embedder, tmp_path):
    import json

    emb, X, y = embedder
    weighted = AstromerEmbedder(pooling="weighted", head_epochs=5, **TWO_BLOCKS).fit(X, y)
    folder = weighted.save(tmp_path / "model")
    meta = json.loads((folder / "config.json").read_text())
    weights = meta["extra"].pop("layer_weighting")["weights"]
    meta["extra"]["layer_weights"] = weights  # the layout of older folders
    (folder / "config.json").write_text(json.dumps(meta))
    again = AstromerEmbedder(weights=folder, max_epochs=0, pooling="weighted").fit(X)
    np.testing.assert_allclose(again.layer_weights_, weights)
    np.testing.assert_allclose(again.transform(X), weighted.transform(X), rtol=1e-4, atol=1e-5)
