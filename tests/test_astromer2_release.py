"""The Astromer 2 authors' release format, against their own code's outputs.

``shared/weights/astromer2_random.zip`` is an Astromer 2 of the released architecture
built, briefly trained and saved by the authors' TensorFlow code, laid out like the
release; ``shared/reference/astromer2_random_parity.npz`` holds their pipeline's windows,
inputs and outputs on 64 real CRTS light curves (both described in the READMEs beside
them). Only real observations are compared: padded positions are not comparable by
design. Each comparison prints its numbers (``pytest -s``).
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import pooch
import pytest
import torch

from sklearn_astromer import AstromerClassifier, AstromerEmbedder
from sklearn_astromer import weights
from sklearn_astromer._astromer2_release import (
    config_from_toml,
    map_release_tensors,
    parse_config_toml,
    release_names,
)
from sklearn_astromer._lightcurves import LightCurves
from sklearn_astromer._model import Astromer, AstromerConfig
from sklearn_astromer._preprocessing import make_windows, official_window_starts
from sklearn_astromer._tf_checkpoint import parse_index, read_tensors
from sklearn_astromer.weights import (
    PRETRAINED,
    UnverifiedWeightsWarning,
    WeightsIntegrityError,
    read_official,
    resolve_weights,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ARCHIVE = SHARED / "weights" / "astromer2_random.zip"
REFERENCE = SHARED / "reference" / "astromer2_random_parity.npz"
FOLDER = "astromer_v2/macho/"
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# Per observation, per window mean and per layer mean (the bar).
COSINE = 0.9999

pytestmark = pytest.mark.skipif(
    not ARCHIVE.is_file() or not REFERENCE.is_file(),
    reason="shared Astromer 2 fixture (weights/astromer2_random.zip, "
    "reference/astromer2_random_parity.npz) not available",
)


# --------------------------------------------------------------------------
# Helpers and fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ref():
    with np.load(REFERENCE) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.fixture(scope="module")
def release():
    """(model in eval mode, config, extra) read from the fixture archive."""
    config, state, extra = read_official(ARCHIVE)
    model = Astromer(config)
    model.load_state_dict(state)
    model.eval()
    return model, config, extra


def _cosine(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _masked_mean(values, mask):
    """Mean over real observations; ``values`` (W, L, D) or (W, K, L, D), mask (W, L)."""
    values = np.asarray(values, dtype=np.float64)
    m = mask.astype(np.float64)
    if values.ndim == 4:
        m = m[:, None]
    return (values * m[..., None]).sum(-2) / m.sum(-1)[..., None]


def _forward(model, times, mags, obs_mask):
    """All layers (W, n_layers + 1, L, D) and the reconstruction (W, L), float32."""
    with torch.no_grad():
        out = model(
            torch.as_tensor(times, dtype=torch.float32),
            torch.as_tensor(mags, dtype=torch.float32),
            torch.as_tensor(obs_mask, dtype=torch.bool),
        )
    return torch.stack(out["layers"], 1).numpy(), out["reconstruction"].numpy()


def _light_curves(ref):
    off = ref["lc_offsets"]
    return LightCurves(time=ref["lc_mjd"], mag=ref["lc_mag"], err=ref["lc_mag_err"], offsets=off)


def _report(label, cosine, error):
    print(
        f"\n{label}: cosine min {cosine.min():.9f} mean {cosine.mean():.9f}; "
        f"max |difference| {error:.3g}"
    )


def _zip_copy(tmp_path, edit=None, name="release.zip"):
    """A copy of the fixture archive, ``edit(member, data) -> data or None`` applied."""
    target = tmp_path / name
    with zipfile.ZipFile(ARCHIVE) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if edit is not None and not info.is_dir():
                data = edit(info.filename.removeprefix(FOLDER), data)
                if data is None:
                    continue
            dst.writestr(info, data)
    return target


def _edit_toml(**changes):
    def edit(member, data):
        if member != "config.toml":
            return data
        lines = []
        for line in data.decode().splitlines():
            key = line.split("=", 1)[0].strip()
            if key in changes:
                if changes[key] is None:
                    continue
                value = changes[key]
                line = f"{key} = {value!r}" if isinstance(value, str) else f"{key} = {value}"
                line = line.replace("'", '"').replace("True", "true").replace("False", "false")
            lines.append(line)
        return ("\n".join(lines) + "\n").encode()

    return edit


def _checkpoint_tensors():
    with zipfile.ZipFile(ARCHIVE) as zf:
        index = zf.read(FOLDER + "weights.index")
        data = zf.read(FOLDER + "weights.data-00000-of-00001")
    _, entries = parse_index(index)
    return entries, {0: data}


# --------------------------------------------------------------------------
# Reading the format
# --------------------------------------------------------------------------


def test_architecture_comes_from_config_toml(release, ref):
    _, config, extra = release
    conf = parse_config_toml(ref["config_toml"].item().encode(), "config.toml")
    assert config == AstromerConfig.preset(
        "astromer2",
        n_layers=int(ref["num_layers"]),
        n_heads=int(ref["num_heads"]),
        d_model=int(ref["num_heads"] * ref["head_dim"]),
        d_ff=int(ref["ffn_dim"]),
        window_length=int(ref["window_length"]),
        # What the released weights need where the paper-based preset differs.
        mask_token=False,
        hide_magnitudes=False,
    )
    info = extra["weights"]
    assert info["format"] == "astromer2-tf-checkpoint" == PRETRAINED["astromer2-macho"].format
    assert info["training_config"] == conf
    assert info["sha256"] == pooch.file_hash(str(ARCHIVE), alg="sha256")
    # The authors' code never passes pe_base / pe_exp to its encoding.
    assert config_from_toml(dict(conf, pe_base=1000, pe_exp=1)) == config


def test_every_variable_is_named_and_optimiser_entries_are_ignored(release):
    model, config, _ = release
    entries, shards = _checkpoint_tensors()
    tensors = read_tensors(entries, shards)
    names = release_names(config)
    # 6 x 20 + 6: every variable of the checkpoint maps to exactly one parameter.
    assert len(tensors) == len(names) == 126
    assert set(names.values()) == set(tensors)
    assert sum(t.size for t in tensors.values()) == model.n_parameters()
    # A checkpoint saved after Keras compile also carries optimiser state.
    entry = entries[names["head.proj.bias"]]
    extra = dict(entries)
    extra["optimizer/iter" + SUFFIX] = dataclasses.replace(entry, dtype=9, size=8)
    for name in list(names.values())[:4]:
        slot = name.removesuffix(SUFFIX) + "/.OPTIMIZER_SLOT/optimizer/m" + SUFFIX
        extra[slot] = entries[name]
    state = map_release_tensors(read_tensors(extra, shards), config, "with optimiser")
    for key, tensor in model.state_dict().items():
        torch.testing.assert_close(state[key], tensor, rtol=0, atol=0)


def test_keras_kernels_are_transposed(release, checkpoint):
    model, config, _ = release
    _, tensors = checkpoint
    kernel = tensors[release_names(config)["blocks.0.res_attn.weight"]]
    np.testing.assert_array_equal(model.blocks[0].res_attn.weight.detach().numpy(), kernel.T)


def test_unpacked_folder_loads_the_same(tmp_path, release):
    model, _, _ = release
    with zipfile.ZipFile(ARCHIVE) as zf:
        zf.extractall(tmp_path)
    for path in (tmp_path / "astromer_v2", tmp_path / FOLDER, tmp_path / FOLDER / "weights.index"):
        _, state, extra = resolve_weights(path)
        assert extra["weights"]["format"] == "astromer2-tf-checkpoint"
        for key, tensor in model.state_dict().items():
            torch.testing.assert_close(state[key], tensor, rtol=0, atol=0)


def test_config_toml_disagreeing_with_the_checkpoint_is_refused(tmp_path):
    archive = _zip_copy(tmp_path, _edit_toml(num_layers=4))
    with pytest.raises(ValueError, match=r"6 encoder block\(s\) but config.toml has num_layers = 4"):
        read_official(archive)


@pytest.fixture(scope="module")
def checkpoint():
    """(parsed config.toml, the checkpoint's model tensors) of the fixture."""
    with zipfile.ZipFile(ARCHIVE) as zf:
        conf = parse_config_toml(zf.read(FOLDER + "config.toml"), "config.toml")
    entries, shards = _checkpoint_tensors()
    return conf, read_tensors(entries, shards)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(num_layers=4), r"6 encoder block\(s\) but config.toml has num_layers = 4"),
        (dict(use_leak=False), r"has residual projections .* use_leak = false"),
        (dict(mixer=256), r"ffn/layer_with_weights-0/kernel.*shape \(256, 512\), expected \(256, 256\)"),
        (dict(num_heads=8, head_dim=32, pe_dim=256), None),
        (dict(pe_dim=128), r"pe_dim = 128 differs from num_heads \* head_dim = 256"),
        (dict(mask_format="Q"), r"mask_format = 'Q'; only 'K'"),
        (dict(m_alpha=-0.5), r"m_alpha = -0.5 is not a mask"),
        (dict(temperature=2.0), r"temperature = 2.0"),
        (dict(arch="skip"), r"arch = 'skip'"),
        (dict(num_heads=None), r"missing key\(s\) \['num_heads'\]"),
    ],
)
def test_config_disagreeing_with_the_checkpoint_is_refused(checkpoint, changes, message):
    conf, tensors = checkpoint
    conf = {k: v for k, v in dict(conf, **changes).items() if v is not None}

    def load():
        config = config_from_toml(conf)
        return config, map_release_tensors(tensors, config, "test")

    if message is None:
        # Heads split d_model differently but the tensors have the same shapes:
        # loadable, a different model (the file decides, not an assumption).
        config, _ = load()
        assert (config.n_heads, config.d_model) == (8, 256)
        return
    with pytest.raises(ValueError, match=message):
        load()


