"""Released Astromer weights: registry, download, checksums, cache, readers.

The authors released two Astromer 1 weight sets as zip archives: ``macho``
(a TensorFlow checkpoint) and ``atlas`` (a Keras HDF5 file); and Astromer 2
pretrained on MACHO, ``astromer2-macho`` (``config.toml`` and a TensorFlow
checkpoint, read by :mod:`._astromer2_release`). This module
finds them (a local file, the cache folder, or a download checked against
its SHA-256), reads them without TensorFlow, maps every tensor onto
:class:`~sklearn_astromer._model.Astromer` by an explicit name table, and
keeps the result in the package's own safetensors format so that later
loads skip the conversion.

Archives are looked for in ``$SKLEARN_ASTROMER_HOME`` when set, else in the
user cache (``~/.cache/sklearn-astromer`` on Linux); a folder that already
holds them under their registry file names serves them offline. Downloads
and converted weights are written to ``$SKLEARN_ASTROMER_CACHE`` when set,
else to the home when it is writable, else to the user cache.

Every file is verified before use: a registered archive against its
SHA-256 (the Astromer 2 archive, whose public record gives an MD5 only, against
that MD5 when downloaded, and later against the SHA-256 recorded then); any zip archive member against its CRC-32 and every tensor of a
TensorFlow checkpoint against its CRC32C; a converted copy or a saved model
folder against the SHA-256 recorded in its ``config.json``. A file that
fails is refused with :class:`WeightsIntegrityError` (a damaged converted
copy is converted again, with a warning).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import stat
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pooch
import torch

from ._io import (
    UnverifiedWeightsWarning,
    WeightsIntegrityError,
    integrity_error,
    is_saved_model,
    load_model,
    save_model,
    sha256_hex,
)
from ._astromer2_release import RELEASE_CONFIG, read_release
from ._model import Astromer, AstromerConfig
from ._tf_checkpoint import read_bundle

__all__ = [
    "PRETRAINED",
    "PretrainedWeights",
    "UnverifiedWeightsWarning",
    "WeightsIntegrityError",
    "get_cache_dir",
    "get_weights_home",
    "list_pretrained",
    "fetch_pretrained",
    "read_official",
    "resolve_weights",
    "BUNDLED",
]

HOME_ENV = "SKLEARN_ASTROMER_HOME"
CACHE_ENV = "SKLEARN_ASTROMER_CACHE"
_CACHE_NAME = "sklearn-astromer"
_CONVERTED = "converted"


@dataclass(frozen=True)
class PretrainedWeights:
    """One released weight set.

    Attributes
    ----------
    name : str
        Registry name.
    filename : str
        File name of the official archive, in the cache folder too.
    url : str
        Public URL of the archive.
    sha256 : str or None
        SHA-256 of the archive; None when no public record gives it (then
        ``doi`` does).
    format : {"tf-checkpoint", "keras-h5", "astromer2-tf-checkpoint"}
        How the weights are stored inside the archive.
    preset : str
        Architecture preset of :class:`~sklearn_astromer._model.AstromerConfig`
        the weights derive from (their own file fixes the exact architecture).
    description : str
        What the weights were trained on.
    doi : str or None, default=None
        DOI of the public record (Zenodo) that lists the archive's checksum:
        a download is verified against it when ``sha256`` is None.
    """

    name: str
    filename: str
    url: str
    sha256: str | None
    format: str
    preset: str
    description: str
    doi: str | None = None


#: Weights trained by this package and shipped inside it, as model folders under
#: ``sklearn_astromer/data/weights/`` (each with its ``MODEL_CARD.md``): name -> description.
BUNDLED = {
    "crts-asas-period": (
        "Period-aware Astromer (2 blocks of width 64, log-period time encoding, light "
        "curves folded at their best period) pretrained without labels on the CRTS and "
        "ASAS light curves of the package's benchmarks"
    ),
}


def bundled_path(name):
    """Folder of a weight set shipped with the package (see :data:`BUNDLED`)."""
    return Path(__file__).resolve().parent / "data" / "weights" / name


PRETRAINED = {
    "macho": PretrainedWeights(
        name="macho",
        filename="macho_a0.zip",
        url="https://github.com/astromer-science/weights/raw/main/macho_a0.zip",
        sha256="76a204a37a0d47bfd722477f55231624c0c56cf9eea3369b5f22ff445d95158b",
        format="tf-checkpoint",
        preset="astromer1",
        description="Astromer 1 pretrained on ~1.5 M unlabelled MACHO R-band light curves",
    ),
    "atlas": PretrainedWeights(
        name="atlas",
        filename="atlas.zip",
        url=(
            "https://github.com/astromer-science/weights/raw/"
            "3bf2237a1a225c0addf00bed2769f338a008d56f/atlas.zip"
        ),
        sha256="ea4c4dae7407554dd6f2dd3c4b5eb0faac83b07b2022786a0c307002c4c643d6",
        format="keras-h5",
        preset="astromer1",
        description="Astromer 1 from MACHO, further trained on ATLAS orange-band light curves",
    ),
    "astromer2-macho": PretrainedWeights(
        name="astromer2-macho",
        filename="pt_macho_v2_2025.zip",
        url="https://zenodo.org/records/18207945/files/pt_macho_v2_2025.zip",
        # The Zenodo record publishes an MD5 per file, no SHA-256: a download is
        # checked against that MD5, read from the record through its DOI.
        sha256=None,
        format="astromer2-tf-checkpoint",
        preset="astromer2",
        description=(
            "Astromer 2 (6 blocks) pretrained on ~1.5 M unlabelled MACHO light curves "
            "(Zenodo record 18207945)"
        ),
        doi="10.5281/zenodo.18207945",
    ),
}


def list_pretrained():
    """Return the names of the released weight sets.

    Returns
    -------
    names : list of str
        Keys of :data:`PRETRAINED` (released weights, downloaded and cached) then of
        :data:`BUNDLED` (weights shipped with the package), each usable as ``weights=``
        anywhere.

    Examples
    --------
    >>> list_pretrained()
    ['macho', 'atlas', 'astromer2-macho', 'crts-asas-period']
    """
    return list(PRETRAINED) + list(BUNDLED)


def get_weights_home():
    """Return the folder where weight archives are looked for and downloaded.

    Returns
    -------
    home : pathlib.Path
        ``$SKLEARN_ASTROMER_HOME`` when set, else the user cache folder of
        ``sklearn-astromer``. It need not exist yet.
    """
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    return _user_cache()


def _user_cache():
    return Path(pooch.os_cache(_CACHE_NAME))


def get_cache_dir():
    """Return the folder the package writes to: downloads and converted weights.

    Returns
    -------
    cache : pathlib.Path
        ``$SKLEARN_ASTROMER_CACHE`` when set; else :func:`get_weights_home`
        when it is writable; else the user cache folder. Set
        ``SKLEARN_ASTROMER_CACHE`` to keep a read-only folder of archives as
        the home while writing elsewhere. It need not exist yet.
    """
    cache = os.environ.get(CACHE_ENV)
    if cache:
        return Path(cache).expanduser()
    home = get_weights_home()
    return home if _writable(home) else _user_cache()


def _writable(path):
    """Whether files may be created in ``path`` (or in the parent that would hold it).

    The permission bits are honoured even for root, who could write anyway:
    a folder marked read-only (a shared, read-only copy of the archives) is
    not to be written into.
    """
    path = Path(path)
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    if not path.is_dir():
        return False
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & stat.S_IWUSR)


# --------------------------------------------------------------------------
# Finding and downloading archives
# --------------------------------------------------------------------------


def fetch_pretrained(name):
    """Return the local path of a released archive, downloading it if needed.

    The archive is looked for under its registry file name in
    :func:`get_weights_home`, then in :func:`get_cache_dir`, and otherwise
    downloaded into the latter from its public URL. Its SHA-256 is checked
    in every case.

    Parameters
    ----------
    name : str
        A name from :func:`list_pretrained`.

    Returns
    -------
    path : pathlib.Path
        The verified archive.

    Raises
    ------
    ValueError
        If ``name`` is not registered.
    WeightsIntegrityError
        If a file does not have the registered SHA-256.
    OSError
        If the archive is not local and cannot be downloaded; the message
        says where to put a copy.
    """
    entry = _registered(name)
    home = get_weights_home()
    folders = list(dict.fromkeys([home, get_cache_dir()]))
    for folder in folders:
        candidate = folder / entry.filename
        if candidate.is_file() and entry.sha256 is None:
            _check_unregistered(entry, candidate)
            return candidate
        if candidate.is_file():
            digest = pooch.file_hash(str(candidate), alg="sha256")
            if digest != entry.sha256:
                raise integrity_error(
                    candidate,
                    f"does not have the SHA-256 of the {name!r} weights "
                    f"(expected {entry.sha256}, found {digest}): it is damaged, "
                    "incomplete or another file",
                    "Delete it to download it again, or put a good copy there",
                )
            return candidate
    target = folders[-1]
    if entry.sha256 is None:
        return _download_from_record(entry, target, home)
    try:
        path = pooch.retrieve(
            entry.url,
            known_hash=f"sha256:{entry.sha256}",
            fname=entry.filename,
            path=target,
            progressbar=True,
        )
    except ValueError as exc:
        # pooch refuses (and deletes) a download whose hash does not match.
        raise WeightsIntegrityError(
            f"the file downloaded from {entry.url} is not the {name!r} weights "
            f"(SHA-256 mismatch, expected {entry.sha256}): {exc}"
        ) from exc
    except OSError as exc:
        # Network failures from requests are OSErrors too.
        raise OSError(
            f"could not download the {name!r} weights from {entry.url} ({exc}). "
            f"Without network access, fetch that file elsewhere and put it at "
            f"{home / entry.filename} (or set {HOME_ENV} to the folder holding "
            f"{entry.filename}), or pass the file's path as the weights."
        ) from exc
    return Path(path)


# Beside an archive that has no registered SHA-256: the SHA-256 it had when it was
# verified against its public record, so that later loads check it offline.
_RECORDED_SUFFIX = ".sha256"


def _recorded_path(path):
    return path.with_name(path.name + _RECORDED_SUFFIX)


def _check_unregistered(entry, path):
    """Verify a local archive of a registry entry that has no SHA-256.

    Checked against the SHA-256 recorded when it was downloaded and verified
    against its public record; without one it is used with an
    :class:`UnverifiedWeightsWarning` that says how to verify it by hand.
    """
    digest = pooch.file_hash(str(path), alg="sha256")
    recorded_file = _recorded_path(path)
    recorded = recorded_file.read_text().strip() if recorded_file.is_file() else None
    if recorded is None:
        md5 = pooch.file_hash(str(path), alg="md5")
        warnings.warn(
            f"{path} is used as the {entry.name!r} weights without verification: no "
            f"SHA-256 of it is published. Its MD5 is {md5}; compare it with the MD5 "
            f"that the public record https://doi.org/{entry.doi} lists for "
            f"{entry.filename}. If they match, write its SHA-256 ({digest}) into "
            f"{recorded_file} to have it checked on every load; if not, delete the "
            "file to download it again (verified against the record)",
            UnverifiedWeightsWarning,
            stacklevel=4,
        )
    elif recorded != digest:
        raise integrity_error(
            path,
            f"does not have the SHA-256 recorded when it was verified (expected "
            f"{recorded}, found {digest}): it is damaged or another file",
            f"Delete it and {recorded_file.name} to download it again",
        )


def _download_from_record(entry, target, home):
    """Download an archive verified against the checksum its public record lists."""
    try:
        fetcher = pooch.create(path=target, base_url=f"doi:{entry.doi}/", registry=None)
        # The record's API lists every file with its checksum (an MD5 on Zenodo);
        # pooch checks the download against it and deletes a file that differs.
        fetcher.load_registry_from_doi()
        path = Path(fetcher.fetch(entry.filename, progressbar=True))
    except ValueError as exc:
        raise WeightsIntegrityError(
            f"the {entry.name!r} weights downloaded through https://doi.org/{entry.doi} "
            f"could not be verified against the checksum that record lists: {exc}"
        ) from exc
    except OSError as exc:
        raise OSError(
            f"could not download the {entry.name!r} weights through "
            f"https://doi.org/{entry.doi} ({exc}). Without network access, fetch "
            f"{entry.url} elsewhere, check its MD5 against the one that record lists, "
            f"and put it at {home / entry.filename} (or set {HOME_ENV} to the folder "
            f"holding {entry.filename}), or pass the file's path as the weights."
        ) from exc
    try:
        _recorded_path(path).write_text(pooch.file_hash(str(path), alg="sha256") + "\n")
    except OSError:
        pass  # Not recorded: later loads warn that the file is unverified.
    return path


def _registered(name):
    try:
        return PRETRAINED[name]
    except KeyError:
        raise ValueError(
            f"unknown pretrained weights {name!r}; choose one of {list_pretrained()}"
        ) from None


# --------------------------------------------------------------------------
# Name tables: torch state_dict key -> official tensor name
# --------------------------------------------------------------------------

_TF_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _tf_names(n_layers):
    """Map every state_dict key to its TF checkpoint variable."""
    enc = "layer_with_weights-0/"
    names = {
        "input_proj.weight": enc + "inp_transform/kernel",
        "input_proj.bias": enc + "inp_transform/bias",
    }
    for i in range(n_layers):
        src = f"{enc}enc_layers/{i}/"
        dst = f"blocks.{i}."
        for ours, theirs in [
            ("attn.q", "mha/wq"),
            ("attn.k", "mha/wk"),
            ("attn.v", "mha/wv"),
            ("attn.out", "mha/dense"),
            ("ffn_in", "ffn/layer_with_weights-0"),
            ("ffn_out", "ffn/layer_with_weights-1"),
        ]:
            names[f"{dst}{ours}.weight"] = f"{src}{theirs}/kernel"
            names[f"{dst}{ours}.bias"] = f"{src}{theirs}/bias"
        for ours, theirs in [("norm1", "layernorm1"), ("norm2", "layernorm2")]:
            names[f"{dst}{ours}.weight"] = f"{src}{theirs}/gamma"
            names[f"{dst}{ours}.bias"] = f"{src}{theirs}/beta"
    head = "layer_with_weights-1/"
    names.update(
        {
            "head.norm.weight": head + "bn_0/gamma",
            "head.norm.bias": head + "bn_0/beta",
            "head.proj.weight": head + "reg_layer/kernel",
            "head.proj.bias": head + "reg_layer/bias",
        }
    )
    return {k: v + _TF_SUFFIX for k, v in names.items()}


def _keras_suffix(k):
    # Keras makes layer names unique with a global counter: "name", "name_1", ...
    return "" if k == 0 else f"_{k}"


def _h5_names(n_layers):
    """Map every state_dict key to its Keras HDF5 dataset path."""
    names = {
        "input_proj.weight": "encoder/encoder/dense/kernel:0",
        "input_proj.bias": "encoder/encoder/dense/bias:0",
    }
    for i in range(n_layers):
        s = _keras_suffix(i)
        mha = f"encoder/encoder/encoder_layer{s}/multi_head_attention{s}/"
        dst = f"blocks.{i}."
        layers = [
            ("attn.q", mha + "WQ"),
            ("attn.k", mha + "WK"),
            ("attn.v", mha + "WV"),
            ("attn.out", mha + "MixerDense"),
            # The FFN's Dense layers were built outside the encoder's name
            # scope, so they sit at encoder/dense_1.. (dense_0 is the input).
            ("ffn_in", f"encoder/dense_{2 * i + 1}"),
            ("ffn_out", f"encoder/dense_{2 * i + 2}"),
        ]
        for ours, theirs in layers:
            names[f"{dst}{ours}.weight"] = f"{theirs}/kernel:0"
            names[f"{dst}{ours}.bias"] = f"{theirs}/bias:0"
        block = f"encoder/encoder/encoder_layer{s}/"
        for ours, k in [("norm1", 2 * i), ("norm2", 2 * i + 1)]:
            ln = f"{block}layer_normalization{_keras_suffix(k)}/"
            names[f"{dst}{ours}.weight"] = ln + "gamma:0"
            names[f"{dst}{ours}.bias"] = ln + "beta:0"
    head = "regression/regression/"
    ln = f"{head}layer_normalization{_keras_suffix(2 * n_layers)}/"
    names.update(
        {
            "head.norm.weight": ln + "gamma:0",
            "head.norm.bias": ln + "beta:0",
            "head.proj.weight": head + "RegLayer/kernel:0",
            "head.proj.bias": head + "RegLayer/bias:0",
        }
    )
    return names


def _is_kernel(name):
    leaf = name.removesuffix(_TF_SUFFIX).rsplit("/", 1)[-1]
    return leaf in ("kernel", "kernel:0")


def _expected_shapes(config):
    # The meta device builds the module without allocating or initialising.
    with torch.device("meta"):
        model = Astromer(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _map_tensors(tensors, names, config, source):
    """Build the state_dict from official tensors, refusing any mismatch.

    Parameters
    ----------
    tensors : dict of str to ndarray
        Official tensors by name.
    names : dict of str to str
        state_dict key -> official name.
    config : AstromerConfig
    source : str
        What the tensors came from, for error messages.

    Returns
    -------
    state_dict : dict of str to torch.Tensor
    """
    expected = _expected_shapes(config)
    if set(names) != set(expected):
        # A table out of step with the model is a bug here, not in the file.
        raise RuntimeError(
            f"weight name table does not match the model: "
            f"{sorted(set(names) ^ set(expected))}"
        )
    missing = [theirs for theirs in names.values() if theirs not in tensors]
    if missing:
        raise ValueError(f"{source}: missing tensor(s) {missing}")
    extra = sorted(set(tensors) - set(names.values()))
    if extra:
        raise ValueError(f"{source}: unexpected tensor(s) {extra}")
    state = {}
    for ours, theirs in names.items():
        array = tensors[theirs]
        kernel = _is_kernel(theirs)
        want = expected[ours][::-1] if kernel else expected[ours]
        if tuple(array.shape) != want:
            raise ValueError(
                f"{source}: tensor {theirs!r} has shape {tuple(array.shape)}, "
                f"expected {want} (for {ours})"
            )
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"{source}: tensor {theirs!r} has dtype {array.dtype}")
        # Keras kernels are (in, out); torch Linear weights are (out, in).
        array = array.T if kernel else array
        state[ours] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return state


def _config_from_conf(conf):
    """Architecture from an official ``conf.json`` (every released model is Astromer 1).

    Its ``head_dim`` is the model width. Its ``base`` is ignored: the
    released code never passed it on, and the weights were trained with
    positional base 10000 (the preset's).
    """
    return AstromerConfig.preset(
        "astromer1",
        n_layers=conf.get("layers"),
        n_heads=conf.get("heads"),
        d_model=conf.get("head_dim"),
        d_ff=conf.get("dff"),
        dropout=conf.get("dropout"),
        window_length=conf.get("max_obs"),
    )


# --------------------------------------------------------------------------
# Official archives and folders
# --------------------------------------------------------------------------

_CONF = "conf.json"
_CKPT_INDEX = "weights.index"
_H5 = "weights.h5"
# SHA-256 of the Keras files inside the released archives. HDF5 stores no
# checksum: out of its zip (whose CRC-32 covers it) a weights.h5 is verified
# only when it is one of these.
_RELEASED_H5 = {
    "17680ce236af00b0eed1fd8e45c3dedd37884899a96e62f3aaa9e2eb322bfff1": "atlas",
}


_DAMAGED = (
    "Use a good copy: load released weights by name (downloaded and verified "
    "again), or download or export the file again"
)


def _h5_tensors(data, source):
    tensors = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            tensors[name] = obj[()]

    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            f.visititems(visit)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        # h5py reports truncated or garbled files as OSError, sometimes others.
        raise integrity_error(
            source, f"not a readable HDF5 file ({exc}): it is damaged or incomplete", _DAMAGED
        ) from exc
    return tensors


def _read_official_files(read, source, in_zip):
    """Convert official weights given a reader of the folder's files.

    Parameters
    ----------
    read : callable
        ``read(filename) -> bytes or None`` for files of the official folder.
    source : str
        Description of the folder, for messages.
    in_zip : bool
        Whether the files come from a zip archive (whose members' CRC-32 is
        checked as they are read).

    Returns
    -------
    config, state_dict, info
        ``info`` describes the source format and training configuration.
    """
    conf_bytes = read(_CONF)
    if conf_bytes is None and read(RELEASE_CONFIG) is not None:
        # The Astromer 2 authors' layout: config.toml and a checkpoint.
        return read_release(read, source)
    if conf_bytes is None:
        raise ValueError(f"{source}: no {_CONF}")
    try:
        conf = json.loads(conf_bytes)
        if not isinstance(conf, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise integrity_error(
            f"{source}/{_CONF}", f"not valid JSON ({exc}): it is damaged", _DAMAGED
        ) from exc
    config = _config_from_conf(conf)
    index = read(_CKPT_INDEX)
    if index is not None:
        fmt = "tf-checkpoint"
        # The bundle's own CRC32C (index blocks, every tensor) is verified.
        tensors = read_bundle(index, read, source, _DAMAGED)
        names = _tf_names(config.n_layers)
    else:
        data = read(_H5)
        if data is None:
            raise ValueError(f"{source}: neither {_CKPT_INDEX} nor {_H5}")
        fmt = "keras-h5"
        if not in_zip and sha256_hex(data) not in _RELEASED_H5:
            warnings.warn(
                f"{source}/{_H5}: a Keras HDF5 file stores no checksum and this one is "
                "not a released file, so it could not be verified; load its zip "
                "archive instead to have it checked",
                UnverifiedWeightsWarning,
                stacklevel=4,
            )
        tensors = _h5_tensors(data, f"{source}/{_H5}")
        names = _h5_names(config.n_layers)
    state = _map_tensors(tensors, names, config, source)
    return config, state, {"format": fmt, "training_config": conf}


def _official_dir(prefixes, is_file):
    """The one folder prefix among ``prefixes`` holding conf.json and weights.

    ``prefixes`` are folder prefixes ("" or ending in a separator); None when
    none or several qualify.
    """
    found = [
        d
        for d in prefixes
        if (is_file(d + _CONF) and (is_file(d + _CKPT_INDEX) or is_file(d + _H5)))
        # An Astromer 2 release folder: config.toml beside the checkpoint.
        or (is_file(d + RELEASE_CONFIG) and is_file(d + _CKPT_INDEX))
    ]
    return found[0] if len(found) == 1 else None


def _read_zip(path):
    # zipfile checks each member's CRC-32 as it reads it: damaged bytes raise
    # BadZipFile, which becomes the package's integrity error.
    try:
        return _read_zip_unchecked(path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _bad_zip(path, exc) from exc


def _bad_zip(path, exc):
    return integrity_error(
        path,
        f"not a readable zip archive ({exc}): it is damaged or incomplete "
        "(a download cut short?), or not an archive",
        _DAMAGED,
    )


def _read_zip_unchecked(path):
    with zipfile.ZipFile(path) as zf:
        members = set(zf.namelist())
        prefixes = {m[: m.rfind("/") + 1] for m in members}
        prefix = _official_dir(sorted(prefixes), members.__contains__)
        if prefix is None:
            raise ValueError(
                f"{path}: not an official Astromer weights archive (one folder with "
                f"{_CONF} and {_CKPT_INDEX} or {_H5}, or {RELEASE_CONFIG} and {_CKPT_INDEX})"
            )

        def read(name):
            member = prefix + name
            return zf.read(member) if member in members else None

        return _read_official_files(read, str(path), in_zip=True)


def _read_folder(path):
    # An unpacked archive: the folder itself, or the one folder it unpacked to.
    def is_file(name):
        return Path(name).is_file()

    prefix = _official_dir([str(path) + os.sep], is_file) or _official_dir(
        sorted(str(p) + os.sep for p in path.iterdir() if p.is_dir()), is_file
    )
    if prefix is None:
        raise ValueError(
            f"{path}: neither a saved sklearn-astromer model (config.json + "
            f"model.safetensors) nor an official Astromer folder ({_CONF} and "
            f"{_CKPT_INDEX} or {_H5}, or Astromer 2's {RELEASE_CONFIG} and {_CKPT_INDEX})"
        )
    folder = Path(prefix)

    def read(name):
        file = folder / name
        return file.read_bytes() if file.is_file() else None

    return _read_official_files(read, str(folder), in_zip=False)


def read_official(path):
    """Read official Astromer weights from a zip archive or unpacked folder.

    No cache is read or written; :func:`resolve_weights` is the usual entry.

    Parameters
    ----------
    path : str or path-like
        An official zip archive, the folder it unpacks to (holding
        ``conf.json`` and ``weights.index`` + ``weights.data-*`` or
        ``weights.h5``; for Astromer 2, ``config.toml`` and ``weights.index``
        + ``weights.data-*``), a folder containing that one folder, or the
        ``weights.index`` / ``weights.h5`` file of such a folder.

    Returns
    -------
    config : AstromerConfig
        Architecture from ``conf.json`` (Astromer 1) or ``config.toml``
        (Astromer 2, see :func:`~sklearn_astromer._astromer2_release.config_from_toml`).
    state_dict : dict of str to torch.Tensor
        Tensors (float32) for :class:`~sklearn_astromer._model.Astromer`.
    extra : dict
        ``{"weights": {...}}`` describing the source.

    Raises
    ------
    ValueError
        If the layout is not recognised, or a tensor is missing, unexpected
        or misshapen.
    WeightsIntegrityError
        If a file is damaged: a zip member fails its CRC-32, a checkpoint
        tensor or index block its CRC32C, or a file cannot be parsed.
    """
    path = Path(path)
    if path.name in (_CKPT_INDEX, _H5):
        path = path.parent
    if path.is_dir():
        config, state, info = _read_folder(path)
        return config, state, {"weights": info}
    return _read_archive(path, pooch.file_hash(str(path), alg="sha256"))


def _warn_if_unlike_release(path, digest):
    """Warn when a file named like a released archive is not that archive."""
    for entry in PRETRAINED.values():
        if entry.sha256 is None:
            continue  # Nothing to compare with.
        if path.name == entry.filename and digest != entry.sha256:
            warnings.warn(
                f"{path} has the file name of the released {entry.name!r} weights but "
                f"not their SHA-256 (expected {entry.sha256}, found {digest}): it is "
                "loaded as another archive, verified only by its own CRCs. If it should "
                f"be the release, it is damaged: use weights={entry.name!r} instead.",
                stacklevel=3,
            )


def _describe(info, digest):
    names = [e.name for e in PRETRAINED.values() if e.sha256 == digest]
    return {"name": names[0] if names else None, "sha256": digest, **info}


# --------------------------------------------------------------------------
# Converted cache
# --------------------------------------------------------------------------


def _converted_folders():
    """Folders that may hold converted weights, the one written to first."""
    folders = [get_cache_dir() / _CONVERTED, get_weights_home() / _CONVERTED]
    return list(dict.fromkeys(folders))


def _load_converted(digest):
    """The verified converted copy of the archive with SHA-256 ``digest``, or None."""
    for folder in _converted_folders():
        path = folder / digest
        if is_saved_model(path):
            try:
                # The SHA-256 recorded at conversion is required and checked.
                config, state, extra = load_model(path, require_checksum=True)
                _check_state_dict(config, state, path)
                if extra.get("weights", {}).get("sha256") != digest:
                    raise ValueError(f"{path}: converted from another archive")
            except ValueError as exc:  # WeightsIntegrityError included
                warnings.warn(
                    f"ignoring a damaged converted copy of the weights ({exc}); "
                    "converting the archive again",
                    stacklevel=3,
                )
                continue
            return config, state, extra
    return None


def _check_state_dict(config, state, source):
    expected = _expected_shapes(config)
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != expected:
        raise ValueError(f"{source}: tensors do not match the architecture")


def _new_dir(folder, digest):
    # os.mkdir honours the umask, so the cache gets ordinary permissions
    # (tempfile.mkdtemp would make it private to the user).
    path = folder / f".{digest[:12]}-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(path)
    return path


def _store_converted(digest, config, state, extra):
    """Write converted weights, with their SHA-256, to the first writable cache folder.

    The folder is written under a temporary name and renamed, so that a
    concurrent reader never sees half a model. Failing to cache is not an
    error: the archive is simply converted again next time.
    """
    for folder in _converted_folders():
        if not _writable(folder):
            continue
        target = folder / digest
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = _new_dir(folder, digest)
        except OSError:
            continue
        try:
            save_model(tmp, config, state, extra)
            if target.exists():
                # A damaged entry: move it aside first, since a folder can
                # only be renamed onto a missing or empty one.
                stale = _new_dir(folder, digest)
                os.replace(target, stale / "old")
                shutil.rmtree(stale, ignore_errors=True)
            os.rename(tmp, target)
        except OSError:
            # Another process may have won the race; its copy is as good.
            shutil.rmtree(tmp, ignore_errors=True)
        return


def _read_archive(path, digest):
    """Convert an official zip archive whose SHA-256 is ``digest``."""
    config, state, info = _read_zip(path)
    return config, state, {"weights": _describe(info, digest)}


def _convert_archive(path, digest):
    """Convert an official zip archive and keep the result in the converted cache."""
    config, state, extra = _read_archive(path, digest)
    _store_converted(digest, config, state, extra)
    return config, state, extra


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def resolve_weights(weights):
    """Load Astromer weights from a name, an archive or a folder.

    Parameters
    ----------
    weights : str or path-like
        One of:

        - the name of a weight set shipped with the package (:data:`BUNDLED`), read
          from the package's data folder and checked against its SHA-256;
        - a registered name (:func:`list_pretrained`): the archive is taken
          from :func:`get_weights_home` (``$SKLEARN_ASTROMER_HOME``) or
          downloaded into :func:`get_cache_dir`, its SHA-256 checked, then
          converted once to the package's format in a ``converted/`` cache
          keyed by that SHA-256 (``"astromer2-macho"``, whose record publishes
          an MD5 only, is checked against that MD5 when downloaded and against
          the SHA-256 recorded then afterwards; a copy put in place by hand
          loads with an :class:`UnverifiedWeightsWarning` saying how to check
          it);
        - the path of an official zip archive (each member checked against
          its CRC-32, each checkpoint tensor against its CRC32C; also
          converted once and cached);
        - an unpacked official folder (``conf.json`` with ``weights.index``
          and ``weights.data-*``, or ``weights.h5``; Astromer 2's
          ``config.toml`` with ``weights.index`` and ``weights.data-*``), or one of those two
          weight files, read directly (checkpoint tensors checked against
          their CRC32C; a Keras ``.h5`` file stores no checksum);
        - a model folder saved by this package (``config.json`` and
          ``model.safetensors``), checked against the SHA-256 recorded in
          its ``config.json``.

        Converted copies are checked against the SHA-256 recorded when they
        were written; a damaged one is converted again, with a warning.

        A string equal to a registered name is that name; to load a local
        folder of the same name, pass ``"./macho"`` or a :class:`~pathlib.Path`
        with a directory part.

    Returns
    -------
    config : AstromerConfig
        Architecture.
    state_dict : dict of str to torch.Tensor
        Tensors for :class:`~sklearn_astromer._model.Astromer`.
    extra : dict
        Saved estimator state; for official weights ``{"weights": {...}}``
        with the source's name, SHA-256, format and training configuration.

    Raises
    ------
    ValueError
        If the name is unknown, or the files do not hold exactly the
        expected tensors.
    WeightsIntegrityError
        (a ValueError) If a file is damaged, altered or truncated: a
        checksum does not match or the file cannot be parsed. The message
        names the file and what to do.
    FileNotFoundError
        If a path does not exist.
    OSError
        If a registered archive is neither local nor downloadable.

    Examples
    --------
    >>> config, state_dict, extra = resolve_weights("macho")  # doctest: +SKIP
    >>> model = Astromer(config)  # doctest: +SKIP
    >>> model.load_state_dict(state_dict)  # doctest: +SKIP
    """
    if isinstance(weights, str) and weights in BUNDLED:
        # Shipped inside the package: verified against the SHA-256 in its config.json.
        return load_model(bundled_path(weights), require_checksum=True)
    if isinstance(weights, str) and weights in PRETRAINED:
        entry = PRETRAINED[weights]
        if entry.sha256 is None:
            # Keyed by the SHA-256 of the verified local file: there is no other.
            path = fetch_pretrained(weights)
            digest = pooch.file_hash(str(path), alg="sha256")
            cached = _load_converted(digest) or _convert_archive(path, digest)
            cached[2]["weights"]["name"] = entry.name
            return cached
        # Checked before fetching: a converted copy needs neither archive nor download.
        cached = _load_converted(entry.sha256)
        if cached is not None:
            return cached
        return _convert_archive(fetch_pretrained(weights), entry.sha256)
    path = Path(weights).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"{weights!r} is neither a pretrained name ({list_pretrained()}) "
            "nor an existing file or folder"
        )
    if path.is_dir():
        if is_saved_model(path):
            return load_model(path)
        return read_official(path)
    if path.name in (_CKPT_INDEX, _H5):
        return read_official(path)
    if not zipfile.is_zipfile(path):
        raise integrity_error(
            path,
            "not a zip archive, or a damaged or incomplete one (a download cut short?)",
            "Pass an official archive or a folder; if this is one, download it again",
        )
    digest = pooch.file_hash(str(path), alg="sha256")
    _warn_if_unlike_release(path, digest)
    cached = _load_converted(digest)
    return cached if cached is not None else _convert_archive(path, digest)

