"""Anomaly scores from Astromer's masked reconstruction, as a scikit-learn outlier detector.

A light curve that the model, trained on ordinary objects, cannot predict from its
own observations is unusual. :class:`AstromerOutlierDetector` hides the observations
of each light curve in turn under deterministic hide patterns
(:func:`~sklearn_astromer._reconstruction.hide_folds`), predicts each hidden
magnitude from the visible ones, and scores the object by its residuals, normalised
by the magnitude errors. Optionally the score adds how far the object's embedding lies
from its nearest training embeddings.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import OutlierMixin, _fit_context
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import AstromerBase
from ._reconstruction import reconstruct
from ._training import Seeds

__all__ = ["AstromerOutlierDetector", "reconstruction_errors"]

#: MAD to standard deviation for a normal distribution.
_MAD_TO_STD = 1.4826


def reconstruction_errors(predictions, lc, normalize="errors", error_floor=0.01):
    """Per-object masked-reconstruction error: log of the mean squared normalised residual.

    Parameters
    ----------
    predictions : list of ndarray of shape (n_i,)
        Magnitudes predicted at each observation while it was hidden
        (:func:`~sklearn_astromer._reconstruction.reconstruct` with ``hide=k``).
    lc : LightCurves
        The observed light curves.
    normalize : {"errors", "none"}, default="errors"
        ``"errors"`` divides each residual by ``sqrt(err**2 + error_floor**2)`` (by
        ``error_floor`` alone for light curves without errors), so that a faint, noisy
        star is not anomalous for its noise; ``"none"`` keeps residuals in magnitudes.
    error_floor : float, default=0.01
        Added in quadrature to the errors, in magnitudes: survey errors below ~0.01 mag
        understate the scatter of calibrated photometry.

    Returns
    -------
    errors : ndarray of shape (n_objects,)
        ``log(mean(residual**2))`` over the observations with a prediction.
    """
    pred = np.concatenate(predictions) if len(predictions) else np.zeros(0)
    resid = pred - lc.mag
    if normalize == "errors":
        err = lc.err if lc.err is not None else np.zeros_like(lc.mag)
        resid = resid / np.sqrt(err**2 + error_floor**2)
    sq = np.where(np.isfinite(resid), resid**2, 0.0)
    n = np.add.reduceat(np.isfinite(resid), lc.offsets[:-1]) if len(pred) else np.zeros(0)
    total = np.add.reduceat(sq, lc.offsets[:-1]) if len(pred) else np.zeros(0)
    # A mean of exactly zero (a constant curve predicted exactly) gets a tiny floor.
    return np.log(np.maximum(total / np.maximum(n, 1), 1e-12))


def _robust_scale(values):
    """Median and MAD-based standard deviation (1 when the MAD is 0)."""
    centre = float(np.median(values))
    scale = _MAD_TO_STD * float(np.median(np.abs(values - centre)))
    return centre, scale if scale > 0 else 1.0


class AstromerOutlierDetector(OutlierMixin, AstromerBase):
    """Outlier detection from Astromer's masked-reconstruction error.

    ``fit`` (optionally) fine-tunes the encoder by masked reconstruction on the light
    curves it is given, the ordinary objects, and records the distribution of their
    scores. The anomaly of a light curve is its reconstruction error: each observation
    is hidden once, under ``n_patterns`` deterministic hide patterns, and predicted
    from the visible ones; the squared residuals, divided by the magnitude errors, are
    averaged per object (see :func:`reconstruction_errors`). With ``n_neighbors``, the
    distance from the object's embedding to its nearest training embeddings is added.
    Each part is standardised by its median and MAD over the training light curves, and
    so is their sum.

    Scores follow scikit-learn's conventions: :meth:`score_samples` is higher for
    normal objects; :meth:`decision_function` is negative for outliers; :meth:`predict`
    returns -1 for outliers and +1 for inliers.

    Parameters
    ----------
    weights : str, path-like or None, default="macho"
        Starting model, as for :class:`~sklearn_astromer.AstromerEmbedder`.
    preset, n_layers, n_heads, d_model, d_ff, dropout, window_length, architecture
        Architecture, as for :class:`~sklearn_astromer.AstromerEmbedder`.
    max_epochs : int, default=0
        Epochs of masked self-supervised training on the light curves given to
        ``fit``; 0 (the default) keeps the weights as they are. The released
        Astromer 1 weights were pretrained with the hidden magnitudes still visible to
        the model and put a hidden observation near the window mean, so with them the
        score is in effect a reduced chi-square about the window mean. Five epochs on
        1000 CRTS light curves did not change that, nor the benchmark's scores
        (``benchmarks/README.md``).
    batch_size, lr, probed_fraction, same_fraction, random_fraction, loss
        Self-supervised training, as for :class:`~sklearn_astromer.AstromerEmbedder`.
    validation_fraction, patience
        Early stopping of that training.
    n_patterns : int, default=3
        Deterministic hide patterns: each hides every ``n_patterns``-th run of
        ``block`` observations (a third of each window by default, as in
        pretraining), so each observation is predicted once while hidden.
    block : int, default=1
        Consecutive observations hidden together.
    normalize : {"errors", "none"}, default="errors"
        Residuals divided by the magnitude errors (with a 0.01 mag floor), or in
        magnitudes.
    n_neighbors : int, default=0
        Add the log mean distance to the ``n_neighbors`` nearest training embeddings
        (mean pooling, standardised per dimension); 0 uses the reconstruction error
        alone.
    contamination : "auto" or float, default="auto"
        Share of outliers expected in the training light curves: sets the threshold
        of :meth:`predict` at that quantile of the training scores. ``"auto"``
        calls outlier an object more than 3 robust standard deviations above the
        training median (``offset_ = -3``).
    inference_batch_size : int, default=256
        Windows per forward pass when scoring.
    columns : dict, default=None
        Column names of DataFrame input.
    device : str, default="auto"
        Torch device; ``"auto"`` takes a GPU when there is one.
    random_state : int, RandomState instance or None, default=None
        Seeds the self-supervised training; the scores themselves use no randomness.
    verbose : int, default=0
        Print per-epoch losses and show a progress bar.
    checkpoint_dir : str, path-like or None, default=None
        Folder of per-epoch checkpoints of the self-supervised training, which an
        interrupted ``fit`` resumes (see :class:`~sklearn_astromer.AstromerEmbedder`).
    autocast : {"bfloat16"} or None, default=None
        Train under ``torch.autocast`` in bfloat16 (GPUs); None trains in float32.

    Attributes
    ----------
    module_ : torch.nn.Module
        The encoder with its reconstruction head, in eval mode.
    config_ : AstromerConfig
    history_ : list of dict
        Per-epoch losses of the self-supervised training.
    error_center_, error_scale_ : float
        Median and robust standard deviation of the training reconstruction errors.
    neighbors_ : NearestNeighbors or None
        The training embeddings (``n_neighbors`` > 0).
    offset_ : float
        ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Observations per light curve, only when ``fit`` got a 2-D array.

    See Also
    --------
    sklearn.ensemble.IsolationForest, sklearn.neighbors.LocalOutlierFactor :
        Outlier detectors for feature tables, e.g. of
        :class:`~sklearn_astromer.features.LightCurveFeatures`.

    Examples
    --------
    >>> from sklearn_astromer.anomaly import AstromerOutlierDetector
    >>> from sklearn_astromer.datasets import make_light_curves
    >>> X, _ = make_light_curves(n_per_class=4, classes=["RRab", "EA"], random_state=0)
    >>> detector = AstromerOutlierDetector(weights=None, n_layers=1, d_model=16, d_ff=16,
    ...                                    window_length=32, max_epochs=1,
    ...                                    random_state=0).fit(X)
    >>> detector.predict(X).shape
    (8,)
    """

    _parameter_constraints = {
        **AstromerBase._parameter_constraints,
        "n_patterns": [Interval(Integral, 2, None, closed="left")],
        "block": [Interval(Integral, 1, None, closed="left")],
        "normalize": [StrOptions({"errors", "none"})],
        "n_neighbors": [Interval(Integral, 0, None, closed="left")],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
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
        max_epochs=0,
        batch_size=64,
        lr=1e-3,
        probed_fraction=0.5,
        same_fraction=0.2,
        random_fraction=0.2,
        loss="rmse",
        validation_fraction=0.0,
        patience=5,
        n_patterns=3,
        block=1,
        normalize="errors",
        n_neighbors=0,
        contamination="auto",
        inference_batch_size=256,
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
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.n_patterns = n_patterns
        self.block = block
        self.normalize = normalize
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.inference_batch_size = inference_batch_size
        self.columns = columns
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.autocast = autocast

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fine-tune the encoder on ordinary light curves and calibrate the scores.

        Parameters
        ----------
        X : light curves
            Any form :func:`~sklearn_astromer.as_light_curves` accepts; the objects
            taken as normal.
        y : None
            Ignored.

        Returns
        -------
        self : AstromerOutlierDetector
        """
        lc = self._check_light_curves(X, reset=True)
        if self.n_neighbors and self.n_neighbors >= len(lc):
            raise ValueError(
                f"n_neighbors={self.n_neighbors} needs more training light curves than "
                f"the {len(lc)} given"
            )
        seeds = Seeds.from_random_state(self.random_state)
        module, _ = self._starting_model(seeds)
        self._fit_encoder(lc, module, seeds)

        errors = self._reconstruction_errors(lc)
        self.error_center_, self.error_scale_ = _robust_scale(errors)
        self.neighbors_ = None
        if self.n_neighbors:
            embedding = self._embedding(lc, fit=True)
            self.neighbors_ = NearestNeighbors(n_neighbors=self.n_neighbors).fit(embedding)
            # Training objects are scored without themselves among their neighbours.
            distance = np.log(self.neighbors_.kneighbors()[0].mean(axis=1) + 1e-12)
            self.distance_center_, self.distance_scale_ = _robust_scale(distance)
        raw = sum(self._parts(lc, errors, training=True).values())
        self.score_center_, self.score_scale_ = _robust_scale(raw)
        scores = -(raw - self.score_center_) / self.score_scale_
        if self.contamination == "auto":
            self.offset_ = -3.0
        else:
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return self

    def _parts(self, lc, errors=None, training=False):
        """Standardised parts of the anomaly score, higher = more anomalous.

        Parameters
        ----------
        lc : LightCurves
        errors : ndarray of shape (n_objects,), default=None
            Reconstruction errors already computed (see :func:`reconstruction_errors`).
        training : bool, default=False
            ``lc`` is the training set: each object's neighbours exclude itself.

        Returns
        -------
        parts : dict of str to ndarray of shape (n_objects,)
            ``"reconstruction"``, and ``"neighbors"`` when ``n_neighbors`` > 0.
        """
        if errors is None:
            errors = self._reconstruction_errors(lc)
        parts = {"reconstruction": (errors - self.error_center_) / self.error_scale_}
        if self.neighbors_ is not None:
            if training:
                distances = self.neighbors_.kneighbors()[0]
            else:
                distances = self.neighbors_.kneighbors(self._embedding(lc))[0]
            distance = np.log(distances.mean(axis=1) + 1e-12)
            parts["neighbors"] = (distance - self.distance_center_) / self.distance_scale_
        return parts

    def _combine(self, parts):
        """score_samples from the parts: the standardised sum, negated."""
        raw = sum(parts.values())
        return -(raw - self.score_center_) / self.score_scale_

    def _reconstruction_errors(self, lc):
        predictions = reconstruct(
            self.module_, lc, hide=self.n_patterns, block=self.block,
            batch_size=self.inference_batch_size, device=self.device_,
        )
        return reconstruction_errors(predictions, lc, normalize=self.normalize)

    def _embedding(self, lc, fit=False):
        embedding = self._encode(lc, ["mean"])["mean"].astype(np.float64)
        if fit:
            self.embedding_scaler_ = StandardScaler().fit(embedding)
        return self.embedding_scaler_.transform(embedding)

    def score_samples(self, X):
        """Normality of each light curve: the opposite of its anomaly score.

        Parameters
        ----------
        X : light curves

        Returns
        -------
        scores : ndarray of shape (n_objects,)
            Robust standard deviations below the training median of the combined
            score: the lower, the more anomalous.
        """
        check_is_fitted(self, "offset_")
        lc = self._check_light_curves(X, reset=False)
        return self._combine(self._parts(lc))

    def decision_function(self, X):
        """Score shifted by the threshold: negative for outliers.

        Parameters
        ----------
        X : light curves

        Returns
        -------
        decision : ndarray of shape (n_objects,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """-1 for outliers, +1 for inliers.

        Parameters
        ----------
        X : light curves

        Returns
        -------
        labels : ndarray of shape (n_objects,), int
        """
        return np.where(self.decision_function(X) < 0, -1, 1)