def test_missing_extra_and_misshapen_variables_are_refused(release, checkpoint):
    _, config, _ = release
    _, tensors = checkpoint
    name = release_names(config)["blocks.3.norm2.bias"]

    dropped = {k: v for k, v in tensors.items() if k != name}
    with pytest.raises(ValueError, match=r"missing 1 variable.*enc_layers/3/layernorm2/beta"):
        map_release_tensors(dropped, config, "test")
    added = dict(tensors, **{"layer_with_weights-0/msk_token/kernel" + SUFFIX: np.zeros((1, 1), np.float32)})
    with pytest.raises(ValueError, match=r"1 unexpected variable.*msk_token"):
        map_release_tensors(added, config, "test")
    reshaped = dict(tensors, **{name: np.zeros(128, np.float32)})
    with pytest.raises(ValueError, match=r"layernorm2/beta' has shape \(128,\), expected \(256,\)"):
        map_release_tensors(reshaped, config, "test")
    doubled = dict(tensors, **{name: tensors[name].astype(np.float64)})
    with pytest.raises(ValueError, match="dtype float64, expected float32"):
        map_release_tensors(doubled, config, "test")


def test_missing_or_damaged_files_are_refused(tmp_path):
    no_data = _zip_copy(tmp_path, lambda m, d: None if m.startswith("weights.data") else d, "a.zip")
    with pytest.raises(ValueError, match="no weights.data-00000-of-00001"):
        read_official(no_data)
    bad_toml = _zip_copy(tmp_path, lambda m, d: b"num_layers = [" if m == "config.toml" else d, "b.zip")
    with pytest.raises(WeightsIntegrityError, match="config.toml: .*not a readable TOML file"):
        read_official(bad_toml)

    def flip(member, data):
        if member.startswith("weights.data"):
            data = bytearray(data)
            data[1000] ^= 1
        return bytes(data)

    with pytest.raises(WeightsIntegrityError, match="fails its CRC32C check"):
        read_official(_zip_copy(tmp_path, flip, "c.zip"))


