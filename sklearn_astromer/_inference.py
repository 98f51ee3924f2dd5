"""Inference: light curves -> per-object pooled layer embeddings."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ._preprocessing import covering_windows, make_windows

__all__ = ["LayerEmbeddings", "encode"]

# Windows per forward pass on CPU. A chunk's activations (16 x 200 x 256
# float32, 3.3 MB a tensor) stay in cache, where the element-wise layers run
# several times faster than from memory, and the matrix products are as fast
# as with larger chunks.
CPU_CHUNK = 16


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


def _window_batches(n_obs, length, pad_full, batch_size):
    """Batches of window indices, each of windows needing the same attention bias.

    With legacy attention every window is padded to ``length``: full windows
    (most of them) come first and need no bias, the padded ones follow. With
    padding skipped, windows are sorted by length so that a batch pads
    little; a batch of equal lengths needs no bias either.
    """
    if pad_full:
        full = n_obs >= length
        groups = [np.flatnonzero(full), np.flatnonzero(~full)]
    else:
        groups = [np.argsort(n_obs, kind="stable")]
    return [
        group[i : i + batch_size]
        for group in groups
        for i in range(0, len(group), batch_size)
    ]


def _pooled(module, light_curves, objects, starts, n_obs, batch, *, length, pad_full, device, dtype):
    """Encode one batch of windows; return their pooled layers.

    Returns
    -------
    means : torch.Tensor of shape (B, n_layers + 1, D), float32
        Masked mean over real observations of every layer.
    maxes : torch.Tensor of shape (B, D), float32
        Masked max over real observations of the last layer.
    """
    pad_to = None if pad_full else int(n_obs[batch].max())
    w = make_windows(light_curves, objects[batch], starts[batch], length, pad_to=pad_to)
    device = torch.device(device)
    mask = torch.from_numpy(w.obs_mask).to(device, non_blocking=True)
    autocast = (
        torch.autocast(device_type=device.type, dtype=dtype)
        if dtype is not None
        else contextlib.nullcontext()
    )
    with autocast:
        layers = module.layers(
            torch.from_numpy(w.times).to(device, non_blocking=True),
            torch.from_numpy(w.mags).to(device, non_blocking=True),
            mask,
        )
    # Masked mean as a (B, 1, L) x (B, L, D) product: one pass over each layer.
    weights = (mask / mask.sum(dim=1, keepdim=True)).unsqueeze(1)  # (B, 1, L)
    means = torch.stack([torch.bmm(weights, z.float()).squeeze(1) for z in layers], dim=1)
    last = layers[-1].float()
    if not bool(mask.all()):
        last = last.masked_fill(~mask.unsqueeze(-1), float("-inf"))
    return means, last.amax(dim=1)


@torch.inference_mode()
def encode(module, light_curves, *, batch_size=256, device="cpu", dtype=None):
    """Embed light curves with windows that cover each whole curve.

    Parameters
    ----------
    module : Astromer
        The encoder (put in eval mode here).
    light_curves : LightCurves
    batch_size : int, default=256
        Windows per forward pass. On CPU at most :data:`CPU_CHUNK` windows
        go through at once, so that activations stay in cache, and chunks
        run in parallel on ``torch.get_num_threads()`` threads, one
        single-threaded forward pass each: independent passes keep the cores
        busier than threads sharing every small operation.
    device : str or torch.device, default="cpu"
    dtype : torch.dtype, default=None
        Autocast dtype (e.g. ``torch.bfloat16`` on GPU); None for float32.

    Returns
    -------
    embeddings : LayerEmbeddings

    Notes
    -----
    On CPU the number of intra-op threads is set to 1 while the chunks run
    and restored afterwards; it is a process-wide setting.
    """
    module.eval()
    config = module.config
    length = config.window_length
    pad_full = config.pad_full
    objects, starts = covering_windows(light_curves.lengths, length)
    n_obs = np.minimum(light_curves.lengths[objects] - starts, length)
    n_objects = len(light_curves)
    n_layers = config.n_layers + 1
    sums = torch.zeros(n_objects, n_layers, config.d_model, dtype=torch.float64)
    max_sums = torch.zeros(n_objects, config.d_model, dtype=torch.float64)

    on_cpu = torch.device(device).type == "cpu"
    if on_cpu:
        batch_size = max(1, min(batch_size, CPU_CHUNK))
    batches = _window_batches(n_obs, length, pad_full, batch_size)
    n_workers = min(torch.get_num_threads(), len(batches)) if on_cpu else 1
    threads = torch.get_num_threads()

    def work(batch):
        # Inference mode and autocast are thread-local: enter them here.
        with torch.inference_mode():
            if n_workers > 1:
                torch.set_num_threads(1)
            return batch, *_pooled(
                module, light_curves, objects, starts, n_obs, batch,
                length=length, pad_full=pad_full, device=device, dtype=dtype,
            )

    def accumulate(results):
        # In batch order whatever thread finished first: the float64 sums,
        # and so the embeddings, do not depend on scheduling.
        for batch, means, maxes in results:
            index = torch.from_numpy(objects[batch])
            sums.index_add_(0, index, means.double().cpu())
            max_sums.index_add_(0, index, maxes.double().cpu())

    if n_workers > 1:
        # This thread too: its small accumulations would otherwise wake an
        # OpenMP team whose spinning threads take cores from the workers.
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(n_workers, thread_name_prefix="astromer-encode") as pool:
                accumulate(pool.map(work, batches))
        finally:
            torch.set_num_threads(threads)
    else:
        accumulate(map(work, batches))

    counts = torch.bincount(torch.from_numpy(objects), minlength=n_objects).double()
    means = (sums / counts[:, None, None]).float().numpy()
    maxes = (max_sums / counts[:, None]).float().numpy()
    return LayerEmbeddings(means, maxes)
