"""serving: run featurekit artifacts with onnxruntime, without scikit-learn or pickle."""

from typing import Any

from .predictor import Predictor
from .split import Split

__all__ = ["Limits", "Predictor", "Split", "create_app"]


def __getattr__(name: str) -> Any:
    # the web stack loads only when asked for: importing serving stays cheap
    if name in ("create_app", "Limits"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module 'serving' has no attribute {name!r}")