# --------------------------------------------------------------------------
# Parity with the authors' code
# --------------------------------------------------------------------------


def _sample_curves(ref):
    """Six curves covering every windowing case: the shortest (72 observations, most
    padding), both of exactly 200 (a repeated window), the first of 201-399, the one
    of 400, and the longest (473, its last window right-aligned)."""
    n = np.diff(ref["lc_offsets"])
    between = np.flatnonzero((n > 200) & (n < 400))
    return np.unique(
        np.r_[np.argmin(n), np.flatnonzero(n == 200), between[:1], np.flatnonzero(n == 400), np.argmax(n)]
    )


# Every window takes ~0.1 s per forward on two idle cores: the default run checks the
# sample of every windowing case (13 windows), ``-m slow`` all 84 windows.
@pytest.fixture(scope="module", params=["sample", pytest.param("all", marks=pytest.mark.slow)])
def windows_used(request, ref):
    """Indices of the fixture's windows a parity test compares."""
    if request.param == "all":
        return np.arange(len(ref["window_object"]))
    return np.flatnonzero(np.isin(ref["window_object"], _sample_curves(ref)))


@pytest.fixture(scope="module")
def window_outputs(release, ref, windows_used):
    """The model on the authors' own window inputs: layers (W, 7, 200, 256), reconstruction."""
    model, _, _ = release
    w = windows_used
    obs_mask = ref["window_mask_in"][w, :, 0] == 0
    return _forward(model, ref["window_times"][w, :, 0], ref["window_input"][w, :, 0], obs_mask)


