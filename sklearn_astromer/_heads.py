"""Classification heads on per-layer embeddings (torch)."""

from __future__ import annotations

import torch
from torch import nn

from ._pooling import STATISTICS, LayerWeighting

__all__ = ["LayerWeightedHead", "EncoderClassifier"]


class LayerWeightedHead(nn.Module):
    """Softmax-weighted sum of per-layer embeddings, then an MLP.

    The Astromer 2 "skip" embedding: ``sum_m softmax(gamma)_m Z_m`` over
    the input embedding and every block, with ``gamma`` learned together
    with the classifier (initialised equal).

    Parameters
    ----------
    n_layers : int
        Number of per-layer embeddings (blocks + 1).
    d_model : int
        Embedding width.
    n_classes : int
    hidden_layer_sizes : tuple of int, default=(1024, 512, 256)
        ReLU layers, followed by a LayerNorm; ``()`` gives a linear head.
    """

    def __init__(self, n_layers, d_model, n_classes, hidden_layer_sizes=(1024, 512, 256)):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(n_layers))
        # Per-layer embeddings differ in scale by orders of magnitude (the
        # input embedding's mean barely varies between objects); each
        # dimension is standardised with statistics of the training set.
        self.register_buffer("center", torch.zeros(n_layers, d_model))
        self.register_buffer("scale", torch.ones(n_layers, d_model))
        layers, width = [], d_model
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        if hidden_layer_sizes:
            layers.append(nn.LayerNorm(width))
        layers.append(nn.Linear(width, n_classes))
        self.mlp = nn.Sequential(*layers)

    def standardize_with(self, layers):
        """Set the standardisation from training embeddings.

        Parameters
        ----------
        layers : ndarray of shape (N, M, D) or LayerWeighting
            Training per-layer means, or a :class:`LayerWeighting` already
            fitted on them (its centre and scale are used): the head and the
            embedder's ``"weighted"`` pooling standardise alike.
        """
        weighting = layers if isinstance(layers, LayerWeighting) else LayerWeighting.equal(layers)
        self.center.copy_(torch.from_numpy(weighting.center))
        self.scale.copy_(torch.from_numpy(weighting.scale))
        return self

    def layer_weights(self):
        """Softmax of ``gamma``, shape (n_layers,)."""
        return torch.softmax(self.gamma, dim=0)

    def forward(self, layers):
        """Logits (B, C) from per-layer embeddings ``layers`` (B, M, D)."""
        layers = (layers - self.center) / self.scale
        pooled = torch.einsum("bmd,m->bd", layers, self.layer_weights())
        return self.mlp(pooled)


class EncoderClassifier(nn.Module):
    """An Astromer encoder and a :class:`LayerWeightedHead`, trained together.

    ``forward`` takes windows and returns logits from the masked mean of
    every layer over the real observations of each window.
    """

    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, times, mags, obs_mask):
        # Embeddings only: the reconstruction head's output would be thrown away.
        layers = self.encoder.layers(times, mags, obs_mask)
        # The same per-layer masked means as inference: (B, M, D).
        return self.head(STATISTICS["layer_means"](layers, obs_mask))  # (B, C)
