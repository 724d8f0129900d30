"""`Predictor`: load a verified artifact and score records with onnxruntime alone.

Serving never imports scikit-learn, skl2onnx or joblib, and never unpickles anything:
it reads ``model.onnx``, ``features.json`` and ``manifest.json`` after checking every
file's sha256.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from featurekit.artifact import Manifest, read_manifest
from featurekit.errors import ArtifactError, SpecError
from featurekit.inputs import Columns
from featurekit.runtime import Session
from featurekit.spec import FeatureSet

__all__ = ["Predictor"]


class Predictor:
    """Score records with an exported artifact, exactly as its certificate was proven.

    Use `Predictor.load`; the constructor is for artifacts already in memory.

    Attributes
    ----------
    name, version : str, int
        From the FeatureSet.
    kind : {"classifier", "regressor"}
    classes_ : ndarray
        Class labels, in the column order of `predict_proba` (classifiers only).
    sha256 : str
        The hash of ``model.onnx``, which identifies the model being served.
    manifest : dict
        Everything the artifact recorded, including the parity certificate.

    Examples
    --------
    >>> from serving import Predictor
    >>> Predictor.load("no/such/artifact")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """

    def __init__(
        self,
        model: bytes,
        features: FeatureSet,
        manifest: Manifest,
        *,
        threads: int | None = None,
    ) -> None:
        self.features = features
        self.manifest = manifest
        self.name = features.name
        self.version = features.version
        self.kind = manifest["kind"]
        self.sha256 = manifest["files"]["model.onnx"]
        categories = {
            col: list(spec["categories"])
            for col, spec in manifest["inputs"].items()
            if "categories" in spec
        }
        domains = {
            col: (
                -np.inf if spec["domain"][0] is None else spec["domain"][0],
                np.inf if spec["domain"][1] is None else spec["domain"][1],
            )
            for col, spec in manifest["inputs"].items()
            if "domain" in spec
        }
        self._columns = Columns(features, categories, domains)
        for f in features.features:
            declared = manifest["inputs"].get(f.name, {}).get("type")
            if declared != self._columns.onnx_type(f):
                raise ArtifactError(
                    f"Artifact {self.name!r}: input {f.name!r} is typed {declared!r} in the "
                    f"manifest but {self._columns.onnx_type(f)!r} by features.json."
                )
        self._session = Session(model, threads=threads)
        if self.kind == "classifier":
            classes = manifest["classes"] or []
            strings = any(isinstance(c, str) for c in classes)
            self.classes_ = np.asarray(classes, dtype=object if strings else None)
            self._n_classes = len(self.classes_)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, threads: int | None = None
    ) -> Predictor:
        """Verify the artifact at `path` and build one onnxruntime session.

        Parameters
        ----------
        path : str or Path
            The artifact directory `featurekit.export` wrote.
        threads : int, optional
            How many chunks of a large batch run at once (default: CPUs, at most 4).
            Each chunk runs single-threaded inside onnxruntime, which keeps tree sums
            in scikit-learn's order.

        Raises
        ------
        ArtifactError
            The directory is missing, partial, tampered with, or of another format.
        """
        root = Path(path)
        manifest = read_manifest(root)
        try:
            features = FeatureSet.from_json((root / "features.json").read_text())
        except SpecError as exc:
            raise ArtifactError(
                f"Artifact {str(root)!r} has an invalid features.json: {exc}"
            ) from None
        return cls(
            (root / "model.onnx").read_bytes(), features, manifest, threads=threads
        )

    def __repr__(self) -> str:
        return f"Predictor({self.name!r} v{self.version}, {self.kind}, sha256={self.sha256[:12]})"

    @property
    def session(self) -> Any:
        """The `onnxruntime.InferenceSession` (for inspection and benchmarks)."""
        return self._session.inference_session

    def _run(self, records: Any, output: str) -> np.ndarray:
        feeds, n = self._columns.coerce(records)
        if n == 0:
            if output == "probabilities":
                return np.empty((0, self._n_classes), dtype=np.float64)
            dtype = self.classes_.dtype if output == "label" else np.float64
            return np.empty(0, dtype=dtype)
        return self._session.run(feeds, n, [output])[0]

    def predict(self, records: Any) -> np.ndarray:
        """Labels (classifiers) or predictions (regressors), one per record.

        Parameters
        ----------
        records : DataFrame, list of dict, or dict
            Raw input columns, as in training. Extra columns are ignored.

        Raises
        ------
        featurekit.ContractError
            A value is of the wrong type, missing where not allowed, an unknown
            category under ``unknown="error"``, infinite or outside hard bounds.
            Nothing is scored.
        """
        return self._run(
            records, "label" if self.kind == "classifier" else "prediction"
        )

    def predict_proba(self, records: Any) -> np.ndarray:
        """Class probabilities, columns in `classes_` order."""
        if self.kind != "classifier":
            raise AttributeError(
                f"{self.name!r} is a regressor; it has predict but no predict_proba."
            )
        return self._run(records, "probabilities")

    def describe(self) -> str:
        """A short human summary of the model and its certificate."""
        c = self.manifest["certificate"]
        return json.dumps(
            {
                "name": self.name,
                "version": self.version,
                "kind": self.kind,
                "certificate": c,
            },
            indent=2,
        )
