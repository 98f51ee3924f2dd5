"""Encodings of observation times: the released geometric one and a log-period one.

Astromer adds to each observation's magnitude projection a vector of sinusoids of its
window-centred time. Which frequencies those sinusoids have decides which periods the
encoder can see:

- ``"geometric"`` (the released Astromer 1 and 2 encoding): one frequency per dimension,
  ``w_j = base ** (-2 j / d_model)`` rad/day. The fastest is 1 rad/day, a period of
  2 pi = 6.3 days, so shorter periods (most periodic variables) are invisible to it.
- ``"log-period"``: ``d_model / 2`` periods spaced evenly in log between ``min_period`` and
  ``max_period`` days, each encoded by a sine and a cosine (so the encoding of a time
  difference is a rotation). The default range, 0.02 d to 10^4 d, covers the shortest
  pulsators to the longest baselines. With ``learn_time_encoding`` the log-frequencies are
  trained, starting from that spacing.

Shapes in comments: B windows, L positions, D model width.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["TIME_ENCODINGS", "TimeEncoding", "positional_encoding"]

#: Names accepted by ``AstromerConfig.time_encoding``.
TIME_ENCODINGS = ("geometric", "log-period")


def positional_encoding(times, d_model, base=10000.0):
    """Sinusoidal encoding of observation times, one frequency per dimension.

    ``PE(t)_j = sin(w_j t)`` for even ``j`` and ``cos(w_j t)`` for odd ``j``,
    with ``w_j = base ** (-2 j / d_model)``. This differs from the usual
    paired frequencies of NLP transformers; it is what Astromer uses.

    Parameters
    ----------
    times : torch.Tensor of shape (B, L)
        Window-centred times in days.
    d_model : int
        Encoding width.
    base : float, default=10000.0
        Frequency base.

    Returns
    -------
    pe : torch.Tensor of shape (B, L, d_model)
    """
    j = torch.arange(d_model, device=times.device, dtype=torch.float32)
    freqs = base ** (-2.0 * j / d_model)  # (D,)
    t = times.to(torch.float32).unsqueeze(-1)  # (B, L, 1)
    # Each dimension needs only one of sin and cos: computing both on every
    # angle and selecting would double the transcendental work.
    pe = torch.empty(*times.shape, d_model, device=times.device, dtype=torch.float32)
    pe[..., 0::2] = torch.sin(t * freqs[0::2])
    pe[..., 1::2] = torch.cos(t * freqs[1::2])
    return pe


def log_period_frequencies(d_model, min_period, max_period):
    """Angular frequencies (rad/day) of the log-period encoding, fastest first.

    Parameters
    ----------
    d_model : int
        Encoding width; ``d_model // 2`` frequencies (an odd width leaves its last
        dimension to a sine of the slowest frequency).
    min_period, max_period : float
        Shortest and longest period in days.

    Returns
    -------
    freqs : torch.Tensor of shape (ceil(d_model / 2),)
        ``2 pi / P_k`` with ``P_k`` spaced evenly in log from ``min_period`` to
        ``max_period``.
    """
    n = (d_model + 1) // 2
    periods = torch.logspace(
        math.log10(min_period), math.log10(max_period), n, dtype=torch.float64
    )
    return (2.0 * math.pi / periods).to(torch.float32)


class TimeEncoding(nn.Module):
    """The time encoding an :class:`~sklearn_astromer._model.AstromerConfig` names.

    Parameters
    ----------
    config : AstromerConfig
        Reads ``time_encoding``, ``d_model``, ``pe_base``, ``min_period``, ``max_period``
        and ``learn_time_encoding``.

    Notes
    -----
    The geometric encoding and the fixed log-period one hold no tensors in the state dict,
    so the released weights load unchanged. The learnt one stores its log-frequencies as
    ``log_frequencies``.
    """

    def __init__(self, config):
        super().__init__()
        self.kind = config.time_encoding
        self.d_model = config.d_model
        self.base = config.pe_base
        if self.kind == "log-period":
            freqs = log_period_frequencies(config.d_model, config.min_period, config.max_period)
            if config.learn_time_encoding:
                self.log_frequencies = nn.Parameter(freqs.log())
            else:
                self.register_buffer("frequencies", freqs, persistent=False)

    def angular_frequencies(self):
        """Frequencies (rad/day) in use: ``(D,)`` geometric or ``(ceil(D/2),)`` log-period."""
        if self.kind == "geometric":
            j = torch.arange(self.d_model, dtype=torch.float32)
            return self.base ** (-2.0 * j / self.d_model)
        if hasattr(self, "log_frequencies"):
            return self.log_frequencies.exp()
        return self.frequencies

    def forward(self, times):
        """Encode window-centred times.

        Parameters
        ----------
        times : torch.Tensor of shape (B, L)
            Days.

        Returns
        -------
        pe : torch.Tensor of shape (B, L, D), float32
        """
        if self.kind == "geometric":
            return positional_encoding(times, self.d_model, self.base)
        freqs = self.angular_frequencies()  # (ceil(D/2),)
        angle = times.to(torch.float32).unsqueeze(-1) * freqs  # (B, L, ceil(D/2))
        # Interleaved sin/cos pairs share one frequency: (B, L, 2 * ceil(D/2)), cut to D.
        pe = torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1).flatten(-2)
        return pe[..., : self.d_model]
