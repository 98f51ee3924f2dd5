"""ONNX export of the encoder, and inference with onnxruntime.

The exported file follows the convention of ``light_curve.embed``'s Astromer
models, so that ``light_curve.embed.Astromer1(session)`` (or ``Astromer2``)
runs it as it runs the files it ships:

- inputs ``input`` (magnitudes), ``times`` and ``mask_in``, each float32 of
  shape (B, L, 1) with L = ``window_length`` (200 for the released models):
  times and magnitudes centred on the mean of the window's real observations,
  0 at padding; ``mask_in`` is 1 at real observations, 0 at padding;
- outputs ``mean`` and ``max`` (B, D), the masked mean and max of the last
  block over real observations, and ``sequence`` (B, L, D), the last block at
  every position; with ``layer_means=True`` also ``layer_means`` (B, M, D),
  the masked means of the input embedding and of every block (what the
  ``"layers"`` and ``"weighted"`` poolings need).

A model card (:func:`model_card`) is stored in the file's metadata under
``sklearn_astromer.model_card`` and, by :func:`export_onnx`, as JSON next to
it. Shapes in comments: B windows, L positions, D model width, M layers.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._pooling import masked_mean
from ._preprocessing import covering_windows, make_windows

__all__ = [
    "INPUTS",
    "OUTPUTS",
    "CARD_KEY",
    "DEFAULT_OPSET",
    "export_onnx",
    "model_card",
    "read_model_card",
    "inference_session",
    "OnnxEncoder",
    "estimator_to_onnx",
    "estimator_encoder",
]

INPUTS = ("input", "times", "mask_in")
OUTPUTS = ("mean", "max", "sequence")
CARD_KEY = "sklearn_astromer.model_card"
# Opset 18: the oldest the dynamo exporter writes without a version
# conversion; onnxruntime has run it since 1.14.
DEFAULT_OPSET = 18

_MISSING = (
    "ONNX export and the onnxruntime backend need the packages of the 'onnx' extra: "
    "pip install 'sklearn-astromer[onnx]'"
)


def _require(*names):
    """Import optional modules by name, with one clear error when one is missing."""
    import importlib

    try:
        return [importlib.import_module(name) for name in names]
    except ImportError as exc:
        raise ImportError(f"{_MISSING} ({exc})") from exc


class _Exported(nn.Module):
    """The encoder with the ``light_curve.embed`` Astromer inputs and outputs.

    Parameters
    ----------
    module : Astromer
    layer_means : bool
        Also return the masked means of every layer.
    """

    def __init__(self, module, layer_means):
        super().__init__()
        self.module = module
        self.layer_means = layer_means

    def forward(self, input, times, mask_in):
        # (B, L, 1) float32 each -> (B, L).
        mags = input[..., 0]
        obs_mask = mask_in[..., 0] > 0.5
        layers = self.module.layers(times[..., 0], mags, obs_mask)  # M x (B, L, D)
        last = layers[-1]
        mean = masked_mean(last, obs_mask)  # (B, D)
        # Unlike _pooling.masked_max, no shortcut for windows without padding:
        # the graph must not depend on the data it is traced with.
        maximum = last.masked_fill(~obs_mask.unsqueeze(-1), float("-inf")).amax(dim=1)
        outputs = (mean, maximum, last)
        if self.layer_means:
            outputs += (torch.stack([masked_mean(z, obs_mask) for z in layers], dim=1),)
        return outputs


def model_card(config, *, weights=None, layer_means=False, opset=DEFAULT_OPSET,
               layer_weighting=None, pooling=None):
    """Describe an exported encoder: architecture, weights, preprocessing, opset.

    Parameters
    ----------
    config : AstromerConfig
    weights : str or None, default=None
        Where the weights came from (a released model's name, a folder, a
        file), as the estimator was given them.
    layer_means : bool, default=False
        Whether the file has the ``layer_means`` output.
    opset : int, default=DEFAULT_OPSET
    layer_weighting : LayerWeighting or None, default=None
        The ``"weighted"`` pooling's weights and standardisation, recorded so
        that a deployment can combine ``layer_means`` as the package does.
    pooling : str or None, default=None
        The estimator's pooling (informative).

    Returns
    -------
    card : dict
        JSON-serialisable.
    """
    from . import __version__

    L, D, M = config.window_length, config.d_model, config.n_layers + 1
    outputs = {
        "mean": [["batch", D], "masked mean of the last block over real observations"],
        "max": [["batch", D], "masked max of the last block over real observations"],
        "sequence": [["batch", L, D], "last block at every position (padding included)"],
    }
    if layer_means:
        outputs["layer_means"] = [
            ["batch", M, D],
            "masked means of the input embedding and of every block",
        ]
    card = {
        "format": "light_curve.embed Astromer",
        "producer": f"sklearn-astromer {__version__}",
        "torch": torch.__version__.split("+")[0],
        "opset": int(opset),
        "architecture": config.to_dict(),
        "weights": None if weights is None else str(weights),
        "inputs": {
            name: [["batch", L, 1], "float32", text]
            for name, text in (
                ("input", "magnitudes minus the mean of the window's real observations, 0 at padding"),
                ("times", "times (days) minus the mean of the window's real observations, 0 at padding"),
                ("mask_in", "1 at real observations, 0 at padding"),
            )
        },
        "outputs": {
            name: {"shape": shape, "dtype": "float32", "description": text}
            for name, (shape, text) in outputs.items()
        },
        "preprocessing": (
            f"Windows of at most {L} consecutive observations (sorted by time). The means are "
            "taken in float64 before the cast to float32 (MJD ~ 5e4 loses ~0.01 d in float32). "
            + (
                f"Every window is padded to {L} positions: the released Astromer 1 attention "
                "lets padding in, so a window embeds as in training only at full length."
                if config.pad_full
                else "Padding is masked out of attention."
            )
            + f" sklearn-astromer covers a curve of n observations with max(1, ceil(n / {L})) "
            "windows (the last one ending at the last observation) and averages their outputs."
            + (
                f" This model reads curves folded at their best period over "
                f"{config.fold_cycles} cycles (sklearn_astromer.periods.fold_light_curves), "
                "times in days from the start of the fold: fold them before windowing."
                if getattr(config, "fold_cycles", 0)
                else ""
            )
        ),
    }
    if pooling is not None:
        card["pooling"] = pooling
    if layer_weighting is not None:
        card["layer_weighting"] = layer_weighting.to_dict()
    return card


def export_onnx(module, path, *, layer_means=False, opset=DEFAULT_OPSET, weights=None,
                layer_weighting=None, pooling=None, card_file=True):
    """Export an encoder to one ONNX file in ``light_curve.embed``'s Astromer convention.

    Parameters
    ----------
    module : Astromer
        The encoder; its architecture may be any :class:`AstromerConfig`.
    path : str or path-like
        The ``.onnx`` file to write (weights included, no external data).
    layer_means : bool, default=False
        Add the ``layer_means`` output (B, n_layers + 1, d_model), for the
        ``"layers"`` and ``"weighted"`` poolings.
    opset : int, default=DEFAULT_OPSET
        ONNX opset of the file.
    weights : str or None, default=None
        Recorded in the model card.
    layer_weighting : LayerWeighting or None, default=None
        Recorded in the model card.
    pooling : str or None, default=None
        Recorded in the model card.
    card_file : bool, default=True
        Also write the model card as JSON to ``<path>.json``.

    Returns
    -------
    path : pathlib.Path
    """
    (onnx,) = _require("onnx")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = module.config
    if any(p.device.type != "cpu" for p in module.parameters()):
        # The file holds the weights; tracing on CPU keeps the graph free of
        # device transfers.
        module = copy.deepcopy(module).cpu()
    wrapper = _Exported(module, layer_means).eval()
    L = config.window_length
    # An example batch of 2 windows, one full and one with padding; batch
    # size is dynamic, the window length is the configuration's.
    example = torch.zeros(2, L, 1)
    mask = torch.ones(2, L, 1)
    mask[1, L // 2 :] = 0
    output_names = list(OUTPUTS) + (["layer_means"] if layer_means else [])
    batch = torch.export.Dim("batch", min=1)
    was_training = module.training
    module.eval()
    # The exporter logs that optional torchvision operators are unavailable.
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The exporter's progress messages and deprecation notices of
            # its dependencies are not the caller's concern.
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                wrapper,
                (example, example.clone(), mask),
                input_names=list(INPUTS),
                output_names=output_names,
                dynamic_shapes={name: {0: batch} for name in INPUTS},
                opset_version=opset,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    finally:
        module.train(was_training)
        logger.setLevel(level)
    proto = program.model_proto
    card = model_card(
        config, weights=weights, layer_means=layer_means, opset=opset,
        layer_weighting=layer_weighting, pooling=pooling,
    )
    proto.doc_string = "Astromer light-curve encoder exported by sklearn-astromer"
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = CARD_KEY, json.dumps(card)
    onnx.save_model(proto, str(path))
    if card_file:
        Path(f"{path}.json").write_text(json.dumps(card, indent=2) + "\n")
    return path


def read_model_card(path_or_session):
    """The model card stored in an exported file's metadata.

    Parameters
    ----------
    path_or_session : str, path-like or onnxruntime.InferenceSession

    Returns
    -------
    card : dict
    """
    if isinstance(path_or_session, (str, os.PathLike)):
        (onnx,) = _require("onnx")
        proto = onnx.load(str(path_or_session), load_external_data=False)
        meta = {p.key: p.value for p in proto.metadata_props}
    else:
        meta = path_or_session.get_modelmeta().custom_metadata_map
    if CARD_KEY not in meta:
        raise ValueError(f"{path_or_session} has no {CARD_KEY!r} metadata: not exported by sklearn-astromer")
    return json.loads(meta[CARD_KEY])


def inference_session(path_or_bytes, *, threads=1):
    """An onnxruntime CPU session for an exported file.

    Parameters
    ----------
    path_or_bytes : str, path-like or bytes
    threads : int, default=1
        Intra-op threads of one ``run``. :class:`OnnxEncoder` runs several
        single-threaded batches at once instead.

    Returns
    -------
    session : onnxruntime.InferenceSession
    """
    (ort,) = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if isinstance(path_or_bytes, os.PathLike):
        path_or_bytes = str(path_or_bytes)
    return ort.InferenceSession(path_or_bytes, options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """Per-object statistics of an encoder run by onnxruntime.

    The onnxruntime counterpart of :func:`~sklearn_astromer._inference.encode`:
    the same covering windows, centring and averaging, so that its results
    match the torch path's.

    Parameters
    ----------
    module : Astromer
        The encoder, exported in memory (with ``layer_means``).
    threads : int, default=None
        Batches run at once, each single-threaded (independent runs keep the
        cores busier than threads sharing every small operation, as in the
        torch path); None uses ``torch.get_num_threads()``.
    """

    def __init__(self, module, threads=None):
        import tempfile

        self.config = module.config
        self.threads = threads
        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(module, Path(tmp) / "encoder.onnx", layer_means=True,
                               card_file=False)
            self.session = inference_session(path.read_bytes(), threads=1)

    @classmethod
    def from_file(cls, path, threads=None):
        """Run an exported file (with its model card) with the package's windowing.

        What checks a deployed file against the package: its per-object
        statistics should match the estimator's ``transform``.

        Parameters
        ----------
        path : str or path-like
            A file written by :func:`export_onnx`.
        threads : int, default=None
            As in the constructor.

        Returns
        -------
        encoder : OnnxEncoder
        """
        from ._model import AstromerConfig

        self = cls.__new__(cls)
        self.session = inference_session(path, threads=1)
        self.config = AstromerConfig.from_dict(read_model_card(self.session)["architecture"])
        self.threads = threads
        return self

    def encode(self, light_curves, statistics=("layer_means",), *, batch_size=16):
        """Per-object statistics, averaged over each curve's covering windows.

        Parameters
        ----------
        light_curves : LightCurves
        statistics : sequence of {"mean", "max", "layer_means"}
        batch_size : int, default=16
            Windows per ``run``; 16 keeps a batch's activations in cache.

        Returns
        -------
        stats : dict of str to ndarray, float32
            As :func:`~sklearn_astromer._inference.encode` returns.
        """
        from ._inference import _window_batches

        length = self.config.window_length
        statistics = list(dict.fromkeys(statistics))
        available = {o.name for o in self.session.get_outputs()}
        missing = [name for name in statistics if name not in available]
        if missing:
            raise ValueError(
                f"the ONNX file has no output {missing} (it has {sorted(available)}); "
                "export it with layer_means=True for the 'layers' and 'weighted' poolings"
            )
        objects, starts = covering_windows(light_curves.lengths, length)
        n_obs = np.minimum(light_curves.lengths[objects] - starts, length)
        n_objects = len(light_curves)
        # The file's windows are always `length` wide: padded batches go apart
        # only to keep the torch path's batch order.
        batches = _window_batches(n_obs, length, True, batch_size)
        threads = self.threads or torch.get_num_threads()

        def work(batch):
            w = make_windows(light_curves, objects[batch], starts[batch], length)
            feeds = {
                "input": w.mags[..., None],
                "times": w.times[..., None],
                "mask_in": w.obs_mask[..., None].astype(np.float32),
            }
            return batch, self.session.run(statistics, feeds)

        sums = {}
        with ThreadPoolExecutor(max(1, min(threads, len(batches)))) as pool:
            for batch, values in pool.map(work, batches):
                for name, value in zip(statistics, values):
                    if name not in sums:
                        sums[name] = np.zeros((n_objects,) + value.shape[1:], dtype=np.float64)
                    np.add.at(sums[name], objects[batch], value)
        counts = np.bincount(objects, minlength=n_objects).astype(np.float64)
        return {
            name: (total / counts.reshape(-1, *([1] * (total.ndim - 1)))).astype(np.float32)
            for name, total in sums.items()
        }


def estimator_to_onnx(estimator, path, *, layer_means=None, opset=DEFAULT_OPSET):
    """Export a fitted estimator's encoder (see :meth:`AstromerEmbedder.to_onnx`)."""
    from sklearn.utils.validation import check_is_fitted

    from ._pooling import POOLINGS

    check_is_fitted(estimator, "module_")
    pooling = getattr(estimator, "pooling", None)
    if layer_means is None:
        layer_means = pooling is not None and POOLINGS[pooling].statistic == "layer_means"
    weights = estimator.weights
    return export_onnx(
        estimator.module_, path, layer_means=bool(layer_means), opset=opset,
        weights=str(weights) if isinstance(weights, (str, os.PathLike)) else None,
        layer_weighting=getattr(estimator, "layer_weighting_", None), pooling=pooling,
    )


def estimator_encoder(estimator):
    """The :class:`OnnxEncoder` of an estimator's fitted encoder, exported once.

    Kept on the estimator (not pickled) while ``module_`` is the same object;
    a new fit makes a new module and so a new export.
    """
    cached = estimator.__dict__.get("_onnx_encoder")
    if cached is None or cached[0] is not estimator.module_:
        cached = (estimator.module_, OnnxEncoder(estimator.module_))
        estimator._onnx_encoder = cached
    return cached[1]
