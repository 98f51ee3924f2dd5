"""Astromer light-curve transformers as scikit-learn estimators."""

from ._classifier import AstromerClassifier
from ._embedder import AstromerEmbedder
from ._lightcurves import LightCurves, as_light_curves
from ._model import Astromer, AstromerConfig

__all__ = [
    "AstromerEmbedder",
    "AstromerClassifier",
    "Astromer",
    "AstromerConfig",
    "LightCurves",
    "as_light_curves",
]
# The package version, read by pyproject.toml (setuptools dynamic metadata) and by
# ``sklearn-astromer --version``.
__version__ = "0.1.0"
