"""The Astromer 2 authors' release format: ``config.toml`` plus a TensorFlow checkpoint.

The authors publish Astromer 2 (``astromer-science/main-code``) as a folder such as
``astromer_v2/macho/`` holding

- ``config.toml``: the arguments of their pretraining script, among them the
  architecture that their ``build_model`` reads;
- ``weights.index`` + ``weights.data-*``: the model saved by Keras ``save_weights``,
  a TensorFlow "tensor bundle" read here by :mod:`._tf_checkpoint`, without
  TensorFlow;
- ``checkpoint``: TensorFlow's bookkeeping file (not needed).

This module turns ``config.toml`` into an :class:`~._model.AstromerConfig` that
computes what the authors' code computes, and maps every checkpoint variable onto
:class:`~._model.Astromer` by an explicit name table with shape checks. Optimiser
entries (``optimizer/...``, ``.OPTIMIZER_SLOT``), which a checkpoint saved after
``compile`` carries, are skipped by the bundle reader; any other variable that the
table does not name, or a named one that is missing or misshapen, is refused.

What the authors' code computes, and how the configuration reproduces it:

- ``Dense(1 -> pe_dim)(magnitude) + PE(time)`` with ``PE_j = sin(w_j t)`` (even
  ``j``), ``cos(w_j t)`` (odd ``j``), ``w_j = 10000 ** (-2 j / pe_dim)``: the
  ``"geometric"`` encoding with ``pe_base = 10000``. The file's ``pe_base`` and
  ``pe_exp`` never reach that function, so they are recorded and not used.
- Blocks of ``num_heads`` heads of ``head_dim``; with ``use_leak = true``
  ``LN1(att + Dense(x))`` and ``LN2(FFN(h) + Dense(h))`` (``residual=True``),
  without it no residual at all (``residual=False``).
- ``mask_format = "K"`` adds ``m_alpha`` (-1e9) to the logits of hidden and padded
  keys: the ``"masked"`` attention, which gives those keys exactly zero weight.
- Their ``AddMSKToken`` layer is dropped from the Keras graph, so the checkpoint
  has no [MASK] token and the model never replaces a hidden magnitude; their
  masking pipeline leaves the true magnitude at a hidden position, which only
  the key mask hides (and which, through the residual projections, reaches that
  position's own output). The configuration has ``mask_token=False,
  hide_magnitudes=False``. At inference nothing is hidden, so this matters only
  when training further; :meth:`~._model.AstromerConfig.preset` ``("astromer2")``
  is the other reading (a trainable token replaces hidden magnitudes).
"""

from __future__ import annotations

import math
import tomllib

import numpy as np
import torch

from ._io import integrity_error
from ._model import Astromer, AstromerConfig
from ._tf_checkpoint import read_bundle

__all__ = [
    "RELEASE_CONFIG",
    "FORMAT",
    "config_from_toml",
    "release_names",
    "map_release_tensors",
    "parse_config_toml",
    "read_release",
]

RELEASE_CONFIG = "config.toml"
FORMAT = "astromer2-tf-checkpoint"
_INDEX = "weights.index"
_DAMAGED = (
    "Use a good copy: download the release again (weights='astromer2-macho' "
    "downloads and verifies it), or unpack its zip again"
)

_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_ENCODER = "layer_with_weights-0/"
_HEAD = "layer_with_weights-1/"

# The keys build_model reads to make the architecture. Each must be present: a
# missing one would silently take our default where the authors' code may differ.
_REQUIRED = (
    "num_layers",
    "num_heads",
    "head_dim",
    "pe_dim",
    "mixer",
    "dropout",
    "window_size",
    "use_leak",
    "mask_format",
    "m_alpha",
)
# Below this, exp(m_alpha + logit) underflows to exactly 0 in float32 for any
# logit a trained model produces, so "add m_alpha" and "exclude the key" agree.
_MASKING_ALPHA = -1e4


