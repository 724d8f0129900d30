"""featurekit: ship scikit-learn models without training-serving skew."""

from ._version import __version__
from .errors import (
    ArtifactError,
    ContractError,
    ExportError,
    FeaturekitError,
    ParityError,
    SpecError,
)
from .spec import Categorical, FeatureSet, Numeric


# training-side names load lazily, so that serving never pays for scikit-learn
def __getattr__(name: str) -> object:
    if name == "make_pipeline":
        from .pipeline import make_pipeline

        return make_pipeline
    if name in ("export", "load", "Artifact"):
        from . import exporter

        return getattr(exporter, name)
    if name in ("drift", "Drift", "DriftReport"):
        from . import detection

        return getattr(detection, name)
    raise AttributeError(f"module 'featurekit' has no attribute {name!r}")


__all__ = [
    "Artifact",
    "ArtifactError",
    "Categorical",
    "ContractError",
    "Drift",
    "DriftReport",
    "ExportError",
    "FeatureSet",
    "FeaturekitError",
    "Numeric",
    "ParityError",
    "SpecError",
    "__version__",
    "drift",
    "export",
    "load",
    "make_pipeline",
]
