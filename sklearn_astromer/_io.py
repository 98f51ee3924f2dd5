"""Saving and loading models in the package's own format.

A model is a folder holding ``config.json`` (the architecture, plus any
extra estimator state such as learned layer weights) and
``model.safetensors`` (the tensors). Neither needs pickle, so a model can
be shared and loaded safely.

``config.json`` records the SHA-256 of ``model.safetensors`` and of its own
contents; :func:`load_model` checks both before using anything. Tensors
that do not match are refused with :class:`WeightsIntegrityError`.
``config.json`` is meant to be readable and may be edited by hand, so
contents that differ from their recorded SHA-256 load with an
:class:`UnverifiedWeightsWarning` (unparsable JSON is refused). A folder
written before checksums were recorded also loads with that warning.

An estimator may store tensors of its own beside the encoder's (a
classifier's head): they are kept in the same ``model.safetensors`` under
the ``extra.`` prefix, covered by the same checksum, and left out of the
encoder's tensors, so such a folder still works as ``weights=`` for the
encoder alone.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from safetensors.torch import load, save

from ._model import AstromerConfig

__all__ = [
    "UnverifiedWeightsWarning",
    "WeightsIntegrityError",
    "save_model",
    "load_model",
    "is_saved_model",
]

CONFIG_FILE = "config.json"
TENSORS_FILE = "model.safetensors"
FORMAT = "sklearn-astromer/1"
# Key of config.json holding the checksums: the tensors file's and that of
# the rest of config.json ("metadata": format, config and extra).
CHECKSUMS = "sha256"
_METADATA = "metadata"
# Prefix of the estimator's own tensors in model.safetensors.
EXTRA_TENSORS = "extra."


class WeightsIntegrityError(ValueError):
    """A weights or model file is damaged, altered, truncated or unreadable.

    The message names the file, what is wrong with it and what to do.
    """


class UnverifiedWeightsWarning(UserWarning):
    """A model folder has no recorded checksums, so it could not be verified."""


def integrity_error(file, problem, remedy):
    """The package's error for a damaged file: ``"<file>: <problem>. <remedy>"``."""
    return WeightsIntegrityError(f"{file}: {problem}. {remedy}")


_RESAVE = (
    "The file is damaged or was changed after saving: save the model again, "
    "or restore the folder from a good copy"
)


