"""The Astromer encoder in PyTorch, driven by a frozen configuration.

Two presets share one implementation:

- ``"astromer1"`` reproduces the released Astromer 1 architecture with the
  quirks its weights were trained with: no residual connections, a tanh
  feed-forward layer, an additive ``+1`` attention term on hidden positions
  instead of a real mask, LayerNorm epsilon 1e-6 and positional base 10000.
- ``"astromer2"`` is the Astromer 2 architecture done right: linear-projected
  residuals, keys masked with a large negative value, and a trainable [MASK]
  token that replaces hidden magnitudes. The authors' released Astromer 2
  differs only in training: its [MASK] token never acts, so hidden magnitudes
  stay in the input (``mask_token=False, hide_magnitudes=False``, which its
  loader sets; see :mod:`._astromer2_release`).

Shapes in comments: B windows, L positions, D model width, H heads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ._time_encoding import TIME_ENCODINGS, TimeEncoding, positional_encoding

__all__ = ["AstromerConfig", "Astromer", "positional_encoding"]

_PRESETS = {
    "astromer1": dict(
        n_layers=2,
        n_heads=4,
        d_model=256,
        d_ff=128,
        dropout=0.1,
        window_length=200,
        residual=False,
        attention="legacy",
        mask_token=False,
    ),
    "astromer2": dict(
        n_layers=6,
        n_heads=4,
        d_model=256,
        d_ff=512,
        dropout=0.1,
        window_length=200,
        residual=True,
        attention="masked",
        mask_token=True,
    ),
}


@dataclass(frozen=True)
class AstromerConfig:
    """Architecture of an Astromer encoder.

    Parameters
    ----------
    n_layers : int, default=2
        Number of transformer blocks.
    n_heads : int, default=4
        Attention heads; ``d_model`` must be divisible by it.
    d_model : int, default=256
        Width of every embedding.
    d_ff : int, default=128
        Width of the tanh feed-forward layer.
    dropout : float, default=0.1
        Dropout after the input embedding, the attention and the
        feed-forward layer.
    window_length : int, default=200
        Maximum number of observations in one window.
    residual : bool, default=False
        Add linear-projected residuals around attention and feed-forward
        (Astromer 2). Astromer 1 has none.
    attention : {"legacy", "masked"}, default="legacy"
        ``"legacy"`` adds ``+1`` to the attention logits of every pair
        involving a hidden position, as the released Astromer 1 weights
        expect; ``"masked"`` excludes hidden keys from attention.
    mask_token : bool, default=False
        Replace hidden magnitudes with a trainable token before the input
        projection (Astromer 2).
    hide_magnitudes : bool, default=True
        Withhold hidden magnitudes from the input: replaced by the [MASK]
        token, or by 0 without one. False leaves them in the input, hidden
        from attention keys only: what the Astromer 2 authors' code does (its
        [MASK]-token layer is dropped from the Keras graph) and what the
        released Astromer 2 weights were trained with; with residuals a hidden
        observation then reaches its own reconstruction. Training only: at
        inference nothing is hidden.
    pe_base : float, default=10000.0
        Base of the positional frequencies of the ``"geometric"`` time encoding.
    time_encoding : {"geometric", "log-period"}, default="geometric"
        How observation times enter the model (see
        :class:`~sklearn_astromer._time_encoding.TimeEncoding`). ``"geometric"`` is the
        released models' encoding, whose fastest sinusoid has a 6.3-day period;
        ``"log-period"`` spaces ``d_model / 2`` sine-cosine pairs evenly in log period
        from ``min_period`` to ``max_period``.
    min_period, max_period : float, default=0.02, 10000.0
        Period range in days of the ``"log-period"`` encoding.
    learn_time_encoding : bool, default=False
        Train the log-period frequencies (initialised log-spaced).
    fold_cycles : int, default=0
        Input view the model is trained on. 0: the light curve as observed. ``k >= 1``:
        each light curve is folded at its best period over ``k`` cycles before it is
        windowed, times in days from the start of the fold (see
        :func:`sklearn_astromer.periods.fold_light_curves`); a model trained this way is
        given folded curves by the estimators automatically.
    layer_norm_eps : float, default=1e-6
        Epsilon of every LayerNorm.
    name : str, default="astromer1"
        Name of the preset the configuration derives from (informative).
    """

    n_layers: int = 2
    n_heads: int = 4
    d_model: int = 256
    d_ff: int = 128
    dropout: float = 0.1
    window_length: int = 200
    residual: bool = False
    attention: str = "legacy"
    mask_token: bool = False
    hide_magnitudes: bool = True
    pe_base: float = 10000.0
    time_encoding: str = "geometric"
    min_period: float = 0.02
    max_period: float = 10000.0
    learn_time_encoding: bool = False
    fold_cycles: int = 0
    layer_norm_eps: float = 1e-6
    name: str = "astromer1"

    def __post_init__(self):
        if self.attention not in ("legacy", "masked"):
            raise ValueError(
                f"attention must be 'legacy' or 'masked', got {self.attention!r}"
            )
        for name in ("n_layers", "n_heads", "d_model", "d_ff", "window_length"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer")
        if self.time_encoding not in TIME_ENCODINGS:
            raise ValueError(
                f"time_encoding must be one of {TIME_ENCODINGS}, got {self.time_encoding!r}"
            )
        if not 0.0 < self.min_period < self.max_period:
            raise ValueError(
                "min_period and max_period must satisfy 0 < min_period < max_period, got "
                f"{self.min_period} and {self.max_period}"
            )
        if int(self.fold_cycles) < 0:
            raise ValueError(f"fold_cycles must be 0 or more, got {self.fold_cycles}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.mask_token and not self.hide_magnitudes:
            raise ValueError(
                "mask_token=True needs hide_magnitudes=True: the token is what replaces "
                "hidden magnitudes"
            )

    @classmethod
    def preset(cls, preset="astromer1", **overrides):
        """Build a configuration from a preset, overriding some sizes.

        Parameters
        ----------
        preset : {"astromer1", "astromer2"}, default="astromer1"
            Architecture family.
        **overrides
            Fields to change; ``None`` values are ignored.

        Returns
        -------
        config : AstromerConfig
        """
        if preset not in _PRESETS:
            raise ValueError(
                f"unknown preset {preset!r}; choose one of {sorted(_PRESETS)}"
            )
        fields = dict(_PRESETS[preset], name=preset)
        fields.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**fields)

    @property
    def pad_full(self):
        """Whether windows are padded to ``window_length``.

        The legacy attention lets padding in, so a window embeds as it did in training only
        at the full length; the masked attention ignores padding, and batches are padded to
        their longest window only.
        """
        return self.attention == "legacy"

    def to_dict(self):
        """Return the configuration as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Rebuild a configuration written by :meth:`to_dict`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown configuration fields: {sorted(unknown)}")
        return cls(**data)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with q, k, v and output projections."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x, bias):
        """Attend ``x`` (B, L, D) to itself with an additive ``bias``.

        ``bias`` broadcasts to (B, H, L, L), or is None for no bias.
        """
        B, L, D = x.shape
        H = self.n_heads
        # One GEMM for q, k and v: a wider output keeps the matrix kernels
        # busier than three narrow ones. The parameters stay separate.
        weight = torch.cat([self.q.weight, self.k.weight, self.v.weight])
        bias_qkv = torch.cat([self.q.bias, self.k.bias, self.v.bias])
        qkv = F.linear(x, weight, bias_qkv).view(B, L, 3, H, D // H)
        # (B, H, L, D/H) views; heads are contiguous slices of the projections.
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        z = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.out(z.transpose(1, 2).reshape(B, L, D))


class Block(nn.Module):
    """One encoder block: attention then a tanh feed-forward layer."""

    def __init__(self, config):
        super().__init__()
        d = config.d_model
        self.attn = MultiHeadAttention(d, config.n_heads)
        self.norm1 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.ffn_in = nn.Linear(d, config.d_ff)
        self.ffn_out = nn.Linear(config.d_ff, d)
        self.norm2 = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)
        if config.residual:
            self.res_attn = nn.Linear(d, d)
            self.res_ffn = nn.Linear(d, d)
        self.residual = config.residual

    def forward(self, x, bias):
        h = self.dropout(self.attn(x, bias))
        h = self.norm1(h + self.res_attn(x) if self.residual else h)
        f = self.ffn_in(h)
        if torch.is_grad_enabled() or torch.onnx.is_in_onnx_export():
            # Exported as one Tanh node, which onnxruntime runs fast.
            f = torch.tanh(f)
        elif f.is_cpu:
            # tanh(x) = 2 sigmoid(2x) - 1, in place: the same function to
            # ~1e-7, and twice as fast as CPU tanh, whose accurate kernel
            # costs more than the four passes.
            f = f.mul_(2).sigmoid_().mul_(2).sub_(1)
        else:
            f = f.tanh_()
        y = self.dropout(self.ffn_out(f))
        return self.norm2(y + self.res_ffn(h) if self.residual else y)


