"""Export a fitted pipeline as one ONNX graph with a parity certificate; load it back."""

from __future__ import annotations

import datetime as _dt
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._version import __version__
from .artifact import FORMAT_VERSION, Manifest, read_manifest, write_atomic
from .errors import ArtifactError, ContractError, ExportError, ParityError
from .inputs import MISSING, Columns
from .onnx_graph import OPSET, Graph
from .spec import Categorical, FeatureSet

__all__ = ["Artifact", "export", "load"]

_REFERENCE_CAP = 20000


@dataclass
class Artifact:
    """An exported artifact directory, as seen from the training side.

    Attributes
    ----------
    path : Path
    manifest : dict
        Format version, hashes, library versions, inputs and the parity certificate.
    features : FeatureSet
    """

    path: Path
    manifest: Manifest
    features: FeatureSet

    @property
    def certificate(self) -> dict[str, Any]:
        """The parity certificate recorded at export."""
        return dict(self.manifest["certificate"])

    @property
    def pipeline(self) -> Any:
        """The fitted scikit-learn pipeline, if it was saved (training side only)."""
        p = self.path / "pipeline.joblib"
        if not p.is_file():
            raise ArtifactError(
                f"{str(self.path)!r} was exported without pipeline.joblib."
            )
        import joblib

        return joblib.load(p)

    def __repr__(self) -> str:
        c = self.manifest["certificate"]
        return (
            f"Artifact({str(self.path)!r}, {self.features.name!r} v{self.features.version}, "
            f"{self.manifest['kind']}, parity max |Δ|={c['max_abs_diff']:.2g} on {c['rows']} rows)"
        )


def load(path: str | os.PathLike[str]) -> Artifact:
    """Read and verify an artifact directory on the training side.

    Examples
    --------
    >>> import featurekit as fk
    >>> fk.load("no/such/dir")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/dir': not a directory.
    """
    manifest = read_manifest(path)
    features = FeatureSet.from_json((Path(path) / "features.json").read_text())
    return Artifact(Path(path), manifest, features)


def _fitted_parts(pipeline: Any) -> tuple[FeatureSet, Any, Any]:
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from .pipeline import Inputs

    if (
        not isinstance(pipeline, Pipeline)
        or [n for n, _ in pipeline.steps]
        != [
            "inputs",
            "features",
            "model",
        ]
        or not isinstance(pipeline.steps[0][1], Inputs)
    ):
        raise ExportError(
            "export needs the Pipeline that fk.make_pipeline built (steps inputs, "
            f"features, model), got {type(pipeline).__name__}."
        )
    try:
        check_is_fitted(pipeline)
    except NotFittedError:
        raise ExportError(
            "The pipeline is not fitted; call pipeline.fit(X, y) before export."
        ) from None
    inputs, ct, model = (s for _, s in pipeline.steps)
    return inputs.features, ct, model


def _known_categories(features: FeatureSet, ct: Any) -> dict[str, list[str]]:
    """Categories seen in training, per categorical column (missing excluded)."""
    from sklearn.pipeline import Pipeline

    known: dict[str, list[str]] = {}
    for _name, trans, cols in ct.transformers_:
        if (
            trans == "drop"
            or not cols
            or not isinstance(features[cols[0]], Categorical)
        ):
            continue
        seen: set[str] = set()
        steps = trans.steps if isinstance(trans, Pipeline) else []
        for _, step in steps:
            if (
                hasattr(step, "infrequent_categories_")
                and type(step).__name__ == "CategoryFolder"
            ):
                seen |= {str(c) for c in step.categories_[0]}
                seen |= {str(c) for c in step.infrequent_categories_[0]}
                break
            if hasattr(step, "categories_"):
                seen |= {str(c) for c in step.categories_[0]}
        seen.discard(MISSING)
        known[cols[0]] = sorted(seen)
    return known


def _build(
    columns: Columns, ct: Any, model: Any, precision: str
) -> tuple[bytes, dict[str, Any]]:
    from .onnx_features import emit_features
    from .onnx_model import emit_model
    from .onnx_trees import TREE_MODELS, tree_precision

    g = Graph()
    tree = tree_precision(model) if isinstance(model, TREE_MODELS) else None
    x, width, pushed = emit_features(g, columns, ct, tree=tree)
    info = emit_model(g, x, width, model, precision, pushed)
    info["features_tensor"] = x
    info["tree_precision"] = tree
    info["pushed"] = sorted(pushed)
    model_proto = g.model(
        doc=f"featurekit {__version__}: {columns.features.name} v{columns.features.version}"
    )
    import onnx

    try:
        onnx.checker.check_model(model_proto)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"The exported graph is invalid: {exc}") from exc
    return model_proto.SerializeToString(), info


