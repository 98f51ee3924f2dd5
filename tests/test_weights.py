"""Released weights: registry, readers, name tables, cache and download."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import threading
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pooch
import pytest
import torch

from sklearn_astromer import weights
from sklearn_astromer._io import load_model, save_model
from sklearn_astromer._model import Astromer, AstromerConfig
from sklearn_astromer._tf_checkpoint import (
    parse_index,
    read_checkpoint,
    read_tensors,
)
from sklearn_astromer.weights import (
    PRETRAINED,
    UnverifiedWeightsWarning,
    WeightsIntegrityError,
    fetch_pretrained,
    list_pretrained,
    read_official,
    resolve_weights,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WEIGHTS_DIR = SHARED / "weights"
N_PARAMETERS = 661_505

pytestmark = pytest.mark.skipif(
    not WEIGHTS_DIR.is_dir(), reason="shared/weights (official archives) not available"
)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Point the weights home and the user cache into the test's own folder."""
    home = tmp_path / "home"
    user = tmp_path / "user-cache"
    monkeypatch.setenv(weights.HOME_ENV, str(home))
    # The defaults are tested here: no separate cache folder (conftest sets one).
    monkeypatch.delenv(weights.CACHE_ENV, raising=False)
    monkeypatch.setattr(weights, "_user_cache", lambda: user)
    # A local test server must not be reached through a proxy.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return home, user


def _archive(name):
    return WEIGHTS_DIR / PRETRAINED[name].filename


def _unpack(name, dest):
    with zipfile.ZipFile(_archive(name)) as zf:
        zf.extractall(dest)
    return dest / ("macho" if name == "macho" else "atlas")


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype == torch.float32, key
        assert torch.equal(a[key], b[key]), key


def _expected_shapes():
    model = Astromer(AstromerConfig.preset("astromer1"))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------


def test_registry_lists_the_released_archives():
    assert list_pretrained()[:3] == ["macho", "atlas", "astromer2-macho"]
    for name, entry in PRETRAINED.items():
        assert entry.name == name
        assert entry.url.startswith("https://") and entry.url.endswith(entry.filename)
        # Without a published SHA-256, the record's DOI verifies a download.
        if entry.sha256 is None:
            assert entry.doi.startswith("10.5281/zenodo.")
        else:
            assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
    for name in ("macho", "atlas"):
        assert PRETRAINED[name].preset == "astromer1"
    assert PRETRAINED["macho"].format == "tf-checkpoint"
    assert PRETRAINED["atlas"].format == "keras-h5"
    assert PRETRAINED["astromer2-macho"].format == "astromer2-tf-checkpoint"
    assert PRETRAINED["astromer2-macho"].preset == "astromer2"


@pytest.mark.parametrize("name", ["macho", "atlas"])
def test_shared_archives_match_registry(name):
    assert pooch.file_hash(str(_archive(name))) == PRETRAINED[name].sha256


# --------------------------------------------------------------------------
# Loading the official archives
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["macho", "atlas"])
def test_official_archive_loads_exactly(name):
    config, state, extra = read_official(_archive(name))
    assert config == AstromerConfig.preset("astromer1")
    assert {k: tuple(v.shape) for k, v in state.items()} == _expected_shapes()
    assert sum(v.numel() for v in state.values()) == N_PARAMETERS
    assert all(v.dtype == torch.float32 and v.is_contiguous() for v in state.values())
    info = extra["weights"]
    assert info["name"] == name
    assert info["sha256"] == PRETRAINED[name].sha256
    assert info["format"] == PRETRAINED[name].format
    assert info["training_config"]["head_dim"] == 256
    model = Astromer(config)
    model.load_state_dict(state, strict=True)
    assert model.n_parameters() == N_PARAMETERS


