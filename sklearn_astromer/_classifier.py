"""AstromerClassifier: the Astromer 2 recipe as a scikit-learn classifier."""

from __future__ import annotations

import json
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._base import AstromerBase, resolve_device
from ._heads import EncoderClassifier, LayerWeightedHead
from ._io import integrity_error, load_model, save_model
from ._model import Astromer
from ._training import Seeds, train_end_to_end, train_head

__all__ = ["AstromerClassifier"]


class AstromerClassifier(ClassifierMixin, AstromerBase):
    """Classify light curves with an Astromer encoder and an MLP head.

    The Astromer 2 recipe: the encoder is first fine-tuned by masked
    self-supervised reconstruction on the training light curves
    (``max_epochs`` epochs), then the weighted per-layer embedding (softmax
    weights over the input embedding and every block, learned) feeds an MLP
    head (1024-512-256, ReLU, LayerNorm, linear), trained with the encoder
    frozen unless ``train_encoder=True``. Each embedding dimension is
    standardised with training-set statistics before the layers are
    combined (they differ in scale by orders of magnitude). Each light curve gets one
    prediction: its windows' per-layer embeddings are averaged first.

    Parameters
    ----------
    weights, preset, n_layers, n_heads, d_model, d_ff, dropout, window_length, architecture
        The encoder, as in :class:`AstromerEmbedder`.
    max_epochs : int, default=10
        Self-supervised fine-tuning epochs before the head is trained.
    batch_size, lr, probed_fraction, same_fraction, random_fraction, loss
        Self-supervised training, as in :class:`AstromerEmbedder`.
    hidden_layer_sizes : tuple of int, default=(1024, 512, 256)
        ReLU layers of the head (a LayerNorm follows them).
    head_epochs : int, default=100
        Epochs of head training.
    head_lr : float, default=1e-3
        Adam learning rate of the head (and of the encoder when it trains).
    train_encoder : bool, default=False
        Train the encoder with the head, on one random window per light
        curve per epoch, instead of freezing it.
    validation_fraction : float, default=0.0
        Share held out for early stopping, in both stages (stratified for
        the head).
    patience : int, default=5
    inference_batch_size, period_features, columns, device, random_state, verbose
        As in :class:`AstromerEmbedder`.
    checkpoint_dir, autocast
        As in :class:`AstromerEmbedder`; the stages' checkpoints are
        ``self-supervised.pt`` and ``head.pt`` or ``end-to-end.pt``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    module_ : torch.nn.Module
        The encoder.
    head_ : torch.nn.Module
        The layer-weighted MLP head.
    layer_weights_ : ndarray of shape (n_layers + 1,)
        Learned weights of the per-layer embeddings.
    config_ : AstromerConfig
    history_, head_history_ : list of dict
        Per-epoch losses of the two stages.

    Examples
    --------
    >>> from sklearn_astromer import AstromerClassifier
    >>> from sklearn_astromer.datasets import make_light_curves
    >>> X, y = make_light_curves(n_per_class=4, random_state=0)
    >>> clf = AstromerClassifier(weights=None, n_layers=1, d_model=32, d_ff=32, max_epochs=1,
    ...                          hidden_layer_sizes=(32,), head_epochs=5,
    ...                          random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)

    Save it, and load it back to predict alike:

    >>> import tempfile
    >>> folder = clf.save(tempfile.mkdtemp())
    >>> bool((AstromerClassifier.load(folder).predict(X) == clf.predict(X)).all())
    True
    """

    _parameter_constraints = {
        **AstromerBase._parameter_constraints,
        "hidden_layer_sizes": [tuple, list],
        "head_epochs": [Interval(Integral, 1, None, closed="left")],
        "head_lr": [Interval(Real, 0, None, closed="neither")],
        "train_encoder": ["boolean"],
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
        max_epochs=10,
        batch_size=64,
        lr=1e-3,
        probed_fraction=0.5,
        same_fraction=0.2,
        random_fraction=0.2,
        loss="rmse",
        hidden_layer_sizes=(1024, 512, 256),
        head_epochs=100,
        head_lr=1e-3,
        train_encoder=False,
        validation_fraction=0.0,
        patience=5,
        inference_batch_size=256,
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
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.probed_fraction = probed_fraction
        self.same_fraction = same_fraction
        self.random_fraction = random_fraction
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.head_epochs = head_epochs
        self.head_lr = head_lr
        self.train_encoder = train_encoder
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.inference_batch_size = inference_batch_size
        self.period_features = period_features
        self.columns = columns
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.autocast = autocast

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fine-tune the encoder on X, then train the head on (X, y).

        Parameters
        ----------
        X : light curves
            Any form :func:`~sklearn_astromer.as_light_curves` accepts.
        y : array-like of shape (n_objects,)
            Class labels of any type.

        Returns
        -------
        self : AstromerClassifier
        """
        lc = self._check_light_curves(X, reset=True)
        self.classes_, labels = self._encode_labels(y, lc)

        seeds = Seeds.from_random_state(self.random_state)
        module, _ = self._starting_model(seeds)
        lc = self._model_view(lc, module.config)
        self._fit_encoder(lc, module, seeds)
        config = self.config_
        features = self._encode(lc, ["layer_means"])["layer_means"]  # (N, M, D)
        stage = "end-to-end" if self.train_encoder else "head"
        with seeds.torch(stage):
            head = LayerWeightedHead(
                config.n_layers + 1, config.d_model, len(self.classes_), tuple(self.hidden_layer_sizes)
            )
            head.standardize_with(features).to(self.device_)
            training = self._training_config(stage)
            rng = seeds.generator(stage)
            if self.train_encoder:
                model = EncoderClassifier(self.module_, head)
                self.head_history_ = train_end_to_end(model, lc, labels, training, rng=rng)
            else:
                self.head_history_ = train_head(head, features, labels, training, rng=rng)
        self.head_ = head  # left in eval mode by fit_net
        self.layer_weights_ = head.layer_weights().detach().cpu().numpy()
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Each window is centred on its mean magnitude, so on the flat
        # two-observation "light curves" of the generic checks (blobs) the
        # level that separates classes is removed by design.
        tags.classifier_tags.poor_score = True
        return tags

    @torch.inference_mode()
    def predict_proba(self, X):
        """Class probabilities, one row per light curve.

        Parameters
        ----------
        X : light curves

        Returns
        -------
        proba : ndarray of shape (n_objects, n_classes)
        """
        check_is_fitted(self, "head_")
        lc = self._model_view(self._check_light_curves(X, reset=False), self.config_)
        features = self._encode(lc, ["layer_means"])["layer_means"]
        features = torch.from_numpy(features).to(self.device_)
        logits = self.head_(features)
        return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def predict(self, X):
        """Most probable class of each light curve.

        Parameters
        ----------
        X : light curves

        Returns
        -------
        labels : ndarray of shape (n_objects,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # -- saving and loading ----------------------------------------------------

    #: Parameters saved with the model, restored by :meth:`load` (the others
    #: concern training, which a loaded classifier starts from ``weights``).
    _SAVED_PARAMS = ("preset", "hidden_layer_sizes", "inference_batch_size", "columns")

    def save(self, path):
        """Save the fitted classifier to a folder: encoder, head and classes.

        The folder has the format of :meth:`AstromerEmbedder.save`
        (``config.json`` + ``model.safetensors``, SHA-256 verified, no
        pickle); :meth:`load` reads it back, and ``weights=path`` uses its
        encoder alone (in either estimator).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : pathlib.Path

        Raises
        ------
        ValueError
            If ``classes_`` cannot be written as JSON (labels other than
            strings, numbers or booleans).
        """
        check_is_fitted(self, "head_")
        classes = self.classes_
        kind = "object" if classes.dtype == object else classes.dtype.str
        values = classes.tolist()
        if any(not isinstance(v, (str, int, float, bool)) for v in values):
            raise ValueError(
                "save() stores classes_ as JSON: labels must be strings, numbers or "
                f"booleans, not {sorted({type(v).__name__ for v in values})}"
            )
        params = self.get_params()
        extra = {
            "classifier": {
                "classes": values,
                "classes_dtype": kind,
                "n_classes": len(values),
                "n_layers": int(self.head_.gamma.shape[0]),
                "hidden_layer_sizes": [int(v) for v in self.hidden_layer_sizes],
                "params": {k: params[k] for k in self._SAVED_PARAMS},
            }
        }
        if hasattr(self, "n_features_in_"):
            extra["classifier"]["n_features_in"] = int(self.n_features_in_)
        json.dumps(extra)  # fail here, not halfway through writing, on odd params
        head = {f"head.{k}": v for k, v in self.head_.state_dict().items()}
        return save_model(path, self.config_, self.module_.state_dict(), extra, head)

    @classmethod
    def load(cls, path, *, device="auto"):
        """A fitted classifier from a folder written by :meth:`save`.

        Its files are checked against the SHA-256 recorded when saving. The
        classifier predicts as the saved one did; its ``weights`` is
        ``path``, so fitting it again starts from the saved encoder.

        Parameters
        ----------
        path : str or path-like
        device : str, default="auto"

        Returns
        -------
        clf : AstromerClassifier

        Raises
        ------
        WeightsIntegrityError
            If the files are damaged or were changed after saving.
        ValueError
            If ``path`` holds no saved classifier (an embedder's folder, say).
        """
        path = Path(path)
        config, state_dict, extra, tensors = load_model(path, extra_tensors=True)
        saved = extra.get("classifier")
        if saved is None:
            raise ValueError(
                f"{path} holds an encoder but no classifier; use it as "
                "AstromerClassifier(weights=path) and fit"
            )
        config_file = path / "config.json"
        try:
            dtype = np.dtype(saved["classes_dtype"])
            classes = np.asarray(saved["classes"], dtype=dtype)
            sizes = tuple(int(v) for v in saved["hidden_layer_sizes"])
            params = dict(saved.get("params", {}))
            params["hidden_layer_sizes"] = sizes
            clf = cls(weights=str(path), device=device, **params)
            head = LayerWeightedHead(config.n_layers + 1, config.d_model, len(classes), sizes)
            prefix = "head."
            head.load_state_dict(
                {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            )
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise integrity_error(
                config_file, f"its classifier cannot be rebuilt ({exc})",
                "Save the classifier again",
            ) from exc
        clf.device_ = resolve_device(device)
        module = Astromer(config)
        module.load_state_dict(state_dict)
        clf.module_ = module.to(clf.device_).eval()
        clf.config_ = config
        clf.head_ = head.to(clf.device_).eval()
        clf.classes_ = classes
        clf.layer_weights_ = head.layer_weights().detach().cpu().numpy()
        clf.history_ = []
        clf.head_history_ = []
        if "n_features_in" in saved:
            clf.n_features_in_ = int(saved["n_features_in"])
        return clf