def _with_features_output(model_bytes: bytes, tensor: str) -> bytes:
    import onnx

    m = onnx.load_from_string(model_bytes)
    m.graph.output.append(
        onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.DOUBLE, ["N", None])
    )
    return bytes(m.SerializeToString())


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"featurekit": __version__}
    for dist in (
        "scikit-learn",
        "skl2onnx",
        "onnx",
        "onnxruntime",
        "protobuf",
        "numpy",
        "pandas",
    ):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover
            out[dist] = "missing"
    return out


def export(
    pipeline: Any,
    path: str | os.PathLike[str],
    reference: pd.DataFrame,
    *,
    tolerance: float = 1e-5,
    save_pipeline: bool = True,
) -> Artifact:
    """Export a fitted pipeline as an artifact directory, after proving parity.

    The feature transforms and the model become one ONNX graph with one typed input
    per raw column. featurekit then scores the reference rows plus generated edge
    cases with both scikit-learn and onnxruntime and writes the artifact only if every
    label agrees and every probability (or regression prediction, relative to the
    prediction scale) is within `tolerance`.

    Parameters
    ----------
    pipeline : Pipeline
        Fitted, as built by `make_pipeline`.
    path : str or Path
        The artifact directory. It appears atomically, replacing an older artifact.
    reference : DataFrame
        Representative rows, usually the training frame (at most 20,000 are used).
    tolerance : float
        Largest accepted absolute difference.
    save_pipeline : bool
        Also write ``pipeline.joblib`` for the training side.

    Returns
    -------
    Artifact

    Raises
    ------
    ParityError
        onnxruntime and scikit-learn disagree; nothing is written.
    ExportError
        The pipeline cannot be converted.
    """
    features, ct, model = _fitted_parts(pipeline)
    if not isinstance(reference, pd.DataFrame) or len(reference) == 0:
        raise ExportError(
            "export needs reference=DataFrame with at least one row, e.g. the training frame."
        )
    if len(reference) > _REFERENCE_CAP:
        reference = reference.sample(_REFERENCE_CAP, random_state=0)
    columns = Columns(features, _known_categories(features, ct))
    try:
        columns.coerce(reference)
    except ContractError as exc:
        raise ExportError(f"The reference rows break the contract: {exc}") from exc

    from .onnx_trees import TREE_MODELS

    plans = ["double"] if isinstance(model, TREE_MODELS) else ["double", "float"]
    errors: list[str] = []
    last_parity: ParityError | None = None
    for precision in plans:
        try:
            model_bytes, info = _build(columns, ct, model, precision)
        except ExportError as exc:
            errors.append(str(exc))
            continue
        try:
            certificate = _certify(
                pipeline, columns, model_bytes, info, reference, tolerance, precision
            )
        except ParityError as exc:
            last_parity = exc
            continue
        break
    else:
        if last_parity is not None:
            raise last_parity
        raise ExportError(
            f"Cannot export {type(model).__name__}: " + " | ".join(errors)
        )

    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": features.name,
        "version": features.version,
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "kind": info["kind"],
        "classes": info.get("classes"),
        "inputs": {
            f.name: {
                "type": columns.onnx_type(f),
                **(
                    {"categories": columns.categories[f.name]}
                    if isinstance(f, Categorical) and f.unknown == "error"
                    else {}
                ),
            }
            for f in features.features
        },
        "outputs": ["label", "probabilities"]
        if info["kind"] == "classifier"
        else ["prediction"],
        "opset": dict(OPSET),
        "converter": info["converter"],
        "versions": _versions(),
        "certificate": certificate,
    }
    files = {"model.onnx": model_bytes, "features.json": features.to_json().encode()}
    if save_pipeline:
        import joblib

        buf = io.BytesIO()
        joblib.dump(pipeline, buf)
        files["pipeline.joblib"] = buf.getvalue()
    target = write_atomic(path, files, manifest)
    return load(target)