def test_keras_kernels_are_transposed(tmp_path):
    folder = _unpack("macho", tmp_path)
    raw = read_checkpoint(folder / "weights")
    _, state, _ = read_official(folder)
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    wq = raw["layer_with_weights-0/enc_layers/1/mha/wq/kernel" + suffix]
    np.testing.assert_array_equal(state["blocks.1.attn.q.weight"].numpy(), wq.T)
    proj = raw["layer_with_weights-0/inp_transform/kernel" + suffix]  # (1, 256)
    np.testing.assert_array_equal(state["input_proj.weight"].numpy(), proj.T)
    gamma = raw["layer_with_weights-1/bn_0/gamma" + suffix]
    np.testing.assert_array_equal(state["head.norm.weight"].numpy(), gamma)


def test_zip_folder_cache_and_saved_model_agree(tmp_path, isolated_cache):
    home, _ = isolated_cache
    for name in ("macho", "atlas"):
        _, from_zip, _ = read_official(_archive(name))
        unpacked = tmp_path / f"unpacked-{name}"
        folder = _unpack(name, unpacked)
        _, from_folder, _ = resolve_weights(folder)
        # The folder the archive was unpacked into works as well.
        _, from_parent, _ = resolve_weights(unpacked)
        config, converting, extra = resolve_weights(_archive(name))
        cached = home / "converted" / PRETRAINED[name].sha256
        assert (cached / "model.safetensors").is_file()
        _, from_cache, extra_cached = resolve_weights(_archive(name))
        saved = save_model(tmp_path / f"saved-{name}", config, from_zip, extra)
        _, from_saved, _ = resolve_weights(saved)
        for other in (from_folder, from_parent, converting, from_cache, from_saved):
            _assert_same_state(from_zip, other)
        assert extra_cached == extra


def test_cached_conversion_is_used(monkeypatch, isolated_cache):
    home, _ = isolated_cache
    home.mkdir()
    shutil.copy(_archive("atlas"), home)
    first = resolve_weights("atlas")

    def no_reading(*args, **kwargs):
        raise AssertionError("the archive was read although a converted copy exists")

    monkeypatch.setattr(weights, "_read_zip", no_reading)
    second = resolve_weights("atlas")
    _assert_same_state(first[1], second[1])
    assert first[0] == second[0] and first[2] == second[2]


def test_damaged_cache_is_converted_again(isolated_cache):
    home, _ = isolated_cache
    home.mkdir()
    shutil.copy(_archive("macho"), home)
    _, state, _ = resolve_weights("macho")
    tensors = home / "converted" / PRETRAINED["macho"].sha256 / "model.safetensors"
    tensors.write_bytes(b"not a safetensors file")
    with pytest.warns(UserWarning, match="damaged converted copy.*SHA-256"):
        _, again, _ = resolve_weights("macho")
    _assert_same_state(state, again)
    assert tensors.stat().st_size > N_PARAMETERS * 4


@pytest.fixture
def read_only_weights(tmp_path):
    """The shared archives in a folder marked read-only.

    The shared folder itself when it is so marked (as in CI); otherwise a
    read-only copy, so that the test never writes into shared/.
    """
    if not weights._writable(WEIGHTS_DIR):
        yield WEIGHTS_DIR
        return
    folder = tmp_path / "read-only-weights"
    folder.mkdir()
    for name in ("macho", "atlas"):
        shutil.copy(_archive(name), folder)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def test_home_with_shared_archives_works_offline(monkeypatch, isolated_cache, read_only_weights):
    _, user = isolated_cache
    monkeypatch.setenv(weights.HOME_ENV, str(read_only_weights))

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(pooch, "retrieve", no_download)
    before = sorted(os.listdir(read_only_weights))
    for name in ("macho", "atlas"):
        filename = PRETRAINED[name].filename
        assert fetch_pretrained(name) == read_only_weights / filename
        config, state, extra = resolve_weights(name)
        assert config == AstromerConfig.preset("astromer1")
        assert sum(v.numel() for v in state.values()) == N_PARAMETERS
        assert extra["weights"]["name"] == name
    # The read-only home is left alone: conversions go to the user cache.
    assert sorted(os.listdir(read_only_weights)) == before
    assert sorted(p.name for p in (user / "converted").iterdir()) == sorted(
        PRETRAINED[name].sha256 for name in ("macho", "atlas")
    )


