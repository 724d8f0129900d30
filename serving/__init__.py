"""serving: run featurekit artifacts with onnxruntime, without scikit-learn or pickle."""

from .predictor import Predictor

__all__ = ["Predictor"]