def test_windows_reproduce_the_authors_outputs(window_outputs, windows_used, ref):
    layers, reconstruction = window_outputs
    w = windows_used
    real = ref["window_mask_in"][w, :, 0] == 0
    embedding, expected = layers[:, -1], ref["embedding"][w]

    per_obs = _cosine(embedding, expected)[real]
    _report(f"{len(w)} windows, per observation", per_obs, np.abs(embedding - expected)[real].max())
    assert per_obs.min() >= COSINE

    mean, mean_expected = _masked_mean(embedding, real), _masked_mean(expected, real)
    per_window = _cosine(mean, mean_expected)
    _report(f"{len(w)} windows, per-window means", per_window, np.abs(mean - mean_expected).max())
    assert per_window.min() >= COSINE

    means = _masked_mean(layers, real)  # (W, 7, 256)
    per_layer = _cosine(means, ref["layer_means"][w])
    _report(f"{len(w)} windows, per-layer means", per_layer, np.abs(means - ref["layer_means"][w]).max())
    assert per_layer.min() >= COSINE

    error = np.abs(reconstruction - ref["reconstruction"][w, :, 0])[real]
    print(f"{len(w)} windows, reconstruction: max |difference| {error.max():.3g}, mean {error.mean():.3g}")
    assert error.max() <= 1e-3


def test_every_layer_reproduces_the_authors_per_observation(window_outputs, windows_used, ref):
    layers, _ = window_outputs
    for k, w in enumerate(ref["layer_outputs_window"]):
        assert w in windows_used
        real = ref["window_mask_in"][w, :, 0] == 0
        row = np.flatnonzero(windows_used == w)[0]
        cosine = _cosine(layers[row], ref["layer_outputs"][k])[:, real]  # (7, n_real)
        assert cosine.min() >= COSINE, (w, cosine.min(axis=1))


@pytest.fixture(scope="module")
def curve_windows(ref):
    """Windows cut and centred (float64) from the raw light curves by the authors' rule."""
    lc = _light_curves(ref)
    L = int(ref["window_length"])
    starts = [official_window_starts(n, L) for n in lc.lengths]
    objects = np.repeat(np.arange(len(lc)), [len(s) for s in starts])
    return objects, np.concatenate(starts), make_windows(lc, objects, np.concatenate(starts), L)


def test_window_rule_matches_the_authors(curve_windows, ref):
    objects, starts, windows = curve_windows
    np.testing.assert_array_equal(objects, ref["window_object"])
    np.testing.assert_array_equal(starts, ref["window_start"])
    np.testing.assert_array_equal(windows.obs_mask.sum(1), ref["window_n_obs"])
    np.testing.assert_array_equal(windows.obs_mask, ref["window_mask_in"][..., 0] == 0)
    # Their window means are float32 sums of MJD ~ 5.5e4: off by up to ~0.1 d.
    np.testing.assert_allclose(windows.times, ref["window_times"][..., 0], atol=0.25)
    np.testing.assert_allclose(windows.mags, ref["window_input"][..., 0], atol=1e-4)


def test_light_curves_reproduce_the_authors_outputs(release, curve_windows, windows_used, ref):
    model, _, _ = release
    _, _, windows = curve_windows
    w = windows_used
    real = windows.obs_mask[w]
    layers, reconstruction = _forward(model, windows.times[w], windows.mags[w], real)
    embedding, expected = layers[:, -1], ref["embedding"][w]

    per_obs = _cosine(embedding, expected)[real]
    _report(f"{len(w)} windows from light curves, per observation", per_obs,
            np.abs(embedding - expected)[real].max())
    assert per_obs.min() >= COSINE

    mean, mean_expected = _masked_mean(embedding, real), _masked_mean(expected, real)
    per_window = _cosine(mean, mean_expected)
    _report(f"{len(w)} windows from light curves, per-window means", per_window,
            np.abs(mean - mean_expected).max())
    assert per_window.min() >= COSINE

    means = _masked_mean(layers, real)
    per_layer = _cosine(means, ref["layer_means"][w])
    _report(f"{len(w)} windows from light curves, per-layer means", per_layer,
            np.abs(means - ref["layer_means"][w]).max())
    assert per_layer.min() >= COSINE

    error = np.abs(reconstruction - ref["reconstruction"][w, :, 0])[real]
    print(f"{len(w)} windows from light curves, reconstruction: max |difference| "
          f"{error.max():.3g}, mean {error.mean():.3g}")
    assert error.max() <= 1e-2


