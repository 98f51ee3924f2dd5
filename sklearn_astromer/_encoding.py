"""Inference: light curves -> per-object pooled layer embeddings."""

from __future__ import annotations

import numpy as np
import torch

from ._preprocessing import covering_windows, make_windows

__all__ = ["LayerEmbeddings", "encode"]


class LayerEmbeddings:
    """Per-object embeddings of every layer, averaged over windows.

    Attributes
    ----------
    means : ndarray of shape (n_objects, n_layers + 1, d_model), float32
        Masked mean over real observations of the input embedding and of
        each block's output, averaged over the object's windows.
    maxes : ndarray of shape (n_objects, d_model), float32
        Masked max over real observations of the last block, averaged over
        the object's windows.
    """

    def __init__(self, means, maxes):
        self.means = means
        self.maxes = maxes


def _window_order(n_obs, length, pad_full, batch_size):
    """Batches of window indices; with padding skipped, similar lengths together."""
    order = np.arange(len(n_obs)) if pad_full else np.argsort(n_obs, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@torch.inference_mode()
def encode(module, light_curves, *, batch_size=256, device="cpu", dtype=None):
    """Embed light curves with windows that cover each whole curve.

    Parameters
    ----------
    module : Astromer
        The encoder (put in eval mode here).
    light_curves : LightCurves
    batch_size : int, default=256
        Windows per forward pass.
    device : str or torch.device, default="cpu"
    dtype : torch.dtype, default=None
        Autocast dtype (e.g. ``torch.bfloat16`` on GPU); None for float32.

    Returns
    -------
    embeddings : LayerEmbeddings
    """
    module.eval()
    config = module.config
    length = config.window_length
    pad_full = config.attention == "legacy"  # legacy attention sees padding
    objects, starts = covering_windows(light_curves.lengths, length)
    n_obs = np.minimum(light_curves.lengths[objects] - starts, length)
    n_objects = len(light_curves)
    n_layers = config.n_layers + 1
    sums = torch.zeros(n_objects, n_layers, config.d_model, dtype=torch.float64)
    max_sums = torch.zeros(n_objects, config.d_model, dtype=torch.float64)

    for batch in _window_order(n_obs, length, pad_full, batch_size):
        pad_to = None if pad_full else int(n_obs[batch].max())
        w = make_windows(light_curves, objects[batch], starts[batch], length, pad_to=pad_to)
        mask = torch.from_numpy(w.obs_mask).to(device)
        with torch.autocast(device_type=torch.device(device).type, dtype=dtype, enabled=dtype is not None):
            out = module(
                torch.from_numpy(w.times).to(device),
                torch.from_numpy(w.mags).to(device),
                mask,
            )
        weights = (mask / mask.sum(dim=1, keepdim=True)).unsqueeze(-1)  # (B, L, 1)
        means = torch.stack([(z.float() * weights).sum(dim=1) for z in out["layers"]], dim=1)
        last = out["layers"][-1].float().masked_fill(~mask.unsqueeze(-1), float("-inf"))
        index = torch.from_numpy(w.objects)
        sums.index_add_(0, index, means.double().cpu())
        max_sums.index_add_(0, index, last.amax(dim=1).double().cpu())

    counts = torch.bincount(torch.from_numpy(objects), minlength=n_objects).double()
    means = (sums / counts[:, None, None]).float().numpy()
    maxes = (max_sums / counts[:, None]).float().numpy()
    return LayerEmbeddings(means, maxes)
