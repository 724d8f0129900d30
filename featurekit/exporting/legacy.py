"""Read pipelines pickled before featurekit's modules moved into subpackages.

A ``pipeline.joblib`` written by featurekit 0.1 names classes by their old modules
(``featurekit.pipeline.Inputs``, ``featurekit.transformers.Clip``,
``featurekit.spec.FeatureSet``...). `legacy_classes` lets joblib find each of them at
its new home while it unpickles, so artifacts exported before still open on the
training side. Serving never unpickles anything and needs none of this.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LEGACY_MODULES", "find_legacy", "legacy_classes"]

#: Old module -> the modules its names live in now, searched in order.
LEGACY_MODULES: dict[str, tuple[str, ...]] = {
    "featurekit.spec": (
        "featurekit.declare.columns",
        "featurekit.declare.featureset",
        "featurekit.declare.base",
    ),
    "featurekit.derived": ("featurekit.declare.computed", "featurekit.declare.columns"),
    "featurekit.expr": ("featurekit.expr.tree", "featurekit.expr.evaluator"),
    "featurekit.expr_eval": ("featurekit.expr.evaluator",),
    "featurekit.pipeline": ("featurekit.exporting.pipeline",),
    "featurekit.transformers": ("featurekit.transforms.basic",),
    "featurekit.encoders": ("featurekit.transforms.encoders",),
    "featurekit.text": ("featurekit.transforms.text",),
    "featurekit.inputs": (
        "featurekit.contract.columns",
        "featurekit.contract.failures",
        "featurekit.contract.datetimes",
        "featurekit.missing",
    ),
    "featurekit.contract": ("featurekit.contract.schema",),
}
#: Private names that were renamed when they moved.
_RENAMED = {"_DatetimePlan": "DatetimePlan", "_Failures": "Failures"}
_LOCK = threading.Lock()


def find_legacy(module: str, name: str) -> Any:
    """The object that ``module.name`` was before the move.

    Examples
    --------
    >>> find_legacy("featurekit.transformers", "Clip").__module__
    'featurekit.transforms.basic'
    """
    for home in LEGACY_MODULES[module]:
        mod = importlib.import_module(home)
        for candidate in (name, _RENAMED.get(name)):
            if candidate is not None and hasattr(mod, candidate):
                return getattr(mod, candidate)
    raise AttributeError(
        f"{module}.{name} (from a pipeline pickled by an older featurekit) has no "
        "home in this version; re-export the artifact."
    )


@contextmanager
def legacy_classes() -> Iterator[None]:
    """While inside, ``joblib.load`` resolves the old module paths to the new ones."""
    from joblib import numpy_pickle

    with _LOCK:
        original = numpy_pickle.NumpyUnpickler

        class _Legacy(original):  # type: ignore[misc, valid-type]
            def find_class(self, module: str, name: str) -> Any:
                if module in LEGACY_MODULES:
                    return find_legacy(module, name)
                return super().find_class(module, name)

        numpy_pickle.NumpyUnpickler = _Legacy
        try:
            yield
        finally:
            numpy_pickle.NumpyUnpickler = original