def test_weight_files_can_be_named_directly(tmp_path):
    _, reference, _ = read_official(_archive("macho"))
    _, state, _ = resolve_weights(_unpack("macho", tmp_path / "m") / "weights.index")
    _assert_same_state(reference, state)
    _, reference, _ = read_official(_archive("atlas"))
    _, state, _ = resolve_weights(_unpack("atlas", tmp_path / "a") / "weights.h5")
    _assert_same_state(reference, state)


# --------------------------------------------------------------------------
# Refusing files that do not hold exactly the expected tensors
# --------------------------------------------------------------------------


def _edit_h5(folder, edit):
    with h5py.File(folder / "weights.h5", "r+") as f:
        edit(f)


# Edited files are no longer the released one: the "not verified" warning is expected.
@pytest.mark.filterwarnings("ignore::sklearn_astromer.weights.UnverifiedWeightsWarning")
def test_missing_extra_and_misshapen_h5_tensors_are_refused(tmp_path):
    ln = "encoder/encoder/encoder_layer_1/layer_normalization_3/gamma:0"
    wq = "encoder/encoder/encoder_layer/multi_head_attention/WQ/kernel:0"

    missing = _unpack("atlas", tmp_path / "missing")
    _edit_h5(missing, lambda f: f.__delitem__(ln))
    with pytest.raises(ValueError, match=r"missing tensor.*layer_normalization_3/gamma"):
        resolve_weights(missing)

    extra = _unpack("atlas", tmp_path / "extra")
    _edit_h5(extra, lambda f: f.create_dataset("encoder/dense_5/kernel:0", data=np.zeros((2, 2))))
    with pytest.raises(ValueError, match=r"unexpected tensor.*dense_5/kernel"):
        resolve_weights(extra)

    def truncate_wq(f):
        value = f[wq][()]
        del f[wq]
        f.create_dataset(wq, data=value[:, :128])

    misshapen = _unpack("atlas", tmp_path / "misshapen")
    _edit_h5(misshapen, truncate_wq)
    message = r"WQ/kernel:0.*shape \(256, 128\), expected \(256, 256\)"
    with pytest.raises(ValueError, match=message):
        resolve_weights(misshapen)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("drop", r"missing tensor.*bn_0/beta"),
        ("add", r"unexpected tensor.*reg_layer_2/kernel"),
        ("reshape", r"ffn/layer_with_weights-1/kernel.*shape \(256, 128\), expected \(128, 256\)"),
    ],
)
def test_missing_extra_and_misshapen_checkpoint_tensors_are_refused(tmp_path, edit, message):
    tensors = read_checkpoint(_unpack("macho", tmp_path) / "weights")
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    if edit == "drop":
        del tensors["layer_with_weights-1/bn_0/beta" + suffix]
    elif edit == "add":
        tensors["layer_with_weights-1/reg_layer_2/kernel" + suffix] = np.zeros((256, 1))
    else:
        name = "layer_with_weights-0/enc_layers/0/ffn/layer_with_weights-1/kernel" + suffix
        tensors[name] = tensors[name].T
    config = AstromerConfig.preset("astromer1")
    with pytest.raises(ValueError, match=message):
        weights._map_tensors(tensors, weights._tf_names(2), config, "test checkpoint")


def test_configuration_disagreeing_with_tensors_is_refused(tmp_path):
    folder = _unpack("macho", tmp_path)
    conf = json.loads((folder / "conf.json").read_text())
    conf["dff"] = 64
    (folder / "conf.json").write_text(json.dumps(conf))
    with pytest.raises(ValueError, match=r"ffn/layer_with_weights-0/kernel.*expected \(256, 64\)"):
        resolve_weights(folder)