class ReconstructionHead(nn.Module):
    """LayerNorm then a projection to one magnitude per position."""

    def __init__(self, config):
        super().__init__()
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.proj = nn.Linear(config.d_model, 1)

    def forward(self, z):
        return self.proj(self.norm(z)).squeeze(-1)  # (B, L)


class Astromer(nn.Module):
    """Astromer encoder with its magnitude reconstruction head.

    Parameters
    ----------
    config : AstromerConfig
        Architecture.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.input_proj = nn.Linear(1, config.d_model)
        self.time_encoding = TimeEncoding(config)
        if config.mask_token:
            self.mask_token = nn.Parameter(torch.zeros(()))
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.head = ReconstructionHead(config)

    def attention_bias(self, obs_mask, hidden):
        """Additive attention bias, broadcastable to (B, H, L, L), or None.

        ``hidden`` marks positions the model must not read: padding and, in
        training, the masked observations. When no position is hidden the
        bias would be all zeros and None is returned, which lets attention
        skip the mask altogether.
        """
        hide = (~obs_mask) | hidden  # (B, L)
        # An exported graph must not depend on the windows it is traced with:
        # it always carries the bias (all zeros adds nothing).
        if not torch.onnx.is_in_onnx_export() and not bool(hide.any()):
            return None
        if self.config.attention == "legacy":
            # The released weights were trained with +1 * min(1, h_i + h_j)
            # added to the logits: hidden positions get *more* weight, not
            # less. Reproduced only so that those weights give their outputs.
            pair = hide.unsqueeze(-1) | hide.unsqueeze(-2)  # (B, L, L)
            return pair.to(torch.float32).unsqueeze(1)  # (B, 1, L, L)
        # Proper key masking. A window always has one real observation, so
        # no row of the softmax is fully masked.
        neg = torch.finfo(torch.float32).min / 2
        bias = torch.zeros(hide.shape, dtype=torch.float32, device=hide.device)
        bias = bias.masked_fill(hide, neg)
        return bias[:, None, None, :]  # (B, 1, 1, L)

    def forward(self, times, mags, obs_mask, hidden=None):
        """Encode windows.

        Parameters
        ----------
        times : torch.Tensor of shape (B, L)
            Window-centred times (0 at padding).
        mags : torch.Tensor of shape (B, L)
            Window-centred magnitudes (0 at padding).
        obs_mask : torch.Tensor of shape (B, L), bool
            True at real observations.
        hidden : torch.Tensor of shape (B, L), bool, default=None
            True at observations hidden from the model (masked pretraining).

        Returns
        -------
        out : dict
            ``"layers"``: list of ``n_layers + 1`` tensors (B, L, D), the
            input embedding then each block's output; ``"reconstruction"``:
            (B, L) predicted magnitudes.
        """
        layers = self.layers(times, mags, obs_mask, hidden)
        return {"layers": layers, "reconstruction": self.head(layers[-1])}

    def layers(self, times, mags, obs_mask, hidden=None):
        """Encode windows without the reconstruction head.

        What :meth:`forward` returns under ``"layers"``, for callers that
        only need the embeddings.

        Parameters
        ----------
        times, mags, obs_mask, hidden
            As in :meth:`forward`.

        Returns
        -------
        layers : list of torch.Tensor of shape (B, L, D)
            ``n_layers + 1`` tensors: the input embedding then each block's
            output.
        """
        obs_mask = obs_mask.bool()
        if hidden is None:
            hidden = torch.zeros_like(obs_mask)
        hidden = hidden.bool() & obs_mask
        mags = mags.to(torch.float32)
        # Hidden magnitudes must not reach the model: Astromer 2 swaps in its
        # trainable token; without one they become 0, the window mean. The
        # authors' released Astromer 2 keeps them (hide_magnitudes=False).
        if self.config.hide_magnitudes:
            token = self.mask_token if self.config.mask_token else mags.new_zeros(())
            mags = torch.where(hidden, token.to(mags.dtype), mags)
        # input_proj(mags) + PE(times), accumulated into the freshly made PE:
        # the projection from one input is an outer product, cheaper as an
        # element-wise multiply-add than as a matrix product with K = 1.
        proj = self.input_proj
        x = self.time_encoding(times)
        x = x.addcmul_(mags.unsqueeze(-1), proj.weight[:, 0]).add_(proj.bias)  # (B, L, D)
        layers = [x]
        bias = self.attention_bias(obs_mask, hidden)
        if bias is not None:
            bias = bias.to(x.dtype)
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x, bias)
            layers.append(x)
        return layers

    def n_parameters(self):
        """Number of parameters, reconstruction head included."""
        return sum(p.numel() for p in self.parameters())