@pytest.mark.parametrize("curves", ["sample", pytest.param("all", marks=pytest.mark.slow)])
def test_embedder_on_the_fixture_matches_the_window_means(ref, curves):
    """Every light curve of at most 200 observations (``-m slow``; the sample's three
    by default) embeds as the authors' window mean."""
    off = ref["lc_offsets"]
    lengths = np.diff(off)
    short = np.flatnonzero(lengths <= int(ref["window_length"]))
    if curves == "sample":
        short = np.intersect1d(short, _sample_curves(ref))
    X = [np.c_[ref["lc_mjd"][off[k] : off[k + 1]], ref["lc_mag"][off[k] : off[k + 1]],
               ref["lc_mag_err"][off[k] : off[k + 1]]] for k in short]
    emb = AstromerEmbedder(weights=ARCHIVE, max_epochs=0).fit(X)
    assert (emb.config_.n_layers, emb.config_.residual) == (6, True)
    Z = emb.transform(X)
    # A curve's first window is its only distinct one (a curve of exactly 200
    # observations repeats it).
    first = np.array([np.flatnonzero(ref["window_object"] == k)[0] for k in short])
    real = ref["window_mask_in"][first, :, 0] == 0
    expected = _masked_mean(ref["embedding"][first], real)
    cosine = _cosine(Z, expected)
    _report(f"embedder, {len(short)} curves of <= 200 observations", cosine, np.abs(Z - expected).max())
    assert cosine.min() >= COSINE


# --------------------------------------------------------------------------
# Training behaviour of the release, and the classifier's skip head
# --------------------------------------------------------------------------


def test_hidden_magnitudes_reach_the_release_but_not_the_preset(release):
    """Released Astromer 2: hidden magnitudes stay in the input (the token never acts)."""
    model, config, _ = release
    torch.manual_seed(0)
    times = torch.linspace(-100, 100, 50)[None]
    mags = torch.randn(1, 50)
    obs = torch.ones(1, 50, dtype=torch.bool)
    hidden = torch.zeros(1, 50, dtype=torch.bool)
    hidden[0, 10] = True
    altered = mags.clone()
    altered[0, 10] += 1.0
    with torch.no_grad():
        # The first block's output: later LayerNorms shrink the change (random weights).
        before = model(times, mags, obs, hidden)["layers"][1]
        after = model(times, altered, obs, hidden)["layers"][1]
        # Only the hidden position itself sees its magnitude: as a key it is masked.
        change = (after - before).abs().amax(-1)[0]
        assert change[10] > 1e-3
        assert change[torch.arange(50) != 10].max() == 0
        hiding = Astromer(dataclasses.replace(config, hide_magnitudes=True))
        hiding.load_state_dict(model.state_dict())
        hiding.eval()
        torch.testing.assert_close(
            hiding(times, mags, obs, hidden)["layers"][1],
            hiding(times, altered, obs, hidden)["layers"][1],
            rtol=0,
            atol=0,
        )
    with pytest.raises(ValueError, match="mask_token=True needs hide_magnitudes=True"):
        dataclasses.replace(config, mask_token=True)


def test_estimators_can_withhold_hidden_magnitudes_from_the_release(ref):
    off = ref["lc_offsets"]
    X = [np.c_[ref["lc_mjd"][a:b], ref["lc_mag"][a:b], ref["lc_mag_err"][a:b]]
         for a, b in zip(off[:3], off[1:4])]
    released = AstromerEmbedder(weights=ARCHIVE, max_epochs=0).fit(X)
    assert not released.config_.hide_magnitudes
    hiding = AstromerEmbedder(weights=ARCHIVE, max_epochs=0,
                              architecture={"hide_magnitudes": True}).fit(X)
    assert hiding.config_ == dataclasses.replace(released.config_, hide_magnitudes=True)
    # Training only: with nothing hidden the embeddings are the same.
    np.testing.assert_array_equal(hiding.transform(X), released.transform(X))
    with pytest.raises(ValueError, match="fixed architecture"):
        AstromerEmbedder(weights=ARCHIVE, max_epochs=0, architecture={"residual": False}).fit(X)