def test_unrecognised_inputs_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a pretrained name"):
        resolve_weights("no-such-weights")
    with pytest.raises(ValueError, match="unknown pretrained weights"):
        fetch_pretrained("no-such-weights")
    not_zip = tmp_path / "weights.bin"
    not_zip.write_bytes(b"\0" * 64)
    with pytest.raises(ValueError, match="not a zip archive"):
        resolve_weights(not_zip)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="neither a saved sklearn-astromer model"):
        resolve_weights(empty)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("something/readme.txt", "hello")
    with pytest.raises(ValueError, match="not an official Astromer weights archive"):
        resolve_weights(other_zip)


# --------------------------------------------------------------------------
# Tensor bundle reader
# --------------------------------------------------------------------------


@pytest.fixture
def macho_bundle(tmp_path):
    folder = _unpack("macho", tmp_path)
    index = (folder / "weights.index").read_bytes()
    data = (folder / "weights.data-00000-of-00001").read_bytes()
    return index, data


def test_bundle_reader_skips_bookkeeping(macho_bundle):
    index, data = macho_bundle
    num_shards, entries = parse_index(index)
    assert num_shards == 1
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in entries
    tensors = read_tensors(entries, {0: data})
    assert len(tensors) == len(entries) - 1 == 38
    assert all(name.endswith("/.ATTRIBUTES/VARIABLE_VALUE") for name in tensors)
    assert sum(t.size for t in tensors.values()) == N_PARAMETERS
    assert all(t.dtype == np.float32 and t.flags.writeable for t in tensors.values())