def _certify(
    pipeline: Any,
    columns: Columns,
    model_bytes: bytes,
    info: dict[str, Any],
    reference: pd.DataFrame,
    tolerance: float,
    precision: str,
) -> dict[str, Any]:
    from .parity import edge_rows, threshold_values
    from .runtime import Session

    known = {
        f.name: list(columns.categories.get(f.name, []))
        for f in columns.features.features
    }
    known.update(_known_categories(columns.features, pipeline.named_steps["features"]))
    edges = list(edge_rows(columns, reference, known, threshold_values(pipeline)))
    reasons = [r for r, _ in edges]
    edge_frame = [rec for _, rec in edges]
    session = Session(
        _with_features_output(model_bytes, info["features_tensor"]), threads=1
    )
    is_clf = info["kind"] == "classifier"

    def both(rows: Any, what: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        feeds, n = columns.coerce(rows)
        onx = session.run(feeds, n)
        try:
            if is_clf:
                sk = [pipeline.predict(rows), pipeline.predict_proba(rows)]
            else:
                sk = [np.asarray(pipeline.predict(rows), dtype=np.float64)]
            sk_features = pipeline[:-1].transform(rows)
        except (ValueError, TypeError) as exc:
            raise ExportError(
                f"scikit-learn itself fails on {what} that the contract admits: {exc}. "
                "If a column accepts missing values, give it an imputer or set "
                "nullable=False."
            ) from exc
        return [*sk, np.asarray(sk_features, dtype=np.float64)], onx

    sk_ref, onx_ref = both(reference, "the reference rows")
    try:
        sk_edge, onx_edge = both(edge_frame, "generated edge cases")
    except ExportError:
        # find the first edge case scikit-learn rejects, to name it
        for reason, rec in edges:
            try:
                pipeline.predict([rec])
            except (ValueError, TypeError) as exc:
                raise ExportError(
                    f"scikit-learn fails on an input the contract admits ({reason}): {exc}. "
                    "Give the column an imputer, or declare nullable=False / bounds."
                ) from exc
        raise
    sk = [np.concatenate([a, b]) for a, b in zip(sk_ref, sk_edge, strict=True)]
    onx = [np.concatenate([a, b]) for a, b in zip(onx_ref, onx_edge, strict=True)]
    n_ref = len(reference)
    labels = [f"reference row {i}" for i in reference.index[:n_ref]] + reasons

    if is_clf:
        label_ok = np.asarray(sk[0]).astype(object) == np.asarray(onx[0]).astype(object)
        diff = np.max(np.abs(sk[1] - onx[1]), axis=1)
        diff = np.where(np.isnan(sk[1]).any(1) & np.isnan(onx[1]).any(1), 0.0, diff)
        scale = 1.0
        compared = "probabilities"
    else:
        label_ok = np.ones(len(sk[0]), dtype=bool)
        ref_pred = sk[0][:n_ref]
        scale = float(np.std(ref_pred)) or float(np.max(np.abs(ref_pred))) or 1.0
        diff = np.abs(sk[0] - onx[0]) / scale
        compared = "prediction / std(reference predictions)"
    diff = np.where(np.isnan(diff), np.inf, diff)
    bad = ~label_ok | (diff > tolerance)
    if bad.any():
        order = np.lexsort((-diff, label_ok))[: min(5, int(bad.sum()))]
        sk_feat = sk[-1].copy()
        if (
            info["tree_precision"] == "float32"
        ):  # the graph rounds these as the trees do
            sk_feat = sk_feat.astype(np.float32).astype(np.float64)
        feat_diff = np.abs(sk_feat - onx[-1])
        feat_diff = np.where(np.isnan(sk_feat) & np.isnan(onx[-1]), 0.0, feat_diff)
        feat_diff[:, info["pushed"]] = 0.0  # these reach the trees raw, by design
        names = pipeline.named_steps["features"].get_feature_names_out()
        worst = []
        step = "model"
        for i in order:
            row_feat = feat_diff[i]
            culprit = None
            if np.nanmax(row_feat) > 0 or np.isnan(row_feat).any():
                culprit = str(
                    names[
                        int(
                            np.nanargmax(np.where(np.isnan(row_feat), np.inf, row_feat))
                        )
                    ]
                )
            worst.append(
                {
                    "row": labels[i],
                    "sklearn": sk[0][i].tolist()
                    if not is_clf
                    else [sk[0][i], sk[1][i].tolist()],
                    "onnx": onx[0][i].tolist()
                    if not is_clf
                    else [onx[0][i], onx[1][i].tolist()],
                    "diff": float(diff[i]),
                    "label_agrees": bool(label_ok[i]),
                    "feature_step": culprit,
                }
            )
        if worst[0]["feature_step"]:
            step = f"features ({worst[0]['feature_step']})"
        lines = "\n".join(
            f"  {w['row']}: sklearn={w['sklearn']!r} onnx={w['onnx']!r} |Δ|={w['diff']:.3g}"
            for w in worst
        )
        raise ParityError(
            f"{type(pipeline.named_steps['model']).__name__} ({precision} plan) fails parity on "
            f"{int(bad.sum())} of {len(diff)} rows ({int((~label_ok).sum())} labels differ, "
            f"max |Δ| {float(np.max(diff)):.3g} > {tolerance}); the step responsible is "
            f"{step}. Worst rows:\n{lines}\nNothing was written.",
            worst=worst,
            step=step,
        )
    return {
        "passed": True,
        "rows": len(diff),
        "reference_rows": n_ref,
        "edge_rows": len(edges),
        "label_agreement": float(label_ok.mean()) if is_clf else None,
        "max_abs_diff": float(np.max(diff)) if len(diff) else 0.0,
        "tolerance": tolerance,
        "compared": compared,
        "scale": scale,
        "precision_plan": (
            f"{info['converter']}; features in float64 with scikit-learn's own operations"
        ),
    }
