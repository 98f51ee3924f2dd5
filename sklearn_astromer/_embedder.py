"""AstromerEmbedder: light curves in, fixed-length embeddings out."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from ._base import AstromerBase, seeded
from ._heads import LayerWeightedHead
from ._io import save_model
from ._net import fit_head

__all__ = ["AstromerEmbedder"]


class AstromerEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, AstromerBase):
    """Embed light curves with an Astromer encoder.

    ``fit`` trains the encoder by masked self-supervised reconstruction on
    the light curves it is given (from random initialisation, or
    fine-tuning ``weights``); ``transform`` returns one fixed-length row per
    light curve, whatever its length: windows of at most ``window_length``
    observations cover the whole curve and their embeddings are averaged.

    Parameters
    ----------
    weights : str, path-like or None, default="macho"
        Starting model: a released model's name (``"macho"``, ``"atlas"``,
        see :mod:`sklearn_astromer.weights`), an official archive, or a
        folder written by :meth:`save`. None trains from random
        initialisation with the ``preset`` architecture.
    preset : {"astromer1", "astromer2"}, default="astromer1"
        Architecture family when ``weights`` is None: ``"astromer1"`` is the
        released architecture (no residuals, legacy attention term),
        ``"astromer2"`` the 6-block model with residuals, key masking and a
        [MASK] token.
    n_layers, n_heads, d_model, d_ff, window_length : int, default=None
        Override the preset's sizes (None keeps them). Must be None when
        ``weights`` fixes the architecture.
    dropout : float, default=None
        Dropout rate; None keeps the preset's or the weights' (0.1).
    pooling : {"mean", "max", "layers", "weighted"}, default="mean"
        ``"mean"``: masked mean of the last block over real observations;
        ``"max"``: masked max of the last block; ``"layers"``: masked means
        of the input embedding and of every block, concatenated;
        ``"weighted"``: those per-layer means combined with softmax weights,
        learned from ``y`` when ``fit`` gets labels, equal otherwise.
    max_epochs : int, default=10
        Epochs of self-supervised training; 0 uses the starting weights as
        they are.
    batch_size : int, default=64
        Light curves per training step.
    lr : float, default=1e-3
        Adam learning rate.
    probed_fraction, same_fraction, random_fraction : float, default=0.5, 0.2, 0.2
        Nested masking fractions: the share of a window's observations that
        enter the loss; of those, the share kept unchanged; of the rest, the
        share replaced by another observation's magnitude (the remainder is
        hidden).
    loss : {"rmse", "weighted_rmse"}, default="rmse"
        Masked RMSE, or the Astromer 2 uncertainty-weighted one (needs
        errors; uniform weights without).
    validation_fraction : float, default=0.0
        Share of light curves held out for early stopping; the best epoch's
        weights are kept. 0 trains for ``max_epochs``. Also used, stratified,
        when learning the ``"weighted"`` layer weights.
    patience : int, default=5
        Epochs without validation improvement before stopping.
    head_epochs : int, default=100
        Epochs of the linear classifier that learns the ``"weighted"``
        layer weights when ``y`` is given.
    inference_batch_size : int, default=256
        Windows per forward pass in ``transform``.
    columns : dict, default=None
        Column names of DataFrame input, overriding
        ``{"id": "object_id", "time": "mjd", "mag": "mag", "err": "mag_err"}``.
    device : str, default="auto"
        Torch device; ``"auto"`` takes a GPU when there is one.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, windows, masks, shuffling and dropout; with an
        int, ``fit`` is deterministic on CPU.
    verbose : int, default=0
        Print per-epoch losses and show a progress bar.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained encoder, in eval mode.
    config_ : AstromerConfig
        Its architecture.
    layer_weights_ : ndarray of shape (n_layers + 1,)
        Weights of the per-layer embeddings for ``pooling="weighted"``.
    history_ : list of dict
        Per-epoch losses of the self-supervised training.
    n_features_in_ : int
        Observations per light curve, only when ``fit`` got a 2-D array
        (the regular-grid form).

    Examples
    --------
    >>> from sklearn_astromer import AstromerEmbedder
    >>> from sklearn_astromer.datasets import make_light_curves
    >>> X, y = make_light_curves(n_per_class=4, random_state=0)
    >>> emb = AstromerEmbedder(weights=None, n_layers=1, d_model=32, d_ff=32, max_epochs=1,
    ...                        random_state=0).fit(X)
    >>> emb.transform(X).shape
    (24, 32)
    """

    _parameter_constraints = {
        **AstromerBase._parameter_constraints,
        "pooling": [StrOptions({"mean", "max", "layers", "weighted"})],
        "head_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        weights="macho",
        *,
        preset="astromer1",
        n_layers=None,
        n_heads=None,
        d_model=None,
        d_ff=None,
        dropout=None,
        window_length=None,
        pooling="mean",
        max_epochs=10,
        batch_size=64,
        lr=1e-3,
        probed_fraction=0.5,
        same_fraction=0.2,
        random_fraction=0.2,
        loss="rmse",
        validation_fraction=0.0,
        patience=5,
        head_epochs=100,
        inference_batch_size=256,
        columns=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.weights = weights
        self.preset = preset
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.d_model = d_model
        self.d_ff = d_ff
        self.dropout = dropout
        self.window_length = window_length
        self.pooling = pooling
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.probed_fraction = probed_fraction
        self.same_fraction = same_fraction
        self.random_fraction = random_fraction
        self.loss = loss
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.head_epochs = head_epochs
        self.inference_batch_size = inference_batch_size
        self.columns = columns
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the encoder on light curves by masked reconstruction.

        Parameters
        ----------
        X : light curves
            Any form :func:`~sklearn_astromer.as_light_curves` accepts.
        y : array-like of shape (n_objects,), default=None
            Labels, used only to learn the layer weights of
            ``pooling="weighted"``.

        Returns
        -------
        self : AstromerEmbedder
        """
        lc = self._check_light_curves(X, reset=True)
        learn_weights = y is not None and self.pooling == "weighted"
        if learn_weights:
            # Checked before training, so that bad labels fail fast.
            _, labels = self._encode_labels(y, lc)
        extra, torch_seed, _ = self._fit_encoder(lc)
        n = self.config_.n_layers + 1
        saved = extra.get("layer_weights")
        self.layer_weights_ = (
            np.asarray(saved, dtype=np.float32) if saved is not None and len(saved) == n
            else np.full(n, 1.0 / n, dtype=np.float32)
        )
        if learn_weights:
            self.layer_weights_ = self._learn_layer_weights(lc, labels, torch_seed)
        return self

    def _learn_layer_weights(self, lc, labels, seed):
        """Softmax layer weights of a linear classifier on per-layer means."""
        features = self._encode(lc).means
        with seeded(seed):
            head = LayerWeightedHead(features.shape[1], features.shape[2], labels.max() + 1, ())
            fit_head(
                head,
                features,
                labels,
                max_epochs=self.head_epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                validation_fraction=self.validation_fraction,
                patience=self.patience,
                device=self.device_,
                verbose=self.verbose,
            )
        return head.layer_weights().detach().cpu().numpy()

    def transform(self, X):
        """Embed light curves, one row per object.

        Parameters
        ----------
        X : light curves
            Any form :func:`~sklearn_astromer.as_light_curves` accepts.

        Returns
        -------
        embeddings : ndarray of shape (n_objects, n_features), float32
            A DataFrame indexed by object id (when known) under
            ``set_output(transform="pandas")``.
        """
        check_is_fitted(self, "module_")
        lc = self._check_light_curves(X, reset=False)
        emb = self._encode(lc)
        if self.pooling == "mean":
            out = emb.means[:, -1]
        elif self.pooling == "max":
            out = emb.maxes
        elif self.pooling == "layers":
            out = emb.means.reshape(len(lc), -1)
        else:
            out = np.einsum("nmd,m->nd", emb.means, self.layer_weights_)
        out = np.ascontiguousarray(out, dtype=np.float32)
        if _get_output_config("transform", self)["dense"] == "pandas":
            index = pd.Index(lc.ids, name="object_id") if lc.ids is not None else None
            return pd.DataFrame(out, index=index, columns=self.get_feature_names_out())
        return out

    @property
    def _n_features_out(self):
        layers = self.config_.n_layers + 1 if self.pooling == "layers" else 1
        return layers * self.config_.d_model

    def save(self, path):
        """Save the fitted encoder (and layer weights) to a folder.

        The folder (``config.json`` + ``model.safetensors``, no pickle) is
        accepted back by ``weights=path``.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : pathlib.Path
        """
        check_is_fitted(self, "module_")
        extra = {"layer_weights": self.layer_weights_.tolist()}
        return save_model(path, self.config_, self.module_.state_dict(), extra)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Embeddings are float32 whatever the input precision.
        tags.transformer_tags.preserves_dtype = []
        return tags