def parse_config_toml(data, source):
    """Parse the bytes of a ``config.toml``.

    Parameters
    ----------
    data : bytes
        File contents.
    source : str
        The file, for messages.

    Returns
    -------
    conf : dict

    Raises
    ------
    ValueError
        If the bytes are not UTF-8 TOML.
    """
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{source}: not a readable TOML file ({exc})") from exc


def config_from_toml(conf, source="config.toml"):
    """The architecture that the authors' ``build_model`` makes from ``config.toml``.

    Parameters
    ----------
    conf : dict
        Parsed ``config.toml``.
    source : str, default="config.toml"
        The file, for messages.

    Returns
    -------
    config : AstromerConfig
        ``"astromer2"`` preset fields, set from the file: ``n_layers =
        num_layers``, ``n_heads = num_heads``, ``d_model = num_heads * head_dim``,
        ``d_ff = mixer``, ``dropout``, ``window_length = window_size``,
        ``residual = use_leak``, ``attention = "masked"``, ``mask_token = False``,
        ``hide_magnitudes = False`` and ``pe_base = 10000``.

    Raises
    ------
    ValueError
        If a key is missing, or the file asks for something this package does not
        compute the authors' way: another ``arch`` than ``"base"``, ``pe_dim`` other
        than ``num_heads * head_dim``, a ``mask_format`` other than ``"K"``, an
        ``m_alpha`` that does not exclude keys, or a softmax ``temperature``.
    """
    missing = [key for key in _REQUIRED if key not in conf]
    if missing:
        raise ValueError(
            f"{source}: missing key(s) {missing} that the authors' build_model reads; "
            "the architecture cannot be known without them"
        )

    def refuse(problem):
        return ValueError(f"{source}: {problem}; this package cannot load such a model")

    arch = conf.get("arch", "base")
    if arch != "base":
        raise refuse(f"arch = {arch!r}, only the 'base' encoder of Astromer 2 is supported")
    n_heads, head_dim = _positive(conf, "num_heads", source), _positive(conf, "head_dim", source)
    d_model = n_heads * head_dim
    if _positive(conf, "pe_dim", source) != d_model:
        raise refuse(
            f"pe_dim = {conf['pe_dim']} differs from num_heads * head_dim = {d_model} "
            "(the input embedding would be narrower than the blocks)"
        )
    if conf["mask_format"] != "K":
        raise refuse(
            f"mask_format = {conf['mask_format']!r}; only 'K' (padding and hidden keys "
            "masked) is reproduced ('Q' adds a constant per query row, 'QK' masks both)"
        )
    alpha = float(conf["m_alpha"])
    if not alpha <= _MASKING_ALPHA:
        raise refuse(
            f"m_alpha = {alpha} is not a mask (it must be <= {_MASKING_ALPHA:g} to give "
            "masked keys zero weight, as the released -1e9 does)"
        )
    temperature = float(conf.get("temperature", 0.0))
    if temperature != 0.0:
        raise refuse(f"temperature = {temperature}, a rescaled softmax")
    use_leak = conf["use_leak"]
    if not isinstance(use_leak, bool):
        raise refuse(f"use_leak = {use_leak!r} is not a boolean")
    dropout = float(conf["dropout"])
    if not 0.0 <= dropout < 1.0 or math.isnan(dropout):
        raise refuse(f"dropout = {dropout} is not in [0, 1)")
    return AstromerConfig.preset(
        "astromer2",
        n_layers=_positive(conf, "num_layers", source),
        n_heads=n_heads,
        d_model=d_model,
        d_ff=_positive(conf, "mixer", source),
        dropout=dropout,
        window_length=_positive(conf, "window_size", source),
        residual=use_leak,
        attention="masked",
        # The authors' [MASK]-token layer never acts (see the module docstring):
        # hidden magnitudes stay in the input, hidden from attention keys only.
        mask_token=False,
        hide_magnitudes=False,
        # pe_base and pe_exp are passed along by their code but never used.
        pe_base=10000.0,
    )


