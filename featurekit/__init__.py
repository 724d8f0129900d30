"""featurekit: ship scikit-learn models without training-serving skew."""

from ._version import __version__
from .derived import Bucketized, Custom, Datetime, Derived, Text
from .errors import (
    ArtifactError,
    ContractError,
    ExportError,
    FeaturekitError,
    ParityError,
    SpecError,
)
from .expr import col, cross, days_between, maximum, minimum, where
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
    "Bucketized",
    "Categorical",
    "ContractError",
    "Custom",
    "Datetime",
    "Derived",
    "Drift",
    "DriftReport",
    "ExportError",
    "FeatureSet",
    "FeaturekitError",
    "Numeric",
    "ParityError",
    "SpecError",
    "Text",
    "__version__",
    "col",
    "cross",
    "days_between",
    "drift",
    "export",
    "load",
    "make_pipeline",
    "maximum",
    "minimum",
    "where",
]
