"""The training side's view of an artifact: `load`, and `Artifact` with its pipeline.

Reading and verifying is `featurekit.artifact.read`, the reader serving uses too; this
module adds what only the training side may do: unpickle ``pipeline.joblib``.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featurekit.artifact import Manifest, read
from featurekit.contract.schema import Contract
from featurekit.declare.featureset import FeatureSet
from featurekit.errors import ArtifactError
from featurekit.golden import GoldenRows

__all__ = ["Artifact", "is_featurekit_pipeline", "load"]


@dataclass
class Artifact:
    """An exported artifact directory, as seen from the training side.

    Attributes
    ----------
    path : Path
    manifest : dict
        Format version, hashes, library versions, inputs and the parity certificate.
    features : FeatureSet
    contract : Contract
    golden : GoldenRows or None
        The certified rows re-run at load; None for artifacts exported before them.
    """

    path: Path
    manifest: Manifest
    features: FeatureSet
    contract: Contract
    golden: GoldenRows | None = None
    _profile: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def certificate(self) -> dict[str, Any]:
        """The parity certificate recorded at export."""
        return dict(self.manifest["certificate"])

    @property
    def pipeline(self) -> Any:
        """The fitted scikit-learn pipeline, unpickled from ``pipeline.joblib``.

        Unpickling runs whatever code the file names, and the sha256 in
        ``manifest.json`` proves nothing about who wrote it: anyone who can change
        the file can change the manifest too. Read it only from artifacts you trust
        (`featurekit check` does so only with ``--trust-pickle``).

        Raises
        ------
        ArtifactError
            The artifact has no ``pipeline.joblib``, it does not match its hash, it
            cannot be unpickled here, or it holds something else than the pipeline
            `featurekit.make_pipeline` builds.
        """
        import joblib

        from featurekit.exporting.legacy import legacy_classes

        expected = self.manifest["files"].get("pipeline.joblib")
        p = self.path / "pipeline.joblib"
        if expected is None or not p.is_file():
            raise ArtifactError(
                f"{str(self.path)!r} was exported without pipeline.joblib; export "
                "with save_pipeline=True to keep the fitted pipeline."
            )
        data = p.read_bytes()
        if hashlib.sha256(data).hexdigest() != expected:
            raise ArtifactError(
                f"Artifact {str(self.path)!r} was modified: pipeline.joblib does not "
                "match its sha256 in the manifest. Re-export it."
            )
        try:
            with legacy_classes():  # pickles from before the modules moved
                pipeline = joblib.load(io.BytesIO(data))
        # unpickling runs arbitrary reduce code, so any exception means "unusable here"
        except Exception as exc:
            made_with = self.manifest["versions"].get("scikit-learn", "?")
            raise ArtifactError(
                f"Cannot unpickle pipeline.joblib of {str(self.path)!r} ({exc!r}); it "
                f"was saved with scikit-learn {made_with}. Install that version, or "
                "re-export the artifact."
            ) from exc
        if not is_featurekit_pipeline(pipeline):
            raise ArtifactError(
                f"pipeline.joblib of {str(self.path)!r} holds a "
                f"{type(pipeline).__module__}.{type(pipeline).__qualname__}, not the "
                "fitted Pipeline that fk.make_pipeline builds (steps inputs, "
                "features, model). Re-export the artifact with save_pipeline=True."
            )
        return pipeline

    @property
    def profile(self) -> dict[str, Any]:
        """The reference profile drift is measured against (``profile.json``)."""
        if self._profile is None:
            from featurekit.artifact import read_profile

            return read_profile(self.path, self.manifest)  # raises: none recorded
        return self._profile

    def __repr__(self) -> str:
        c = self.manifest["certificate"]
        return (
            f"Artifact({str(self.path)!r}, {self.features.name!r} v{self.features.version}, "
            f"{self.manifest['kind']}, parity max |Δ|={c['max_abs_diff']:.2g} on {c['rows']} rows)"
        )


def load(path: str | os.PathLike[str]) -> Artifact:
    """Read and verify an artifact directory on the training side.

    The same reader as `serving.Predictor.load` (`featurekit.artifact.read`): a
    missing, tampered or unparsable file raises `ArtifactError`. Nothing is
    unpickled until `Artifact.pipeline` is read.

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.load("no/such/dir")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/dir': not a directory.
    """
    files = read(path)
    return Artifact(
        files.path,
        files.manifest,
        files.features,
        files.contract,
        files.golden,
        files.profile,
    )


def is_featurekit_pipeline(obj: Any) -> bool:
    """Whether `obj` is the Pipeline `featurekit.make_pipeline` builds."""
    from sklearn.pipeline import Pipeline

    from featurekit.exporting.pipeline import Inputs

    return (
        isinstance(obj, Pipeline)
        and [n for n, _ in obj.steps] == ["inputs", "features", "model"]
        and isinstance(obj.steps[0][1], Inputs)
    )
