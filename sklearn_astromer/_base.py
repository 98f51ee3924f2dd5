"""What AstromerEmbedder and AstromerClassifier share: parameters, the
encoder's construction, self-supervised training and embedding."""

from __future__ import annotations

import dataclasses
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ._inference import encode
from ._io import is_saved_model, load_model
from ._lightcurves import check_light_curves
from ._model import Astromer, AstromerConfig
from ._training import TrainingConfig, train_self_supervised

__all__ = ["AstromerBase", "resolve_device"]

#: Architecture sizes that are estimator parameters of their own.
_SIZES = ("n_layers", "n_heads", "d_model", "d_ff", "window_length")


def resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


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
        "architecture": [dict, AstromerConfig, None],
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
        "period_features": [HasMethods(["fit", "transform", "get_feature_names_out"]), None],
        "columns": [dict, None],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "checkpoint_dir": [str, Path, None],
        "autocast": [StrOptions({"bfloat16"}), None],
    }

    # -- configuration -------------------------------------------------------

    def _architecture_overrides(self):
        """Architecture fields set by the estimator: ``architecture`` then the sizes.

        Returns
        -------
        overrides : dict
            Field name -> value, without None values.
        """
        arch = self.architecture
        if isinstance(arch, AstromerConfig):
            arch = arch.to_dict()
        overrides = dict(arch or {})
        known = {f.name for f in dataclasses.fields(AstromerConfig)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(
                f"architecture has unknown fields {sorted(unknown)}; "
                f"AstromerConfig has {sorted(known)}"
            )
        for name in _SIZES + ("dropout",):
            value = getattr(self, name)
            if value is None:
                continue
            if overrides.get(name, value) != value:
                raise ValueError(
                    f"{name}={value} contradicts architecture[{name!r}]="
                    f"{overrides[name]}; set it in one place"
                )
            overrides[name] = value
        return {k: v for k, v in overrides.items() if v is not None}

    def _starting_model(self, seeds):
        """Build the encoder to train: from ``weights`` or freshly initialised.

        Parameters
        ----------
        seeds : Seeds
            Its ``"initialisation"`` torch seed draws random weights.

        Returns
        -------
        module : Astromer
        extra : dict
            Estimator state saved with the weights (empty for a new model).
        """
        overrides = self._architecture_overrides()
        if self.weights is None:
            if isinstance(self.architecture, AstromerConfig):
                config = dataclasses.replace(self.architecture, **overrides)
            else:
                config = AstromerConfig.preset(self.preset, **overrides)
            with seeds.torch("initialisation"):
                return Astromer(config), {}
        config, state_dict, extra = load_start(self.weights)
        # Dropout and whether hidden magnitudes are withheld change training only
        # (the released Astromer 2 keeps them; hide_magnitudes=True withholds them);
        # everything else is fixed by the weights.
        dropout = overrides.pop("dropout", None)
        training_only = {k: overrides.pop(k) for k in ("hide_magnitudes",) if k in overrides}
        clash = {k: v for k, v in overrides.items() if v != getattr(config, k)}
        if clash:
            raise ValueError(
                f"weights={self.weights!r} has a fixed architecture; these settings "
                f"differ from it: {clash}. Leave them as None."
            )
        if dropout is not None:
            config = dataclasses.replace(config, dropout=dropout)
        if training_only:
            config = dataclasses.replace(config, **training_only)
        module = Astromer(config)
        module.load_state_dict(state_dict)
        return module, extra

    def _training_config(self, stage):
        """The :class:`TrainingConfig` of a stage from the estimator's parameters.

        Parameters
        ----------
        stage : {"self-supervised", "head", "end-to-end"}
            The supervised stages train ``head_epochs`` epochs at ``head_lr``
            (the embedder, which has no ``head_lr``, learns its layer
            weights at ``lr``).
        """
        supervised = stage != "self-supervised"
        return TrainingConfig(
            max_epochs=self.head_epochs if supervised else self.max_epochs,
            batch_size=self.batch_size,
            lr=getattr(self, "head_lr", self.lr) if supervised else self.lr,
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            device=self.device_,
            verbose=self.verbose,
            checkpoint=(
                None if self.checkpoint_dir is None
                else str(Path(self.checkpoint_dir) / f"{stage}.pt")
            ),
            autocast=None if self.autocast is None else getattr(torch, self.autocast),
        )

    def _encode_labels(self, y, lc):
        """Check class labels against the light curves; return (classes, int64 codes).

        Called before any training, so that labels no fit can use fail at once: a
        missing label (None, NaN), labels of types that cannot be sorted together, a
        single class, and, when ``validation_fraction`` holds out a stratified share, a
        class with one light curve or too few light curves for one of each class.
        """
        import pandas as pd

        from ._lightcurves import _object_name
        from ._training import split_objects

        y = column_or_1d(y, warn=True)
        if len(y) != len(lc):
            raise ValueError(f"y has {len(y)} labels for {len(lc)} light curves")
        if y.dtype == object:
            missing = [k for k, label in enumerate(y) if pd.api.types.is_scalar(label)
                       and pd.isna(label)]
            if missing:
                raise ValueError(
                    f"y has {len(missing)} missing label(s) (None or NaN), the first for "
                    f"{_object_name(missing[0], lc.ids)}; every light curve needs a class: "
                    "drop the unlabelled ones before fitting"
                )
        # Strings among numbers: numpy cannot sort them (TypeError), and scikit-learn
        # calls the labels "unknown" when a number comes first.
        mixed = y.dtype == object and len({isinstance(label, str) for label in y}) > 1
        try:
            if mixed:
                raise TypeError("strings among other labels")
            check_classification_targets(y)
            encoder = LabelEncoder().fit(y)
            classes, codes = encoder.classes_, encoder.transform(y)
        except TypeError as exc:
            types = sorted({type(label).__name__ for label in y})
            raise ValueError(
                f"y mixes labels of types {types}, which cannot be sorted into classes; "
                "give every label the same type (e.g. y.astype(str))"
            ) from exc
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {classes.tolist()[0]!r}"
            )
        if self.validation_fraction:
            counts = np.bincount(codes, minlength=len(classes))
            single = classes[counts < 2]
            if len(single):
                raise ValueError(
                    f"class(es) {single.tolist()} have a single light curve, but "
                    f"validation_fraction={self.validation_fraction} holds out a share "
                    "stratified by class, which needs at least 2 of each; add light "
                    "curves of these classes, drop them, or set validation_fraction=0"
                )
            try:
                # The split the training will make, on indices only: its errors now.
                split_objects(len(codes), self.validation_fraction,
                              np.random.default_rng(0), codes)
            except ValueError as exc:
                raise ValueError(
                    f"validation_fraction={self.validation_fraction} cannot hold out a "
                    f"share of {len(codes)} light curves stratified by their "
                    f"{len(classes)} classes: {exc}"
                ) from exc
        return classes, codes.astype(np.int64)

    def _check_light_curves(self, X, reset):
        """Run X through the input funnel (see :func:`check_light_curves`).

        With ``reset`` (at the start of ``fit``) the previous fit's
        attributes are removed first, so that a fit that fails or is
        interrupted leaves an unfitted estimator, not a mix of two fits.
        """
        if reset:
            for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
                delattr(self, name)
        return check_light_curves(self, X, reset=reset)

    # -- training and embedding ------------------------------------------------

    def _model_view(self, lc, config):
        """The light curves as the model reads them.

        Folded at each curve's best period over ``config.fold_cycles`` cycles and thinned
        to ``config.window_length`` observations (see
        :func:`sklearn_astromer.periods.fold_light_curves`) for a model trained on folded
        curves; unchanged otherwise.

        Parameters
        ----------
        lc : LightCurves
        config : AstromerConfig

        Returns
        -------
        view : LightCurves
        """
        if not config.fold_cycles:
            return lc
        from .periods import find_periods, fold_light_curves

        features = None if self.period_features is None else clone(self.period_features)
        return fold_light_curves(
            lc, find_periods(lc, features=features), config.fold_cycles,
            max_observations=config.window_length,
        )

    def _fit_encoder(self, lc, module, seeds):
        """Train ``module`` by masked reconstruction on ``lc`` (``max_epochs`` > 0);
        set ``module_``, ``config_``, ``history_`` and ``device_``.

        Parameters
        ----------
        lc : LightCurves
        module : Astromer
            The starting model (see :meth:`_starting_model`).
        seeds : Seeds
        """
        self.device_ = resolve_device(self.device)
        module.to(self.device_)
        history = []
        if self.max_epochs > 0:
            with seeds.torch("self-supervised"):
                history = train_self_supervised(
                    module,
                    lc,
                    self._training_config("self-supervised"),
                    masking={
                        "probed": self.probed_fraction,
                        "same": self.same_fraction,
                        "random": self.random_fraction,
                    },
                    weighted_loss=self.loss == "weighted_rmse",
                    rng=seeds.generator("self-supervised"),
                )
        module.eval()
        self.history_ = history
        self.module_ = module
        self.config_ = module.config

    def _encode(self, lc, statistics=("layer_means",)):
        """Per-object statistics of ``lc`` (see :func:`~sklearn_astromer._inference.encode`)."""
        return encode(
            self.module_, lc, statistics, batch_size=self.inference_batch_size,
            device=self.device_,
        )