def sha256_hex(data):
    """SHA-256 of ``data`` (bytes) as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def _metadata_digest(meta):
    # Canonical JSON of what config.json holds besides the checksums, so the
    # digest survives a round trip through json (tuples, key order).
    body = {k: meta.get(k) for k in ("format", "config", "extra")}
    canonical = json.dumps(json.loads(json.dumps(body)), sort_keys=True, separators=(",", ":"))
    return sha256_hex(canonical.encode("utf-8"))


def save_model(path, config, state_dict, extra=None, extra_tensors=None):
    """Write a model folder, with the SHA-256 of its files in ``config.json``.

    Parameters
    ----------
    path : str or path-like
        Folder to create (parents too); existing files are overwritten.
    config : AstromerConfig
        Architecture.
    state_dict : dict of str to torch.Tensor
        Tensors of an :class:`~sklearn_astromer._model.Astromer`.
    extra : dict, default=None
        JSON-serialisable estimator state stored beside the architecture.
    extra_tensors : dict of str to torch.Tensor, default=None
        Tensors of the estimator besides the encoder's (a classifier's
        head), read back by ``load_model(path, extra_tensors=True)``.

    Returns
    -------
    path : pathlib.Path
        The folder written.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    clash = [k for k in tensors if k.startswith(EXTRA_TENSORS)]
    if clash:
        raise ValueError(f"encoder tensor names may not start with {EXTRA_TENSORS!r}: {clash}")
    for k, v in (extra_tensors or {}).items():
        tensors[EXTRA_TENSORS + k] = v.detach().to("cpu").contiguous()
    data = save(tensors, metadata={"format": FORMAT})
    # Plain writes: the files get the usual permissions (umask), like any other.
    (path / TENSORS_FILE).write_bytes(data)
    meta = {"format": FORMAT, "config": config.to_dict(), "extra": extra or {}}
    meta[CHECKSUMS] = {TENSORS_FILE: sha256_hex(data), _METADATA: _metadata_digest(meta)}
    (path / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    return path


def is_saved_model(path):
    """Whether ``path`` is a folder written by :func:`save_model`."""
    path = Path(path)
    return (path / CONFIG_FILE).is_file() and (path / TENSORS_FILE).is_file()


def load_model(path, *, require_checksum=False, extra_tensors=False):
    """Read a model folder written by :func:`save_model`, verifying its files.

    Parameters
    ----------
    path : str or path-like
        The folder.
    require_checksum : bool, default=False
        Refuse a folder without recorded checksums (written before they
        were introduced), or whose ``config.json`` was changed, instead of
        loading it with a warning.
    extra_tensors : bool, default=False
        Also return the estimator's own tensors (see :func:`save_model`).

    Returns
    -------
    config : AstromerConfig
    state_dict : dict of str to torch.Tensor
        The encoder's tensors only.
    extra : dict
    extra_tensors : dict of str to torch.Tensor
        Only with ``extra_tensors=True``; empty when none were saved.

    Raises
    ------
    WeightsIntegrityError
        If ``model.safetensors`` does not have the recorded SHA-256, or a
        file cannot be parsed; with ``require_checksum``, also if checksums
        are missing or ``config.json`` differs from its recorded SHA-256.
    ValueError
        If ``path`` is not a saved model, or of an unknown format.

    Warns
    -----
    UnverifiedWeightsWarning
        If the folder records no checksums, or ``config.json`` was changed
        after saving (and ``require_checksum`` is False).
    """
    path = Path(path)
    if not is_saved_model(path):
        raise ValueError(
            f"{path} is not a saved sklearn-astromer model: it needs "
            f"{CONFIG_FILE} and {TENSORS_FILE}"
        )
    config_file, tensors_file = path / CONFIG_FILE, path / TENSORS_FILE
    try:
        meta = json.loads(config_file.read_bytes())
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise integrity_error(config_file, f"not valid JSON ({exc})", _RESAVE) from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"{config_file}: unknown format {meta.get('format')!r}")
    data = tensors_file.read_bytes()
    checksums = meta.get(CHECKSUMS)
    if checksums is None:
        problem = "records no checksums (written by an earlier version of sklearn-astromer)"
        if require_checksum:
            raise integrity_error(config_file, problem, "Save the model again")
        warnings.warn(
            f"{config_file} {problem}, so {tensors_file.name} cannot be verified. "
            "To add them, load it (weights=<folder>, max_epochs=0) and save() it again.",
            UnverifiedWeightsWarning,
            stacklevel=2,
        )
    else:
        expected = checksums.get(TENSORS_FILE) if isinstance(checksums, dict) else None
        found = sha256_hex(data)
        if found != expected:
            raise integrity_error(
                tensors_file,
                f"SHA-256 {found} differs from the {expected} recorded in {CONFIG_FILE}",
                _RESAVE,
            )
        if _metadata_digest(meta) != checksums.get(_METADATA):
            problem = (
                "its contents do not match the SHA-256 recorded when it was saved "
                "(edited by hand, or damaged)"
            )
            if require_checksum:
                raise integrity_error(config_file, problem, _RESAVE)
            warnings.warn(
                f"{config_file}: {problem}; loading it as it is. If the edit is "
                "intended, save the model again to record the new contents.",
                UnverifiedWeightsWarning,
                stacklevel=2,
            )
    try:
        config = AstromerConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise integrity_error(config_file, f"invalid architecture ({exc!r})", _RESAVE) from exc
    try:
        state_dict = load(data)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise integrity_error(
            tensors_file, f"not a readable safetensors file ({exc})", _RESAVE
        ) from exc
    n = len(EXTRA_TENSORS)
    own = {k[n:]: v for k, v in state_dict.items() if k.startswith(EXTRA_TENSORS)}
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith(EXTRA_TENSORS)}
    if extra_tensors:
        return config, state_dict, meta.get("extra", {}), own
    return config, state_dict, meta.get("extra", {})
