"""Reconstruction: magnitudes predicted by the encoder's reconstruction head.

Three uses of one forward pass (:func:`reconstruct`):

- nothing hidden: every observation is seen and reconstructed (what the model
  "copies");
- hidden observations: the magnitudes of some observations are withheld and
  predicted from the others (gap filling, masked-reconstruction error). With
  ``hide=k`` the observations of each light curve are dealt into ``k`` folds
  (:func:`hide_folds`) and each fold is hidden in turn, so that every
  observation is predicted once while hidden, by a rule with no randomness;
- new times: magnitudes predicted where nothing was observed (resampling
  onto a grid), as hidden positions added to a window of observations.

A window is centred as in training except for the magnitudes, which are
centred on the mean of the *visible* observations only: the hidden values
must not reach the model, even through the window mean. Predictions are
returned in the input's units (that mean added back), in float64.

Shapes in comments: W windows, L positions.
"""

from __future__ import annotations

import contextlib
from numbers import Integral

import numpy as np
import torch

from ._inference import CPU_CHUNK, map_batches
from ._preprocessing import covering_windows

__all__ = ["hide_folds", "reconstruct", "run_windows"]

#: Share of a window given to new times when predicting at them: the share of
#: observations hidden in Astromer 1 pretraining (64 of 200).
QUERY_SHARE = 1 / 3


