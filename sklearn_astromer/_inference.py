"""Inference: light curves -> per-object window statistics of the encoder.

Each light curve is cut into windows that cover it whole; each window is
encoded and reduced to the statistics a pooling needs (see
:mod:`~sklearn_astromer._pooling`), which are averaged over the object's
windows.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ._pooling import STATISTICS
from ._preprocessing import covering_windows, make_windows

__all__ = ["encode"]

# Windows per forward pass on CPU. A chunk's activations (16 x 200 x 256
# float32, 3.3 MB a tensor) stay in cache, where the element-wise layers run
# several times faster than from memory, and the matrix products are as fast
# as with larger chunks.
CPU_CHUNK = 16


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


def _window_statistics(module, light_curves, objects, starts, n_obs, batch, *, statistics,
                       length, pad_full, device, dtype):
    """Encode one batch of windows; return the requested statistics of each.

    Returns
    -------
    stats : dict of str to torch.Tensor
        ``STATISTICS[name]`` of each window: (B, D) or (B, M, D), float32.
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
    return {name: STATISTICS[name](layers, mask) for name in statistics}


@torch.inference_mode()
def map_batches(work, batches, n_workers, name="astromer"):
    """``work(batch)`` for each batch, yielded in batch order.

    With ``n_workers > 1`` (CPU) the batches run in a pool of that many threads, each with
    single-threaded torch: independent single-threaded passes keep the cores busier than
    threads sharing every small operation. The process-wide thread count is 1 while the
    results are consumed (the caller's thread too: its small accumulations would
    otherwise wake an OpenMP team whose spinning threads take cores from the workers) and
    restored afterwards.

    Parameters
    ----------
    work : callable
        Runs one batch; must enter thread-local modes (inference mode, autocast) itself.
    batches : list
    n_workers : int
    name : str, default="astromer"
        Prefix of the worker threads' names.

    Yields
    ------
    result
        ``work(batch)`` of each batch, in order.
    """
    if n_workers <= 1:
        yield from map(work, batches)
        return

    def single_threaded(batch):
        torch.set_num_threads(1)
        return work(batch)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(n_workers, thread_name_prefix=name) as pool:
            yield from pool.map(single_threaded, batches)
    finally:
        torch.set_num_threads(threads)


def encode(module, light_curves, statistics=("layer_means",), *, batch_size=256, device="cpu",
           dtype=None):
    """Per-object statistics of the encoder, from windows covering each whole curve.

    Parameters
    ----------
    module : Astromer
        The encoder (put in eval mode here).
    light_curves : LightCurves
    statistics : sequence of str, default=("layer_means",)
        Keys of :data:`~sklearn_astromer._pooling.STATISTICS`; only these
        are computed.
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
    stats : dict of str to ndarray, float32
        Each statistic averaged over the object's windows: (n_objects, D)
        for ``"mean"`` and ``"max"``, (n_objects, n_layers + 1, D) for
        ``"layer_means"``.

    Notes
    -----
    On CPU the number of intra-op threads is set to 1 while the chunks run
    and restored afterwards; it is a process-wide setting.
    """
    module.eval()
    config = module.config
    length = config.window_length
    pad_full = config.pad_full
    statistics = tuple(dict.fromkeys(statistics))
    objects, starts = covering_windows(light_curves.lengths, length)
    n_obs = np.minimum(light_curves.lengths[objects] - starts, length)
    n_objects = len(light_curves)
    sums = {}  # float64 sums over windows, allocated on the first batch's shapes

    on_cpu = torch.device(device).type == "cpu"
    if on_cpu:
        batch_size = max(1, min(batch_size, CPU_CHUNK))
    batches = _window_batches(n_obs, length, pad_full, batch_size)
    n_workers = min(torch.get_num_threads(), len(batches)) if on_cpu else 1

    def work(batch):
        # Inference mode and autocast are thread-local: enter them here.
        with torch.inference_mode():
            return batch, _window_statistics(
                module, light_curves, objects, starts, n_obs, batch, statistics=statistics,
                length=length, pad_full=pad_full, device=device, dtype=dtype,
            )

    def accumulate(results):
        # In batch order whatever thread finished first: the float64 sums,
        # and so the embeddings, do not depend on scheduling.
        for batch, stats in results:
            index = torch.from_numpy(objects[batch])
            for name, value in stats.items():
                if name not in sums:
                    sums[name] = torch.zeros(n_objects, *value.shape[1:], dtype=torch.float64)
                sums[name].index_add_(0, index, value.double().cpu())

    accumulate(map_batches(work, batches, n_workers, "astromer-encode"))

    counts = torch.bincount(torch.from_numpy(objects), minlength=n_objects).double()
    return {
        name: (total / counts.view(-1, *([1] * (total.dim() - 1)))).float().numpy()
        for name, total in sums.items()
    }
