"""The exceptions featurekit and serving raise.

::

    FeaturekitError
     ├── SpecError          a feature declaration is invalid
     ├── ExportError        a pipeline cannot be turned into an artifact
     │    └── ParityError   onnxruntime and scikit-learn disagree
     ├── ArtifactError      an artifact directory is missing, partial or tampered, or
     │                      its golden rows answer otherwise on this machine
     └── ContractError      (also a ValueError) input broke the artifact's contract

    ParityWarning           (a UserWarning) golden rows failed, loaded anyway

The mapping from these exceptions to HTTP status codes lives in the server, not here.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactError",
    "ContractError",
    "ExportError",
    "FeaturekitError",
    "ParityError",
    "ParityWarning",
    "SpecError",
]


class FeaturekitError(Exception):
    """Base class of every error featurekit raises on purpose."""


class SpecError(FeaturekitError, ValueError):
    """A feature declaration is invalid; the message says what to change."""


class ExportError(FeaturekitError):
    """A fitted pipeline cannot be exported."""


class ParityError(ExportError):
    """onnxruntime and scikit-learn disagree on some rows.

    Attributes
    ----------
    worst : list of dict
        The worst rows: their input values, both runtimes' answers and the difference.
    step : str
        The pipeline step the disagreement was traced to, when it could be traced.
    """

    def __init__(
        self, message: str, *, worst: list[dict[str, Any]] | None = None, step: str = ""
    ) -> None:
        super().__init__(message)
        self.worst = worst or []
        self.step = step


class ArtifactError(FeaturekitError):
    """An artifact is missing, partial, tampered with, or of an unknown format.

    Also raised by ``Predictor.load(verify="strict")`` when the artifact's golden rows
    answer otherwise on this machine's onnxruntime than they were certified to.
    """


class ParityWarning(UserWarning):
    """An artifact's golden rows answer otherwise on this machine, yet it was loaded.

    Emitted by ``Predictor.load(verify="warn")``; the message names the first
    differing row, the onnxruntime version and the CPU.
    """


class ContractError(FeaturekitError, ValueError):
    """Input broke the artifact's contract.

    Attributes
    ----------
    failures : pandas.DataFrame
        One row per failure with the columns ``column``, ``check``, ``failure_case``
        and ``index``.
    """

    def __init__(self, message: str, failures: Any = None) -> None:
        super().__init__(message)
        if failures is None:
            import pandas as pd

            failures = pd.DataFrame(
                columns=["column", "check", "failure_case", "index"]
            )
        self.failures = failures
