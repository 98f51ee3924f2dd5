"""ONNX export and onnxruntime inference (the ``onnx`` extra).

An exported file follows ``light_curve.embed``'s Astromer convention, so that
``light_curve.embed.Astromer1(onnxruntime.InferenceSession(path))`` runs it; see
the "Deploying to a broker" guide. Fitted embedders export with
:meth:`AstromerEmbedder.to_onnx <sklearn_astromer.AstromerEmbedder.to_onnx>`, the
command line with ``sklearn-astromer export``.
"""

from ._onnx import (
    CARD_KEY,
    DEFAULT_OPSET,
    INPUTS,
    OUTPUTS,
    OnnxEncoder,
    export_onnx,
    inference_session,
    model_card,
    read_model_card,
)

__all__ = [
    "CARD_KEY",
    "DEFAULT_OPSET",
    "INPUTS",
    "OUTPUTS",
    "OnnxEncoder",
    "export_onnx",
    "inference_session",
    "model_card",
    "read_model_card",
]