def hide_folds(length, n_patterns, block=1):
    """Fold of each observation of a light curve: the deterministic hide patterns.

    Runs of ``block`` consecutive observations are dealt to the folds in turn
    (run ``r`` goes to fold ``r % n_patterns``), so each fold hides about
    ``1 / n_patterns`` of every window, spread over the whole curve, and the
    same light curve always gets the same patterns.

    Parameters
    ----------
    length : int
        Number of observations.
    n_patterns : int
        Number of folds (at least 2).
    block : int, default=1
        Consecutive observations hidden together: 1 hides single
        observations; a visit's worth (4 in CRTS) hides whole visits, a
        harder gap to fill.

    Returns
    -------
    folds : ndarray of shape (length,), int64

    Examples
    --------
    >>> hide_folds(7, 3).tolist()
    [0, 1, 2, 0, 1, 2, 0]
    >>> hide_folds(7, 2, block=2).tolist()
    [0, 0, 1, 1, 0, 0, 1]
    """
    if int(n_patterns) < 2:
        raise ValueError(f"n_patterns must be at least 2, got {n_patterns}")
    if int(block) < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    return (np.arange(int(length), dtype=np.int64) // int(block)) % int(n_patterns)


def _grouped(n_obs, width, pad_full, batch_size):
    """Batches of window indices; without full padding, windows of similar length together."""
    order = np.arange(len(n_obs)) if pad_full else np.argsort(n_obs, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@torch.inference_mode()
def run_windows(module, times, mags, obs_mask, hidden, *, batch_size=64, device="cpu",
                dtype=None):
    """Reconstruction head outputs of centred windows.

    Parameters
    ----------
    module : Astromer
        Put in eval mode here.
    times, mags : ndarray of shape (W, L), float32
        Centred times and magnitudes, 0 at padding (hidden magnitudes are
        never read).
    obs_mask : ndarray of shape (W, L), bool
        True at real positions (observations and new times).
    hidden : ndarray of shape (W, L), bool
        True at positions whose magnitude the model must not see.
    batch_size : int, default=64
        Windows per forward pass; on CPU at most
        :data:`~sklearn_astromer._inference.CPU_CHUNK`, run in parallel on
        ``torch.get_num_threads()`` threads (as :func:`~sklearn_astromer._inference.encode`).
    device : str or torch.device, default="cpu"
    dtype : torch.dtype, default=None
        Autocast dtype (e.g. ``torch.bfloat16`` on GPU); None for float32.

    Returns
    -------
    reconstruction : ndarray of shape (W, L), float32
        Predicted centred magnitudes (0 at padding).
    """
    module.eval()
    device = torch.device(device)
    config = module.config
    n_obs = obs_mask.sum(axis=1)
    out = np.zeros(times.shape, dtype=np.float32)
    on_cpu = device.type == "cpu"
    if on_cpu:
        batch_size = max(1, min(batch_size, CPU_CHUNK))
    batches = _grouped(n_obs, times.shape[1], config.pad_full, batch_size)
    n_workers = min(torch.get_num_threads(), len(batches)) if on_cpu else 1

    def work(batch):
        # Legacy attention lets padding in: those windows must be padded as in
        # training; masked attention ignores it, so a batch pads to its longest.
        width = times.shape[1] if config.pad_full else max(1, int(n_obs[batch].max()))

        def tensor(a):
            return torch.from_numpy(np.ascontiguousarray(a[batch, :width])).to(device)

        autocast = (
            torch.autocast(device_type=device.type, dtype=dtype)
            if dtype is not None
            else contextlib.nullcontext()
        )
        # Inference mode and autocast are thread-local: entered here.
        with torch.inference_mode(), autocast:
            rec = module(tensor(times), tensor(mags), tensor(obs_mask), tensor(hidden))
        out[batch, :width] = rec["reconstruction"].float().cpu().numpy()

    # Each batch writes its own rows of ``out``.
    for _ in map_batches(work, batches, n_workers, "astromer-reconstruct"):
        pass
    return np.where(obs_mask, out, 0.0).astype(np.float32)


def _centre(times, mags, real, visible):
    """Centre windows: times on all real positions, magnitudes on the visible ones.

    Parameters
    ----------
    times, mags : ndarray of shape (W, L), float64
    real, visible : ndarray of shape (W, L), bool

    Returns
    -------
    times_c, mags_c : ndarray of shape (W, L), float32
        Centred, 0 outside ``real`` (magnitudes also 0 where hidden).
    mag_mean : ndarray of shape (W,), float64
        The magnitude mean to add back to predictions.
    """
    t_mean = np.where(real, times, 0.0).sum(axis=1) / np.maximum(real.sum(axis=1), 1)
    n_vis = visible.sum(axis=1)
    m_mean = np.where(visible, mags, 0.0).sum(axis=1) / np.maximum(n_vis, 1)
    times_c = np.where(real, times - t_mean[:, None], 0.0).astype(np.float32)
    mags_c = np.where(visible, mags - m_mean[:, None], 0.0).astype(np.float32)
    return times_c, mags_c, m_mean


def _check_hide(lc, hide):
    """Normalise ``hide``: None, an int number of patterns, or one boolean mask per curve."""
    if hide is None:
        return None
    if isinstance(hide, Integral) and not isinstance(hide, bool):
        if hide < 2:
            raise ValueError(f"hide={hide}: the number of hide patterns must be at least 2")
        return int(hide)
    if isinstance(hide, np.ndarray) and hide.ndim == 2 and len(lc) and (
        hide.shape[1] == lc.lengths.max()
    ):
        hide = list(hide)
    if isinstance(hide, (str, bytes)) or not hasattr(hide, "__len__"):
        raise TypeError(
            "hide must be None, an int (number of hide patterns) or one boolean mask per "
            f"light curve; got {type(hide).__name__}"
        )
    if len(hide) != len(lc):
        raise ValueError(f"hide has {len(hide)} masks for {len(lc)} light curves")
    masks = []
    for k, (mask, n) in enumerate(zip(hide, lc.lengths)):
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (n,):
            raise ValueError(
                f"hide mask of {_name(lc, k)} must be a boolean array of shape ({n},) "
                f"(one value per observation, in time order); got {mask.dtype} {mask.shape}"
            )
        if mask.all():
            raise ValueError(
                f"hide mask of {_name(lc, k)} hides all {n} observations: at least one "
                "must stay visible"
            )
        masks.append(mask)
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def _name(lc, k):
    from ._lightcurves import _object_name

    return _object_name(k, lc.ids)


def _observation_windows(lc, length):
    """Covering windows as row indices into the concatenated arrays.

    Returns
    -------
    objects : ndarray of shape (W,)
    index : ndarray of shape (W, L), int64
        Row of each position (0 at padding).
    real : ndarray of shape (W, L), bool
    """
    objects, starts = covering_windows(lc.lengths, length)
    n_obs = np.minimum(lc.lengths[objects] - starts, length)
    real = np.arange(length) < n_obs[:, None]
    rows = lc.offsets[objects] + starts
    index = np.where(real, rows[:, None] + np.arange(length), 0)
    return objects, index, real


def _at_observations(module, lc, hide, run, block=1):
    """Predictions at every observation; see :func:`reconstruct`."""
    length = module.config.window_length
    objects, index, real = _observation_windows(lc, length)
    times, mags = lc.time[index], lc.mag[index]
    if isinstance(hide, int):
        # Fold of every observation, from its position within its light curve.
        position = np.arange(len(lc.time)) - np.repeat(lc.offsets[:-1], lc.lengths)
        fold = hide_folds(len(lc.time), hide, block)[position] if len(lc.time) else position
        passes = [real & (fold[index] == j) for j in range(hide)]
    elif hide is None:
        passes = [np.zeros_like(real)]
    else:
        passes = [real & hide[index]]

    total = np.zeros(len(lc.time))
    count = np.zeros(len(lc.time))
    for hidden in passes:
        visible = real & ~hidden
        # A window whose observations are all hidden has nothing to predict from: it
        # is left out of this pass (its observations come from another window or stay
        # NaN). It happens only for a short window under a user mask or a large block.
        keep = visible.any(axis=1)
        times_c, mags_c, mean = _centre(times[keep], mags[keep], real[keep], visible[keep])
        rec = run(times_c, mags_c, real[keep], hidden[keep]).astype(np.float64)
        rec += mean[:, None]
        # Under hide patterns only the hidden positions of a pass are kept: each
        # observation is predicted while hidden. Observations in two windows (the last,
        # right-aligned window overlaps the one before) get the mean of both.
        target = hidden[keep] if isinstance(hide, int) else real[keep]
        np.add.at(total, index[keep][target], rec[target])
        np.add.at(count, index[keep][target], 1.0)
    with np.errstate(invalid="ignore"):
        pred = total / count
    return [pred[a:b] for a, b in zip(lc.offsets[:-1], lc.offsets[1:])]


def _check_times(lc, times):
    """One float64 array of new times per light curve."""
    if isinstance(times, np.ndarray) and times.ndim == 1 and times.dtype != object:
        times = [times] * len(lc)
    if len(times) != len(lc):
        raise ValueError(
            f"times has {len(times)} arrays for {len(lc)} light curves; give one array of "
            "times per light curve, or one 1-D array for all of them"
        )
    out = []
    for k, t in enumerate(times):
        try:
            t = np.asarray(t, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"times of {_name(lc, k)} are not numbers: {exc}") from exc
        if t.ndim != 1 or not np.isfinite(t).all():
            raise ValueError(
                f"times of {_name(lc, k)} must be a 1-D array of finite values; got shape "
                f"{t.shape}{'' if np.isfinite(t).all() else ' with NaN or infinite values'}"
            )
        out.append(t)
    return out


def _at_times(module, lc, times, run):
    """Predictions at new times; see :func:`reconstruct`."""
    length = module.config.window_length
    # Each window: up to n_query new times (hidden positions, their magnitude unknown)
    # and the n_context observations nearest them in time order as context.
    n_query = max(1, int(length * QUERY_SHARE)) if length > 1 else 1
    rows = []  # (object, context start, context stop, query indices into the sorted times)
    for k, t in enumerate(times):
        n = int(lc.lengths[k])
        order = np.argsort(t, kind="stable")
        per = min(n_query, max(1, length - n)) if n < length else n_query
        n_context = min(n, length - per)
        sorted_t = t[order]
        obs_t = lc.time[lc.offsets[k] : lc.offsets[k + 1]]
        for i in range(0, len(t), per):
            chunk = order[i : i + per]
            centre = int(np.searchsorted(obs_t, np.median(sorted_t[i : i + per])))
            start = min(max(centre - n_context // 2, 0), n - n_context)
            rows.append((k, start, start + n_context, chunk))
    W = len(rows)
    T = np.zeros((W, length))
    M = np.zeros((W, length))
    real = np.zeros((W, length), dtype=bool)
    hidden = np.zeros((W, length), dtype=bool)
    for w, (k, a, b, chunk) in enumerate(rows):
        o = lc.offsets[k]
        nc, nq = b - a, len(chunk)
        T[w, :nc] = lc.time[o + a : o + b]
        M[w, :nc] = lc.mag[o + a : o + b]
        T[w, nc : nc + nq] = times[k][chunk]
        real[w, : nc + nq] = True
        hidden[w, nc : nc + nq] = True
    out = [np.full(len(t), np.nan) for t in times]
    if W:
        times_c, mags_c, mean = _centre(T, M, real, real & ~hidden)
        rec = run(times_c, mags_c, real, hidden).astype(np.float64) + mean[:, None]
        for w, (k, a, b, chunk) in enumerate(rows):
            out[k][chunk] = rec[w, b - a : b - a + len(chunk)]
    return out


def reconstruct(module, lc, hide=None, times=None, *, block=1, batch_size=64, device="cpu",
                dtype=None):
    """Magnitudes predicted by the reconstruction head, one array per light curve.

    Parameters
    ----------
    module : Astromer
        Encoder with its reconstruction head.
    lc : LightCurves
    hide : None, int or sequence of bool arrays, default=None
        Which observations are withheld from the model (without ``times``):

        - None: none; every observation is seen and reconstructed;
        - an int ``k`` >= 2: ``k`` deterministic hide patterns (:func:`hide_folds`),
          each hiding every ``k``-th observation of a light curve in turn; each
          observation's prediction is the one made while it was hidden;
        - one boolean mask per light curve (True = hidden, in time order): one pass,
          predictions at every observation, hidden or not.
    times : sequence of 1-D arrays, or 1-D array, default=None
        New times (one array per light curve, or one array for all): predict there
        instead of at the observations, from every observation (``hide`` must be None).
    block : int, default=1
        With ``hide=k``: runs of ``block`` consecutive observations are hidden together
        (see :func:`hide_folds`).
    batch_size : int, default=64
    device : str or torch.device, default="cpu"
    dtype : torch.dtype, default=None

    Returns
    -------
    predictions : list of ndarray of shape (n_i,), float64
        Magnitudes in the input's units, at the observations of each light curve (in
        time order) or at its ``times`` (in their given order). NaN only where a
        window had no visible observation to predict from.
    """
    fold_cycles = getattr(module.config, "fold_cycles", 0)
    if fold_cycles:
        raise ValueError(
            f"this model reads light curves folded at their period (fold_cycles="
            f"{fold_cycles}), not the observations in time: its reconstruction head "
            "predicts folded, thinned curves, which do not map back to the observations"
        )
    if times is not None and hide is not None:
        raise ValueError(
            "give hide or times, not both: predictions at new times use every observation"
        )

    def run(times_c, mags_c, real, hidden):
        return run_windows(module, times_c, mags_c, real, hidden, batch_size=batch_size,
                           device=device, dtype=dtype)

    if times is not None:
        return _at_times(module, lc, _check_times(lc, times), run)
    return _at_observations(module, lc, _check_hide(lc, hide), run, block)
