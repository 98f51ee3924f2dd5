"""The estimators on the released weights, against the official outputs."""

from pathlib import Path

import numpy as np
import pytest

from sklearn_astromer import AstromerClassifier, AstromerEmbedder


@pytest.fixture(scope="module")
def reference(shared_dir):
    path = shared_dir.parent / "reference" / "astromer1_macho_parity.npz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return np.load(path)


def _light_curves(ref):
    off = ref["lc_offsets"]
    return [
        np.c_[ref["lc_mjd"][a:b], ref["lc_mag"][a:b], ref["lc_mag_err"][a:b]]
        for a, b in zip(off[:-1], off[1:])
    ]


def _official_object_means(ref, n_objects):
    """Mean of the official per-observation embeddings per window, averaged
    over each object's distinct windows (the package's object embedding)."""
    real = ref["window_mask_in"][..., 0] == 0
    means = (ref["embedding"] * real[..., None]).sum(1) / real.sum(1, keepdims=True)
    out = []
    for k in range(n_objects):
        rows = np.flatnonzero(ref["window_object"] == k)
        # A curve whose length is a multiple of 200 repeats its last window.
        distinct = np.unique(means[rows].round(4), axis=0, return_index=True)[1]
        out.append(means[rows[np.sort(distinct)]].mean(0))
    return np.array(out)


def test_default_embedder_is_the_released_macho_model(reference):
    X = _light_curves(reference)
    emb = AstromerEmbedder(max_epochs=0).fit(X)
    assert emb.config_.n_layers == 2 and emb.config_.d_model == 256
    Z = emb.transform(X)
    expected = _official_object_means(reference, len(X))
    cos = (Z * expected).sum(1) / np.linalg.norm(Z, axis=1) / np.linalg.norm(expected, axis=1)
    assert cos.min() > 0.9999


def test_classifier_starts_from_released_weights(reference):
    X = _light_curves(reference)
    y = np.array(["a", "b", "c"] * 7)
    clf = AstromerClassifier(max_epochs=0, hidden_layer_sizes=(16,), head_epochs=2, random_state=0).fit(X, y)
    emb = AstromerEmbedder(max_epochs=0).fit(X)
    for name, tensor in emb.module_.state_dict().items():
        np.testing.assert_array_equal(clf.module_.state_dict()[name].numpy(), tensor.numpy())


def test_released_weights_are_converted_into_the_temporary_cache():
    from sklearn_astromer import weights

    cache = weights.get_cache_dir()
    # conftest's session cache: never the user's cache nor the shared archives' folder.
    assert Path.home() / ".cache" not in cache.parents
    assert cache.resolve() != weights.get_weights_home().resolve()
    weights.resolve_weights("macho")
    converted = cache / "converted" / weights.PRETRAINED["macho"].sha256
    assert (converted / "model.safetensors").is_file()


def test_saved_embedder_with_a_flipped_byte_is_refused(reference, tmp_path):
    from sklearn_astromer.weights import WeightsIntegrityError

    X = _light_curves(reference)[:3]
    folder = AstromerEmbedder(max_epochs=0).fit(X).save(tmp_path / "saved")
    again = AstromerEmbedder(weights=folder, max_epochs=0).fit(X)
    released = AstromerEmbedder(max_epochs=0).fit(X)
    np.testing.assert_array_equal(again.transform(X), released.transform(X))
    tensors = Path(folder) / "model.safetensors"
    data = bytearray(tensors.read_bytes())
    data[len(data) // 2] ^= 0x01
    tensors.write_bytes(bytes(data))
    message = r"model\.safetensors: SHA-256 .* recorded in config\.json"
    with pytest.raises(WeightsIntegrityError, match=message):
        AstromerEmbedder(weights=folder, max_epochs=0).fit(X)
