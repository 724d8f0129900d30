"""featurekit: ship scikit-learn models without training-serving skew.

The declarations, expressions and errors load eagerly (they are light). The training
side (`make_pipeline`, `export`, `load`, `Artifact`), offline drift (`drift`,
`Drift`, `DriftReport`) and the champion/challenger gate (`compare`, `Comparison`)
load on first use, so that serving never pays for
scikit-learn; the ``TYPE_CHECKING`` imports give type checkers their real signatures.
"""

from typing import TYPE_CHECKING, Any

from featurekit._version import __version__
from featurekit.declare.columns import Categorical, Datetime, Numeric, Text
from featurekit.declare.computed import Bucketized, Custom, Derived
from featurekit.declare.expansions import Polynomial, Splines
from featurekit.declare.featureset import FeatureSet
from featurekit.errors import (
    ArtifactError,
    ContractError,
    ExportError,
    FeaturekitError,
    ParityError,
    SpecError,
)
from featurekit.expr.tree import col, cross, days_between, maximum, minimum, where

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers only
    from featurekit.comparing import Comparison, compare
    from featurekit.detection import Drift, DriftReport, drift
    from featurekit.exporting.exporter import Artifact, export, load
    from featurekit.exporting.pipeline import make_pipeline
    from featurekit.outcomes.evaluation import EvaluationReport, evaluate
    from featurekit.outcomes.reading import PredictionLog


# training-side names load lazily, so that serving never pays for scikit-learn
def __getattr__(name: str) -> Any:
    if name == "make_pipeline":
        from featurekit.exporting.pipeline import make_pipeline

        return make_pipeline
    if name in ("export", "load", "Artifact"):
        from featurekit.exporting import exporter

        return getattr(exporter, name)
    if name in ("compare", "Comparison"):
        from featurekit import comparing

        return getattr(comparing, name)
    if name in ("evaluate", "EvaluationReport"):
        from featurekit.outcomes import evaluation

        return getattr(evaluation, name)
    if name == "PredictionLog":
        from featurekit.outcomes.reading import PredictionLog

        return PredictionLog
    if name in ("drift", "Drift", "DriftReport"):
        from featurekit import detection

        return getattr(detection, name)
    raise AttributeError(f"module 'featurekit' has no attribute {name!r}")


__all__ = [
    "Artifact",
    "ArtifactError",
    "Bucketized",
    "Categorical",
    "Comparison",
    "ContractError",
    "Custom",
    "Datetime",
    "Derived",
    "Drift",
    "DriftReport",
    "EvaluationReport",
    "ExportError",
    "FeatureSet",
    "FeaturekitError",
    "Numeric",
    "ParityError",
    "Polynomial",
    "PredictionLog",
    "SpecError",
    "Splines",
    "Text",
    "__version__",
    "col",
    "compare",
    "cross",
    "days_between",
    "drift",
    "evaluate",
    "export",
    "load",
    "make_pipeline",
    "maximum",
    "minimum",
    "where",
]
