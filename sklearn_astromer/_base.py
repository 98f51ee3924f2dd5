"""What AstromerEmbedder and AstromerClassifier share: parameters, the
encoder's construction, self-supervised training and embedding."""

from __future__ import annotations

import contextlib
import dataclasses
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ._encoding import encode
from ._io import is_saved_model, load_model
from ._lightcurves import as_light_curves, n_regular_columns
from ._model import Astromer, AstromerConfig
from ._net import train

__all__ = ["AstromerBase", "resolve_device", "seeded"]

_SIZES = ("n_layers", "n_heads", "d_model", "d_ff", "window_length")


def resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@contextlib.contextmanager
def seeded(seed):
    """Run torch code with its global RNG seeded, restoring it afterwards.

    Dropout and weight initialisation draw from torch's global generator;
    forking it keeps ``fit`` deterministic without touching the caller's
    random state.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def load_start(weights):
    """Configuration, tensors and extra state of a starting model.

    Parameters
    ----------
    weights : str or path-like
        A folder saved by this package, or anything
        :func:`sklearn_astromer.weights.resolve_weights` accepts (a released
        model's name or archive).
    """
    if is_saved_model(Path(weights)):
        return load_model(weights)
    from .weights import resolve_weights

    return resolve_weights(weights)


class AstromerBase(BaseEstimator):
    """Parameters and machinery common to the Astromer estimators."""

    _parameter_constraints = {
        "weights": [str, Path, None],
        "preset": [StrOptions({"astromer1", "astromer2"})],
        "n_layers": [Interval(Integral, 1, None, closed="left"), None],
        "n_heads": [Interval(Integral, 1, None, closed="left"), None],
        "d_model": [Interval(Integral, 1, None, closed="left"), None],
        "d_ff": [Interval(Integral, 1, None, closed="left"), None],
        "dropout": [Interval(Real, 0, 1, closed="left"), None],
        "window_length": [Interval(Integral, 1, None, closed="left"), None],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "probed_fraction": [Interval(Real, 0, 1, closed="right")],
        "same_fraction": [Interval(Real, 0, 1, closed="both")],
        "random_fraction": [Interval(Real, 0, 1, closed="both")],
        "loss": [StrOptions({"rmse", "weighted_rmse"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "inference_batch_size": [Interval(Integral, 1, None, closed="left")],
        "columns": [dict, None],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # -- configuration -------------------------------------------------------

    def _starting_model(self):
        """Build the encoder to train: from ``weights`` or freshly initialised.

        Returns
        -------
        module : Astromer
        extra : dict
            Estimator state saved with the weights (empty for a new model).
        """
        sizes = {name: getattr(self, name) for name in _SIZES}
        if self.weights is None:
            config = AstromerConfig.preset(self.preset, dropout=self.dropout, **sizes)
            return Astromer(config), {}
        config, state_dict, extra = load_start(self.weights)
        clash = {k: v for k, v in sizes.items() if v is not None and v != getattr(config, k)}
        if clash:
            raise ValueError(
                f"weights={self.weights!r} has a fixed architecture; these settings "
                f"differ from it: {clash}. Leave them as None."
            )
        if self.dropout is not None:
            config = dataclasses.replace(config, dropout=self.dropout)
        module = Astromer(config)
        module.load_state_dict(state_dict)
        return module, extra

    @staticmethod
    def _encode_labels(y, lc):
        """Check class labels against the light curves; return (classes, int64 codes)."""
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if len(y) != len(lc):
            raise ValueError(f"y has {len(y)} labels for {len(lc)} light curves")
        encoder = LabelEncoder()
        return encoder.fit(y).classes_, encoder.transform(y).astype(np.int64)

    def _check_light_curves(self, X, reset):
        """Run X through the input funnel; track ``n_features_in_`` for the
        regular-grid 2-D form only (other forms have no fixed width)."""
        lc = as_light_curves(X, columns=self.columns)
        if reset:
            width = n_regular_columns(X)
            if width is not None:
                self.n_features_in_ = width
            elif hasattr(self, "n_features_in_"):
                del self.n_features_in_
        return lc

    def _seeds(self):
        """Independent seeds for torch and numpy drawn from ``random_state``."""
        rng = check_random_state(self.random_state)
        return int(rng.randint(2**31 - 1)), np.random.default_rng(rng.randint(2**31 - 1))

    # -- training and embedding ------------------------------------------------

    def _fit_encoder(self, lc):
        """Set ``module_``, ``config_``, ``history_`` and ``device_``; return extra state."""
        torch_seed, rng = self._seeds()
        self.device_ = resolve_device(self.device)
        with seeded(torch_seed):
            module, extra = self._starting_model()
            module.to(self.device_)
            self.history_ = []
            if self.max_epochs > 0:
                self.history_ = train(
                    module,
                    lc,
                    max_epochs=self.max_epochs,
                    batch_size=self.batch_size,
                    lr=self.lr,
                    masking={
                        "probed": self.probed_fraction,
                        "same": self.same_fraction,
                        "random": self.random_fraction,
                    },
                    weighted_loss=self.loss == "weighted_rmse",
                    validation_fraction=self.validation_fraction,
                    patience=self.patience,
                    device=self.device_,
                    rng=rng,
                    verbose=self.verbose,
                )
        module.eval()
        self.module_ = module
        self.config_ = module.config
        return extra, torch_seed, rng

    def _encode(self, lc):
        """Per-object pooled layer embeddings of ``lc`` (see :func:`encode`)."""
        return encode(
            self.module_, lc, batch_size=self.inference_batch_size, device=self.device_
        )