def test_bundle_reader_refuses_malformed_files(macho_bundle):
    index, data = macho_bundle
    with pytest.raises(ValueError, match="bad table magic"):
        parse_index(index[:-1] + b"\0", verify=False)
    with pytest.raises(ValueError, match="too short"):
        parse_index(b"\0" * 10)
    _, entries = parse_index(index)
    with pytest.raises(ValueError, match="outside its data shard"):
        read_tensors(entries, {0: data[: len(data) // 2]}, verify=False)
    with pytest.raises(ValueError, match="missing shard 0"):
        read_tensors(entries, {}, verify=False)


def test_bundle_reader_refuses_compressed_blocks(macho_bundle):
    index, _ = macho_bundle
    # The index block's trailer sits just before the 48-byte footer; its
    # first byte is the compression type.
    trailer = len(index) - 48 - 5
    tampered = bytearray(index)
    tampered[trailer] = 1
    with pytest.raises(ValueError, match="compressed"):
        parse_index(bytes(tampered), verify=False)


def test_bundle_checksums_are_verified(macho_bundle):
    index, data = macho_bundle
    _, entries = parse_index(index)
    entry = entries["layer_with_weights-1/reg_layer/bias/.ATTRIBUTES/VARIABLE_VALUE"]
    tampered = bytearray(data)
    tampered[entry.offset] ^= 0x01
    # Verification is on by default (google-crc32c is a dependency).
    with pytest.raises(ValueError, match="reg_layer/bias.*CRC32C"):
        read_tensors(entries, {0: bytes(tampered)})
    # Skipping verification reads the altered value.
    read_tensors(entries, {0: bytes(tampered)}, verify=False)
    bad_index = bytearray(index)
    bad_index[index.find(b"bn_0")] ^= 0x20
    with pytest.raises(ValueError, match="index block fails its CRC32C"):
        parse_index(bytes(bad_index))


# --------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving copies of the official archives."""
    served = tmp_path / "served"
    served.mkdir()
    for name in ("macho", "atlas"):
        shutil.copy(_archive(name), served)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _serve_from(monkeypatch, name, url, **changes):
    entry = replace(PRETRAINED[name], url=url, **changes)
    monkeypatch.setitem(PRETRAINED, name, entry)
    return entry


def test_download_is_checked_and_cached(monkeypatch, local_server, isolated_cache):
    home, _ = isolated_cache
    entry = _serve_from(monkeypatch, "atlas", f"{local_server}/atlas.zip")
    config, state, extra = resolve_weights("atlas")
    assert (home / entry.filename).is_file()
    assert pooch.file_hash(str(home / entry.filename)) == entry.sha256
    assert extra["weights"]["name"] == "atlas"
    _, reference, _ = read_official(_archive("atlas"))
    _assert_same_state(reference, state)
    # Once converted, the archive itself is no longer needed.
    (home / entry.filename).unlink()
    _, again, _ = resolve_weights("atlas")
    _assert_same_state(reference, again)


def test_download_with_wrong_checksum_is_refused(monkeypatch, local_server, isolated_cache):
    home, _ = isolated_cache
    # The server hands out the ATLAS archive where the MACHO one is expected.
    _serve_from(monkeypatch, "macho", f"{local_server}/atlas.zip")
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        resolve_weights("macho")
    assert not (home / PRETRAINED["macho"].filename).exists()


def test_local_file_with_wrong_checksum_is_refused(isolated_cache):
    home, _ = isolated_cache
    home.mkdir()
    shutil.copy(_archive("atlas"), home / PRETRAINED["macho"].filename)
    with pytest.raises(ValueError, match="does not have the SHA-256 of the 'macho' weights"):
        resolve_weights("macho")


def _closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_network_gives_a_clear_message(monkeypatch, isolated_cache):
    home, _ = isolated_cache
    url = f"http://127.0.0.1:{_closed_port()}/macho_a0.zip"
    _serve_from(monkeypatch, "macho", url)
    with pytest.raises(OSError, match="could not download") as info:
        resolve_weights("macho")
    message = str(info.value)
    assert url in message
    assert str(home / "macho_a0.zip") in message
    assert weights.HOME_ENV in message


# --------------------------------------------------------------------------
# Integrity: damaged, altered or truncated files are refused or repaired
# --------------------------------------------------------------------------


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _member_data_offset(archive, member):
    """Offset of the first byte of ``member``'s (compressed) data in the zip."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    raw = archive.read_bytes()
    name_len, extra_len = np.frombuffer(raw, "<u2", 2, info.header_offset + 26)
    return info.header_offset + 30 + int(name_len) + int(extra_len)


def test_tampered_registered_archive_is_refused(isolated_cache):
    home, _ = isolated_cache
    home.mkdir()
    copy = home / PRETRAINED["macho"].filename
    shutil.copy(_archive("macho"), copy)
    _flip(copy, copy.stat().st_size // 2)
    with pytest.raises(WeightsIntegrityError, match=r"macho_a0\.zip: does not have the SHA-256"):
        resolve_weights("macho")
    # Truncated (a download cut short): the same error, naming the file.
    copy.write_bytes(_archive("macho").read_bytes()[:100_000])
    with pytest.raises(WeightsIntegrityError, match="Delete it to download it again"):
        resolve_weights("macho")


@pytest.mark.parametrize("name", ["macho", "atlas"])
def test_archive_by_path_with_altered_tensor_bytes_is_refused(tmp_path, name):
    copy = tmp_path / f"my-{name}.zip"
    shutil.copy(_archive(name), copy)
    member = "macho/weights.data-00000-of-00001" if name == "macho" else "atlas/weights.h5"
    _flip(copy, _member_data_offset(copy, member) + 1000)
    # The member's CRC-32 (or its deflate stream) no longer matches.
    with pytest.raises(WeightsIntegrityError, match=rf"my-{name}\.zip: not a readable zip archive"):
        resolve_weights(copy)


def test_archive_by_path_named_like_a_release_but_altered_warns(tmp_path):
    copy = tmp_path / "macho_a0.zip"
    shutil.copy(_archive("macho"), copy)
    _flip(copy, _member_data_offset(copy, "macho/weights.data-00000-of-00001") + 1000)
    with pytest.warns(UserWarning, match="file name of the released 'macho' weights"):
        with pytest.raises(WeightsIntegrityError):
            resolve_weights(copy)


def test_truncated_zip_is_refused(tmp_path):
    truncated = tmp_path / "atlas.zip"
    truncated.write_bytes(_archive("atlas").read_bytes()[:-1000])
    with pytest.raises(WeightsIntegrityError, match=r"atlas\.zip: not a zip archive, or a damaged"):
        resolve_weights(truncated)
    with pytest.raises(WeightsIntegrityError, match="not a readable zip archive"):
        read_official(truncated)


def test_altered_checkpoint_tensor_in_a_folder_is_refused(tmp_path):
    folder = _unpack("macho", tmp_path)
    _, entries = parse_index((folder / "weights.index").read_bytes())
    entry = entries["layer_with_weights-0/enc_layers/1/mha/wq/kernel/.ATTRIBUTES/VARIABLE_VALUE"]
    _flip(folder / "weights.data-00000-of-00001", entry.offset + 17)
    message = r"weights\.data-\*: .*wq/kernel.*fails its CRC32C"
    with pytest.raises(WeightsIntegrityError, match=message):
        resolve_weights(folder)


def test_garbled_or_truncated_h5_is_refused(tmp_path):
    folder = _unpack("atlas", tmp_path)
    h5 = folder / "weights.h5"
    h5.write_bytes(h5.read_bytes()[:5000])
    with pytest.warns(UnverifiedWeightsWarning, match="stores no checksum"):
        with pytest.raises(WeightsIntegrityError, match=r"weights\.h5: not a readable HDF5 file"):
            resolve_weights(folder)
    h5.write_bytes(b"garbage" * 100)
    with pytest.warns(UnverifiedWeightsWarning):
        with pytest.raises(WeightsIntegrityError, match="not a readable HDF5 file"):
            resolve_weights(folder)


def test_unpacked_h5_is_verified_when_released_else_warned(tmp_path):
    folder = _unpack("atlas", tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, released, _ = resolve_weights(folder)
    # Same tensors, other bytes (a user's own file): loaded, with a warning.
    _edit_h5(folder, lambda f: f.attrs.__setitem__("note", "mine"))
    message = r"weights\.h5: a Keras HDF5 file stores no checksum"
    with pytest.warns(UnverifiedWeightsWarning, match=message):
        _, own, _ = resolve_weights(folder)
    _assert_same_state(released, own)


def test_tampered_cache_of_an_archive_by_path_is_rebuilt(isolated_cache):
    home, _ = isolated_cache
    _, reference, _ = resolve_weights(_archive("atlas"))
    cached = home / "converted" / PRETRAINED["atlas"].sha256
    _flip(cached / "model.safetensors", (cached / "model.safetensors").stat().st_size - 100)
    with pytest.warns(UserWarning, match=r"damaged converted copy.*model\.safetensors: SHA-256"):
        _, again, _ = resolve_weights(_archive("atlas"))
    _assert_same_state(reference, again)
    # Repaired in place: the next load is silent.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, third, _ = resolve_weights(_archive("atlas"))
    _assert_same_state(reference, third)


def test_cache_without_checksums_is_converted_again(isolated_cache):
    home, _ = isolated_cache
    _, reference, _ = resolve_weights(_archive("macho"))
    config_file = home / "converted" / PRETRAINED["macho"].sha256 / "config.json"
    meta = json.loads(config_file.read_text())
    del meta["sha256"]  # as an earlier version wrote it
    config_file.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="damaged converted copy.*records no checksums"):
        _, again, _ = resolve_weights(_archive("macho"))
    _assert_same_state(reference, again)
    assert "sha256" in json.loads(config_file.read_text())


def test_converted_cache_has_ordinary_permissions(isolated_cache):
    home, _ = isolated_cache
    resolve_weights(_archive("macho"))
    umask = os.umask(0)
    os.umask(umask)
    cached = home / "converted" / PRETRAINED["macho"].sha256
    for folder in (home / "converted", cached):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
    for file in cached.iterdir():
        assert file.stat().st_mode & 0o777 == 0o666 & ~umask
    # No temporary folders are left behind.
    assert [p.name for p in (home / "converted").iterdir()] == [cached.name]


def test_separate_cache_setting_keeps_home_untouched(monkeypatch, tmp_path, read_only_weights):
    cache = tmp_path / "cache"
    monkeypatch.setenv(weights.HOME_ENV, str(read_only_weights))
    monkeypatch.setenv(weights.CACHE_ENV, str(cache))
    assert weights.get_cache_dir() == cache
    before = sorted(os.listdir(read_only_weights))
    resolve_weights("atlas")
    assert sorted(os.listdir(read_only_weights)) == before
    assert [p.name for p in (cache / "converted").iterdir()] == [PRETRAINED["atlas"].sha256]


@pytest.fixture
def saved_folder(tmp_path):
    config, state, extra = read_official(_archive("macho"))
    return save_model(tmp_path / "saved", config, state, extra), state


def test_saved_folder_records_and_checks_sha256(saved_folder):
    folder, state = saved_folder
    meta = json.loads((folder / "config.json").read_text())
    assert meta["sha256"]["model.safetensors"] == pooch.file_hash(str(folder / "model.safetensors"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, loaded, _ = resolve_weights(folder)
    _assert_same_state(state, loaded)


def test_saved_folder_with_a_flipped_byte_is_refused(saved_folder):
    folder, _ = saved_folder
    tensors = folder / "model.safetensors"
    _flip(tensors, tensors.stat().st_size - 1)
    message = r"model\.safetensors: SHA-256 \w+ differs from the \w+ recorded in config\.json"
    with pytest.raises(WeightsIntegrityError, match=message):
        resolve_weights(folder)
    with pytest.raises(WeightsIntegrityError, match="save the model again"):
        load_model(folder)


def test_saved_folder_with_edited_config_warns_or_is_refused(saved_folder):
    folder, _ = saved_folder
    config_file = folder / "config.json"
    meta = json.loads(config_file.read_text())
    meta["config"]["dropout"] = 0.5
    config_file.write_text(json.dumps(meta))
    # A readable file, possibly edited on purpose: loaded as it is, with a warning.
    message = r"config\.json: its contents do not match the SHA-256 recorded"
    with pytest.warns(UnverifiedWeightsWarning, match=message):
        config, _, _ = resolve_weights(folder)
    assert config.dropout == 0.5
    # A converted copy must match exactly.
    with pytest.raises(WeightsIntegrityError, match=message):
        load_model(folder, require_checksum=True)
    config_file.write_text("{ not json")
    with pytest.raises(WeightsIntegrityError, match=r"config\.json: not valid JSON"):
        resolve_weights(folder)


def test_saved_folder_without_checksums_loads_with_a_warning(saved_folder):
    folder, state = saved_folder
    config_file = folder / "config.json"
    meta = json.loads(config_file.read_text())
    del meta["sha256"]
    config_file.write_text(json.dumps(meta))
    with pytest.warns(UnverifiedWeightsWarning, match="records no checksums.*save\\(\\) it again"):
        _, loaded, _ = resolve_weights(folder)
    _assert_same_state(state, loaded)
    with pytest.raises(WeightsIntegrityError, match="records no checksums"):
        load_model(folder, require_checksum=True)
    # Without a checksum a garbled tensors file is still refused clearly.
    (folder / "model.safetensors").write_bytes(b"\x10" + b"\0" * 50)
    with pytest.warns(UnverifiedWeightsWarning):
        with pytest.raises(WeightsIntegrityError, match="not a readable safetensors file"):
            resolve_weights(folder)


def test_bundled_period_weights_load_verified_and_fold():
    from sklearn_astromer.weights import BUNDLED, bundled_path

    assert list_pretrained()[-len(BUNDLED):] == list(BUNDLED)
    config, state, extra = resolve_weights("crts-asas-period")
    assert (config.time_encoding, config.fold_cycles) == ("log-period", 2)
    assert (bundled_path("crts-asas-period") / "MODEL_CARD.md").is_file()
    assert "--out sklearn_astromer/data/weights/crts-asas-period" in extra["pretraining"]["command"]