def _positive(conf, key, source):
    value = conf[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{source}: {key} = {value!r} is not a positive integer")
    return value


def release_names(config):
    """Map every ``state_dict`` key of :class:`~._model.Astromer` to its checkpoint variable.

    Parameters
    ----------
    config : AstromerConfig
        Architecture from :func:`config_from_toml`.

    Returns
    -------
    names : dict of str to str
        ``state_dict`` key -> full checkpoint name (ending in
        ``/.ATTRIBUTES/VARIABLE_VALUE``). Keras ``Dense`` layers store
        ``kernel`` (in, out) and ``bias``, ``LayerNormalization`` ``gamma`` and
        ``beta``.
    """
    names = {
        "input_proj.weight": _ENCODER + "inp_transform/kernel",
        "input_proj.bias": _ENCODER + "inp_transform/bias",
    }
    dense = [
        ("attn.q", "mha/wq"),
        ("attn.k", "mha/wk"),
        ("attn.v", "mha/wv"),
        # Keras names this layer "attmerge"; the checkpoint uses the attribute name.
        ("attn.out", "mha/dense"),
        ("ffn_in", "ffn/layer_with_weights-0"),
        ("ffn_out", "ffn/layer_with_weights-1"),
    ]
    if config.residual:
        # use_leak: reshape_leak_1 projects the block input (added before layernorm1),
        # reshape_leak_2 the layernorm1 output (added before layernorm2).
        dense += [("res_attn", "reshape_leak_1"), ("res_ffn", "reshape_leak_2")]
    for i in range(config.n_layers):
        src, dst = f"{_ENCODER}enc_layers/{i}/", f"blocks.{i}."
        for ours, theirs in dense:
            names[f"{dst}{ours}.weight"] = f"{src}{theirs}/kernel"
            names[f"{dst}{ours}.bias"] = f"{src}{theirs}/bias"
        for ours, theirs in (("norm1", "layernorm1"), ("norm2", "layernorm2")):
            names[f"{dst}{ours}.weight"] = f"{src}{theirs}/gamma"
            names[f"{dst}{ours}.bias"] = f"{src}{theirs}/beta"
    names.update(
        {
            "head.norm.weight": _HEAD + "bn_0/gamma",
            "head.norm.bias": _HEAD + "bn_0/beta",
            "head.proj.weight": _HEAD + "reg_layer/kernel",
            "head.proj.bias": _HEAD + "reg_layer/bias",
        }
    )
    return {ours: theirs + _SUFFIX for ours, theirs in names.items()}


def _blocks_in(tensors):
    """Indices ``i`` of the ``enc_layers/i/`` blocks present among the tensor names."""
    found = set()
    prefix = _ENCODER + "enc_layers/"
    for name in tensors:
        if name.startswith(prefix):
            head = name[len(prefix) :].split("/", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


def _diagnose(tensors, config, source):
    """A sentence on how the checkpoint's layout differs from ``config``, or ''."""
    blocks = _blocks_in(tensors)
    if blocks != list(range(config.n_layers)):
        return (
            f"{source}: the checkpoint has {len(blocks)} encoder block(s) but "
            f"config.toml has num_layers = {config.n_layers}: the files do not belong "
            "together"
        )
    leak = any("/reshape_leak_" in name for name in tensors)
    if leak != config.residual:
        has = "has" if leak else "has no"
        return (
            f"{source}: the checkpoint {has} residual projections (reshape_leak_*) but "
            f"config.toml has use_leak = {str(config.residual).lower()}: the files do "
            "not belong together"
        )
    return ""


def map_release_tensors(tensors, config, source):
    """Build the ``state_dict`` of :class:`~._model.Astromer` from checkpoint tensors.

    Parameters
    ----------
    tensors : dict of str to numpy.ndarray
        Model variables of the checkpoint by full name (optimiser entries and
        the object graph already left out, as
        :func:`~._tf_checkpoint.read_tensors` does).
    config : AstromerConfig
        Architecture from :func:`config_from_toml`.
    source : str
        The checkpoint, for messages.

    Returns
    -------
    state_dict : dict of str to torch.Tensor
        Contiguous float32 tensors; Keras kernels are transposed to torch's
        (out, in).

    Raises
    ------
    ValueError
        If a variable of the table is missing, the checkpoint holds one the
        table does not name, or a shape or dtype differs. The message says
        whether the checkpoint and ``config.toml`` disagree on the number of
        blocks or on residuals.
    """
    names = release_names(config)
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in Astromer(config).state_dict().items()}
    if set(names) != set(expected):
        # A table out of step with the model is a bug here, not in the file.
        raise RuntimeError(
            f"release name table does not match the model: {sorted(set(names) ^ set(expected))}"
        )
    missing = sorted(theirs for theirs in names.values() if theirs not in tensors)
    extra = sorted(set(tensors) - set(names.values()))
    if missing or extra:
        reason = _diagnose(tensors, config, source)
        details = []
        if missing:
            details.append(f"missing {len(missing)} variable(s), e.g. {missing[:3]}")
        if extra:
            details.append(f"{len(extra)} unexpected variable(s), e.g. {extra[:3]}")
        raise ValueError(
            (reason + "; " if reason else f"{source}: not an Astromer 2 checkpoint of the "
             "architecture its config.toml describes: ")
            + "; ".join(details)
        )
    state = {}
    for ours, theirs in names.items():
        array = tensors[theirs]
        kernel = theirs.removesuffix(_SUFFIX).endswith("/kernel")
        # Keras kernels are (in, out); torch Linear weights are (out, in).
        want = expected[ours][::-1] if kernel else expected[ours]
        if tuple(array.shape) != want:
            raise ValueError(
                f"{source}: variable {theirs.removesuffix(_SUFFIX)!r} has shape "
                f"{tuple(array.shape)}, expected {want} from config.toml (for {ours})"
            )
        if array.dtype != np.float32:
            raise ValueError(
                f"{source}: variable {theirs.removesuffix(_SUFFIX)!r} has dtype "
                f"{array.dtype}, expected float32"
            )
        array = array.T if kernel else array
        state[ours] = torch.from_numpy(np.ascontiguousarray(array))
    return state


def read_release(read, source):
    """Read a release folder given a reader of its files.

    Parameters
    ----------
    read : callable
        ``read(filename) -> bytes or None`` for the files of the folder holding
        ``config.toml`` (None when a file is absent).
    source : str
        The folder or archive, for messages.

    Returns
    -------
    config : AstromerConfig
    state_dict : dict of str to torch.Tensor
    info : dict
        ``{"format": "astromer2-tf-checkpoint", "training_config": {...}}``: the
        whole ``config.toml``, training keys included.

    Raises
    ------
    ValueError
        If ``config.toml`` or a checkpoint file is absent, or the checkpoint does
        not match the architecture (:func:`map_release_tensors`).
    WeightsIntegrityError
        If a file is damaged: ``config.toml`` is not TOML, the index or a tensor
        fails its CRC32C, or the bundle cannot be parsed.
    """
    conf_bytes = read(RELEASE_CONFIG)
    if conf_bytes is None:
        raise ValueError(f"{source}: no {RELEASE_CONFIG}")
    try:
        conf = parse_config_toml(conf_bytes, f"{source}/{RELEASE_CONFIG}")
    except ValueError as exc:
        raise integrity_error(f"{source}/{RELEASE_CONFIG}", str(exc), _DAMAGED) from exc
    config = config_from_toml(conf, f"{source}/{RELEASE_CONFIG}")
    index = read(_INDEX)
    if index is None:
        raise ValueError(f"{source}: no {_INDEX} beside {RELEASE_CONFIG}")
    # The bundle's own CRC32C (index blocks, every tensor) is verified.
    tensors = read_bundle(index, read, source, _DAMAGED)
    state = map_release_tensors(tensors, config, source)
    return config, state, {"format": FORMAT, "training_config": dict(conf)}
