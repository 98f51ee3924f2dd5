"""Saving and loading models in the package's own format.

A model is a folder holding ``config.json`` (the architecture, plus any
extra estimator state such as learned layer weights) and
``model.safetensors`` (the tensors). Neither needs pickle, so a model can
be shared and loaded safely.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from ._model import AstromerConfig

__all__ = ["save_model", "load_model", "is_saved_model"]

CONFIG_FILE = "config.json"
TENSORS_FILE = "model.safetensors"
FORMAT = "sklearn-astromer/1"


def save_model(path, config, state_dict, extra=None):
    """Write a model folder.

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

    Returns
    -------
    path : pathlib.Path
        The folder written.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    save_file(tensors, path / TENSORS_FILE, metadata={"format": FORMAT})
    meta = {"format": FORMAT, "config": config.to_dict(), "extra": extra or {}}
    (path / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    return path


def is_saved_model(path):
    """Whether ``path`` is a folder written by :func:`save_model`."""
    path = Path(path)
    return (path / CONFIG_FILE).is_file() and (path / TENSORS_FILE).is_file()


def load_model(path):
    """Read a model folder written by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
        The folder.

    Returns
    -------
    config : AstromerConfig
    state_dict : dict of str to torch.Tensor
    extra : dict
    """
    path = Path(path)
    if not is_saved_model(path):
        raise ValueError(
            f"{path} is not a saved sklearn-astromer model: it needs "
            f"{CONFIG_FILE} and {TENSORS_FILE}"
        )
    meta = json.loads((path / CONFIG_FILE).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path / CONFIG_FILE}: unknown format {meta.get('format')!r}")
    config = AstromerConfig.from_dict(meta["config"])
    state_dict = load_file(path / TENSORS_FILE, device="cpu")
    return config, state_dict, meta.get("extra", {})

