"""MLflow, where users keep their models: log an artifact as a pyfunc, resolve model URIs.

`log_model` logs an exported artifact directory as an MLflow model whose pyfunc
flavour serves through `serving.Predictor`: the artifact is stored as it is (every
sha256 checked again at load), and the Python model is *code*, not a pickle (MLflow's
"models from code": a short script MLflow runs at load), so loading it unpickles
nothing, scikit-learn least of all.

`resolve` turns an MLflow model URI (``models:/credit@champion``,
``models:/credit/3``, ``runs:/<run id>/model``) into the local artifact directory,
downloaded from the tracking store in force (``MLFLOW_TRACKING_URI``), so that
``featurekit compare`` and ``featurekit serve`` take such URIs wherever they take an
artifact path.

MLflow is optional: ``pip install 'featurekit[mlflow]'``. Nothing here imports it
before a function needs it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from featurekit._version import __version__
from featurekit.errors import ArtifactError

__all__ = ["SCHEMES", "is_model_uri", "log_model", "pyfunc_model", "resolve"]

#: URI schemes that name an MLflow model.
SCHEMES = ("models:/", "runs:/")
#: Where a logged model keeps the featurekit artifact, under its ``artifacts/``.
ARTIFACT_KEY = "featurekit"

# The model's code: MLflow runs this file when it loads the model (no pickle).
MODEL_CODE = '''"""featurekit's pyfunc model: serve the logged artifact through serving.Predictor."""
import mlflow

from featurekit.mlflow_pyfunc import pyfunc_model

mlflow.models.set_model(pyfunc_model())
'''


def is_model_uri(value: Any) -> bool:
    """Whether `value` is an MLflow model URI rather than a path.

    Examples
    --------
    >>> is_model_uri("models:/credit@champion"), is_model_uri("artifacts/credit")
    (True, False)
    """
    return isinstance(value, str) and value.startswith(SCHEMES)


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise ArtifactError(
            "MLflow model URIs and log_model need MLflow: "
            "pip install 'featurekit[mlflow]'"
        ) from exc
    return mlflow


def log_model(
    artifact: str | os.PathLike[str],
    name: str = "model",
    *,
    registered_model_name: str | None = None,
    pip_requirements: list[str] | None = None,
) -> Any:
    """Log an exported artifact directory as an MLflow pyfunc model (in the active run).

    Parameters
    ----------
    artifact : str or Path
        The directory `featurekit.export` wrote (or an `fk.Artifact`'s ``path``).
    name : str
        The model's name within the run.
    registered_model_name : str, optional
        Also register it under this name in the model registry (a new version).
    pip_requirements : list of str, optional
        Default: ``featurekit[serve]`` at this version.

    Returns
    -------
    mlflow.models.model.ModelInfo
        Its ``model_uri`` loads it with ``mlflow.pyfunc.load_model``; a registered
        version is also ``models:/<name>/<version>``.

    Raises
    ------
    ArtifactError
        `artifact` is not an artifact this version can load, or MLflow is missing.
    """
    from serving import Predictor

    path = Path(getattr(artifact, "path", artifact))
    Predictor.load(path, monitor=False)  # refuse a tampered or partial artifact now
    mlflow = _mlflow()
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    # no input schema: the artifact's own contract checks every row, as served
    params = ParamSchema([ParamSpec("output", "string", "label")])
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "featurekit_model.py"
        code.write_text(MODEL_CODE, encoding="utf-8")
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(code),  # models from code: nothing is pickled
            artifacts={ARTIFACT_KEY: str(path)},
            registered_model_name=registered_model_name,
            signature=ModelSignature(inputs=None, params=params),
            pip_requirements=pip_requirements or [f"featurekit[serve]=={__version__}"],
        )


def pyfunc_model() -> Any:
    """The pyfunc ``PythonModel`` that serves a logged artifact through Predictor.

    ``predict(context, model_input, params)`` answers labels (classifiers) or
    predictions (regressors), as `serving.Predictor.predict`; with
    ``params={"output": "probabilities"}`` a DataFrame of class probabilities, one
    column per class. Rows the contract refuses raise `featurekit.ContractError`.
    """
    mlflow = _mlflow()

    base: Any = mlflow.pyfunc.PythonModel

    class FeaturekitModel(base):
        def load_context(self, context: Any) -> None:
            from serving import Predictor

            self.predictor = Predictor.load(context.artifacts[ARTIFACT_KEY])

        # no type hint on model_input: MLflow would validate (and convert) inputs
        # by it; the artifact's contract checks them instead
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            import pandas as pd

            output = (params or {}).get("output", "label")
            if output == "probabilities":
                proba = self.predictor.predict_proba(model_input)
                columns = [str(c) for c in self.predictor.classes_.tolist()]
                return pd.DataFrame(proba, columns=columns)
            return self.predictor.predict(model_input)

    return FeaturekitModel()


def resolve(uri: str) -> Path:
    """The local artifact directory an MLflow model URI names (downloaded first).

    Parameters
    ----------
    uri : str
        ``models:/<name>@<alias>``, ``models:/<name>/<version>`` or
        ``runs:/<run id>/<name>``, looked up in the tracking store in force.

    Raises
    ------
    ArtifactError
        MLflow is missing, the URI names nothing, or the model was not logged by
        `log_model` (it holds no featurekit artifact).
    """
    mlflow = _mlflow()
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except Exception as exc:  # MLflow's own errors derive from Exception only
        raise ArtifactError(
            f"Cannot fetch the MLflow model {uri!r} from {mlflow.get_tracking_uri()!r}: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        ) from None
    found = _artifact_dir(local)
    if found is None or not (found / "manifest.json").is_file():
        raise ArtifactError(
            f"The MLflow model {uri!r} holds no featurekit artifact (its MLmodel names "
            f"no python_function artifact {ARTIFACT_KEY!r}); log it with "
            "featurekit.mlflow_pyfunc.log_model."
        )
    return found


def _artifact_dir(model_dir: Path) -> Path | None:
    """Where the model's MLmodel file says the featurekit artifact was stored."""
    import yaml

    try:
        spec = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
        path = spec["flavors"]["python_function"]["artifacts"][ARTIFACT_KEY]["path"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    return model_dir / str(path)
