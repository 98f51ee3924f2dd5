"""AstromerEmbedder: light curves in, fixed-length embeddings out."""

from __future__ import annotations

import dataclasses
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted

from ._base import AstromerBase
from ._heads import LayerWeightedHead
from ._io import save_model
from ._lightcurves import light_curve_blocks
from ._pooling import POOLINGS, LayerWeighting
from ._training import Seeds, train_head

__all__ = ["AstromerEmbedder"]

#: Light curves embedded at a time by ``transform`` (see ``light_curve_blocks``).
TRANSFORM_BLOCK = 2048


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
    architecture : dict or AstromerConfig, default=None
        Any other architecture field of
        :class:`~sklearn_astromer.AstromerConfig` (e.g. ``{"pe_base": 1000.0}``),
        applied on top of ``preset``; a full ``AstromerConfig`` replaces the
        preset. Saved with the model and restored on load. With ``weights``
        the fields given must match the weights' architecture.
    pooling : {"mean", "max", "layers", "weighted"}, default="mean"
        ``"mean"``: masked mean of the last block over real observations;
        ``"max"``: masked max of the last block; ``"layers"``: masked means
        of the input embedding and of every block, concatenated;
        ``"weighted"``: those per-layer means, each dimension standardised
        with the statistics of the light curves ``fit`` sees, combined with
        softmax weights, learned from ``y`` when ``fit`` gets labels, equal
        otherwise (the classifier's head combines layers the same way).
    max_epochs : int, default=0
        Epochs of self-supervised (masked reconstruction) training before
        embedding; 0 uses the starting weights as they are. The default was
        chosen by measurement: on the few-shot benchmark, fine-tuning the
        released ``macho`` weights for 5 epochs lowered the macro-F1 of a
        random forest on the embedding (CRTS-5: 63.3 to 55.6 at 20 curves per
        class, 68.4 to 63.1 at 100), and each epoch over a few thousand curves
        takes minutes on a CPU. With ``weights=None`` set it above 0: an
        untrained encoder's embedding carries little information.
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
    backend : {"torch", "onnxruntime"}, default="torch"
        What runs the encoder when embedding: PyTorch on ``device``, or
        onnxruntime on CPU (the ``onnx`` extra), on the encoder exported once
        per fit as :meth:`to_onnx` writes it. Both give the same embeddings to
        float32 rounding (cosine > 0.9999); which is faster depends on the
        machine (``benchmarks/throughput.py`` measures both).
    period_features : transformer, default=None
        Used only with weights trained on folded light curves (their architecture's
        ``fold_cycles`` is positive, e.g. ``weights="crts-asas-period"``): a transformer
        whose output includes ``"fourier_period"``, fitted and applied to each input to find
        the periods the curves are folded at. None uses
        :class:`~sklearn_astromer.features.LightCurveFeatures` with its defaults (the
        ``light-curve`` package); pass your own settings, or a cached extractor, to reuse
        features you compute anyway.
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
    checkpoint_dir : str, path-like or None, default=None
        Folder where each training stage writes a checkpoint every epoch
        (``self-supervised.pt``, ``head.pt``): weights, optimiser, random and
        early-stopping state. A ``fit`` with the same data and parameters
        resumes an interrupted stage after its last complete epoch and ends
        with the weights of an uninterrupted run; a completed stage is not
        trained again. A checkpoint of another training is refused. None
        writes none.
    autocast : {"bfloat16"} or None, default=None
        Train under ``torch.autocast`` in bfloat16 (for GPUs that support it;
        weights and losses stay float32). None trains in float32.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained encoder, in eval mode.
    config_ : AstromerConfig
        Its architecture.
    layer_weighting_ : LayerWeighting or None
        For ``pooling="weighted"``: the layer weights and the per-layer
        standardisation (None for other poolings).
    layer_weights_ : ndarray of shape (n_layers + 1,)
        The softmax layer weights of ``layer_weighting_``
        (``pooling="weighted"`` only).
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
        "pooling": [StrOptions(set(POOLINGS))],
        "head_epochs": [Interval(Integral, 1, None, closed="left")],
        "backend": [StrOptions({"torch", "onnxruntime"})],
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
        architecture=None,
        pooling="mean",
        max_epochs=0,
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
        backend="torch",
        period_features=None,
        columns=None,
        device="auto",
        random_state=None,
        verbose=0,
        checkpoint_dir=None,
        autocast=None,
    ):
        self.weights = weights
        self.preset = preset
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.d_model = d_model
        self.d_ff = d_ff
        self.dropout = dropout
        self.window_length = window_length
        self.architecture = architecture
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
        self.backend = backend
        self.period_features = period_features
        self.columns = columns
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.autocast = autocast

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
        labels = None
        if y is not None and POOLINGS[self.pooling].fitted:
            # Checked before training, so that bad labels fail fast.
            _, labels = self._encode_labels(y, lc)
        seeds = Seeds.from_random_state(self.random_state)
        module, extra = self._starting_model(seeds)
        lc = self._model_view(lc, module.config)
        self._fit_encoder(lc, module, seeds)
        self.layer_weighting_ = None
        if POOLINGS[self.pooling].fitted:
            self.layer_weighting_ = self._layer_weighting(lc, labels, extra, seeds)
        return self

    def _layer_weighting(self, lc, labels, extra, seeds):
        """The weighting of ``pooling="weighted"``: saved, learned or equal.

        Saved with the starting weights, it is kept when the encoder is not
        trained and no labels are given; otherwise the standardisation is
        fitted on ``lc`` and the weights are those of a linear classifier on
        the standardised per-layer means (without labels: the saved weights
        of a folder that has no standardisation, else equal).
        """
        saved = extra.get("layer_weighting")
        if saved is not None and labels is None and self.max_epochs == 0:
            return LayerWeighting.from_dict(saved)
        layer_means = self._encode(lc, ["layer_means"])["layer_means"]  # (N, M, D)
        equal = LayerWeighting.equal(layer_means)
        if labels is None:
            # Folders saved before the standardisation hold the weights alone.
            old = extra.get("layer_weights")
            if old is not None and len(old) == len(equal.weights) and self.max_epochs == 0:
                return dataclasses.replace(equal, weights=np.asarray(old, dtype=np.float64))
            return equal
        n_layers, d_model = layer_means.shape[1:]
        with seeds.torch("head"):
            head = LayerWeightedHead(n_layers, d_model, labels.max() + 1, ())
            head.standardize_with(equal).to(self.device_)
            train_head(
                head, layer_means, labels, self._training_config("head"),
                rng=seeds.generator("head"),
            )
        return dataclasses.replace(equal, weights=head.layer_weights().detach().cpu().numpy())

    @property
    def layer_weights_(self):
        if getattr(self, "layer_weighting_", None) is None:
            raise AttributeError("layer_weights_ exists for pooling='weighted' only")
        return self.layer_weighting_.weights

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
        lc = self._model_view(self._check_light_curves(X, reset=False), self.config_)
        pooling = POOLINGS[self.pooling]
        if pooling.fitted and self.layer_weighting_ is None:
            raise ValueError(
                f"pooling={self.pooling!r} combines layers with a weighting learned in fit; "
                f"this embedder was fitted with another pooling: fit it again"
            )
        # Block by block into a preallocated float32 result: the encoder's float64
        # per-object sums and windows exist for one block at a time, so memory beyond
        # the input and the output stays flat however many light curves there are.
        out = np.empty((len(lc), self._n_features_out), dtype=np.float32)
        for start, block in light_curve_blocks(lc, TRANSFORM_BLOCK):
            statistic = self._encode(block, [pooling.statistic])[pooling.statistic]
            out[start:start + len(block)] = pooling.combine(statistic, self.layer_weighting_)
        if _get_output_config("transform", self)["dense"] == "pandas":
            index = pd.Index(lc.ids, name="object_id") if lc.ids is not None else None
            return pd.DataFrame(out, index=index, columns=self.get_feature_names_out())
        return out

    def reconstruct(self, X, hide=None, times=None, *, block=1):
        """Magnitudes predicted by the reconstruction head, one array per light curve.

        Gap filling and resampling: the encoder's reconstruction head predicts the
        magnitudes it is shown, those hidden from it, or those at new times. Windows
        are centred as for :meth:`transform`, except that magnitudes are centred on
        the visible observations only, so that hidden values cannot reach the model;
        the mean is added back, so predictions are in the input's units.

        Parameters
        ----------
        X : light curves
            Any form :func:`~sklearn_astromer.as_light_curves` accepts.
        hide : None, int or sequence of bool arrays, default=None
            Without ``times``, which observations are withheld from the model:

            - None: none; each observation is reconstructed from all of them;
            - an int ``k`` >= 2: ``k`` deterministic hide patterns, the ``j``-th
              hiding runs ``j, j + k, j + 2k, ...`` of ``block`` consecutive
              observations; each observation's prediction is the one made while it
              was hidden (a third of each window with ``k=3``, as in pretraining);
            - one boolean mask per light curve (True = hidden, one value per
              observation in time order): one pass; predictions at every observation.
        times : sequence of 1-D arrays, or 1-D array, default=None
            Predict at these times instead (one array per light curve, or one for
            all), from every observation; ``hide`` must then be None. Each window
            takes up to a third of ``window_length`` new times and the observations
            nearest them.
        block : int, default=1
            With ``hide=k``, consecutive observations hidden together (4 hides a
            CRTS visit of 4 exposures).

        Returns
        -------
        predictions : list of ndarray of shape (n_i,), float64
            Per light curve: predicted magnitudes at its observations (in time
            order) or at its ``times`` (in their order).

        Notes
        -----
        The released Astromer 1 weights (``"macho"``, ``"atlas"``) were pretrained with
        the hidden magnitudes still visible to the model: they reconstruct what they see
        but put hidden observations near the window mean. Fit with ``max_epochs`` > 0
        to teach them to fill in. The time encoding's fastest frequency is 1 radian per
        day, so variations within a night are not resolved.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_astromer import AstromerEmbedder
        >>> from sklearn_astromer.datasets import make_light_curves
        >>> X, _ = make_light_curves(n_per_class=2, random_state=0)
        >>> emb = AstromerEmbedder(weights=None, n_layers=1, d_model=16, d_ff=16,
        ...                        window_length=32, max_epochs=1, random_state=0).fit(X)
        >>> filled = emb.reconstruct(X, hide=3)
        >>> len(filled) == len(X), filled[0].shape == (len(X[0]),)
        (True, True)
        >>> grid = emb.reconstruct(X[:1], times=np.linspace(0, 100, 5))
        >>> grid[0].shape
        (5,)
        """
        from ._reconstruction import reconstruct

        check_is_fitted(self, "module_")
        lc = self._check_light_curves(X, reset=False)
        return reconstruct(
            self.module_, lc, hide=hide, times=times, block=block,
            batch_size=self.inference_batch_size, device=self.device_,
        )

    @property
    def _n_features_out(self):
        return POOLINGS[self.pooling].width(self.config_)

    def save(self, path):
        """Save the fitted encoder (and layer weighting) to a folder.

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
        extra = {}
        if self.layer_weighting_ is not None:
            extra["layer_weighting"] = self.layer_weighting_.to_dict()
        return save_model(path, self.config_, self.module_.state_dict(), extra)

    def to_onnx(self, path, *, layer_means=None, opset=None):
        """Export the fitted encoder to an ONNX file that ``light_curve.embed`` runs.

        The file follows ``light_curve.embed``'s Astromer convention: inputs
        ``input``, ``times`` and ``mask_in`` of shape (B, window_length, 1),
        float32, with per-window mean-centred magnitudes and times and 1 at
        real observations; outputs ``mean``, ``max`` (B, d_model) and
        ``sequence`` (B, window_length, d_model). So
        ``light_curve.embed.Astromer1(onnxruntime.InferenceSession(path))``
        embeds with it. A model card (architecture, weights, preprocessing,
        opset, pooling and layer weighting) is stored in the file's metadata
        and written to ``<path>.json``. Needs the ``onnx`` extra.

        Parameters
        ----------
        path : str or path-like
            The ``.onnx`` file to write.
        layer_means : bool, default=None
            Add the ``layer_means`` output (B, n_layers + 1, d_model), the
            per-layer means the ``"layers"`` and ``"weighted"`` poolings
            combine; None adds it for those poolings only.
        opset : int, default=None
            ONNX opset; None for 18.

        Returns
        -------
        path : pathlib.Path
        """
        from ._onnx import DEFAULT_OPSET, estimator_to_onnx

        return estimator_to_onnx(
            self, path, layer_means=layer_means, opset=opset or DEFAULT_OPSET
        )

    def _encode(self, lc, statistics=("layer_means",)):
        if self.backend == "onnxruntime":
            from ._inference import CPU_CHUNK
            from ._onnx import estimator_encoder

            return estimator_encoder(self).encode(
                lc, statistics, batch_size=min(self.inference_batch_size, CPU_CHUNK)
            )
        return super()._encode(lc, statistics)

    def __getstate__(self):
        # The onnxruntime session cannot be pickled; it is remade on use.
        state = dict(super().__getstate__())
        state.pop("_onnx_encoder", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Embeddings are float32 whatever the input precision.
        tags.transformer_tags.preserves_dtype = []
        return tags