def test_classifier_weights_all_seven_layers(ref):
    off = ref["lc_offsets"]
    # The twelve shortest curves: one window each, the least padding to compute.
    shortest = np.argsort(np.diff(off), kind="stable")[:12]
    X = [np.c_[ref["lc_mjd"][off[k]:off[k + 1]], ref["lc_mag"][off[k]:off[k + 1]],
               ref["lc_mag_err"][off[k]:off[k + 1]]] for k in shortest]
    y = np.array(["a", "b", "c"] * 4)
    clf = AstromerClassifier(weights=ARCHIVE, max_epochs=0, hidden_layer_sizes=(8,),
                             head_epochs=1, random_state=0).fit(X, y)
    # The input embedding plus the 6 blocks, as the Astromer 2 paper's "skip" head.
    assert clf.layer_weights_.shape == (7,)
    assert clf.head_.gamma.shape == (7,)


# --------------------------------------------------------------------------
# The registered name: download verified against the Zenodo record
# --------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def record(tmp_path, monkeypatch):
    """A local stand-in for the Zenodo record: serves the fixture as the release file.

    pooch's own download and checksum check run; only the record's API, which
    lists each file's MD5, is replaced by ``checksums`` (filename -> "md5:...").
    """
    served = tmp_path / "served"
    served.mkdir()
    entry = PRETRAINED["astromer2-macho"]
    shutil.copy(ARCHIVE, served / entry.filename)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    checksums = {entry.filename: "md5:" + pooch.file_hash(str(ARCHIVE), alg="md5")}
    asked = []
    create = pooch.create

    def local_create(path, base_url, registry=None, **kwargs):
        asked.append(base_url)
        return create(path=path, base_url=url, registry=registry, **kwargs)

    def from_record(self):
        self.registry.update(checksums)

    monkeypatch.setattr(pooch, "create", local_create)
    monkeypatch.setattr(pooch.Pooch, "load_registry_from_doi", from_record)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    home, cache = tmp_path / "home", tmp_path / "cache"
    monkeypatch.setenv(weights.HOME_ENV, str(home))
    monkeypatch.setenv(weights.CACHE_ENV, str(cache))
    try:
        yield entry, checksums, asked, home, cache
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_registered_name_downloads_verified_against_the_record(record, release):
    entry, _, asked, _, cache = record
    model, _, _ = release
    config, state, extra = resolve_weights("astromer2-macho")
    assert asked == ["doi:10.5281/zenodo.18207945/"]
    assert extra["weights"]["name"] == "astromer2-macho"
    for key, tensor in model.state_dict().items():
        torch.testing.assert_close(state[key], tensor, rtol=0, atol=0)
    recorded = cache / (entry.filename + ".sha256")
    assert recorded.read_text().strip() == pooch.file_hash(str(ARCHIVE), alg="sha256")
    # Later loads are offline and checked against the recorded SHA-256.
    (cache / entry.filename).write_bytes(b"garbage")
    with pytest.raises(WeightsIntegrityError, match="SHA-256 recorded when it was verified"):
        weights.fetch_pretrained("astromer2-macho")


def test_download_that_differs_from_the_record_is_refused(record):
    entry, checksums, _, _, cache = record
    checksums[entry.filename] = "md5:" + "0" * 32
    with pytest.raises(WeightsIntegrityError, match="could not be verified against the checksum"):
        resolve_weights("astromer2-macho")
    assert not (cache / entry.filename).exists()


def test_copy_put_in_place_by_hand_loads_with_instructions(record):
    entry, _, asked, home, _ = record
    home.mkdir()
    shutil.copy(ARCHIVE, home / entry.filename)
    with pytest.warns(UnverifiedWeightsWarning) as caught:
        resolve_weights("astromer2-macho")
    message = str(caught[0].message)
    assert pooch.file_hash(str(ARCHIVE), alg="md5") in message
    assert "https://doi.org/10.5281/zenodo.18207945" in message
    assert str(home / (entry.filename + ".sha256")) in message
    assert asked == []
