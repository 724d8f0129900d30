"""Export a fitted pipeline as one ONNX graph with a parity certificate and golden rows."""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
from typing import Any

import numpy as np
import pandas as pd

from featurekit._version import __version__
from featurekit.artifact import FORMAT_VERSION, write_atomic
from featurekit.contract.columns import Columns
from featurekit.contract.schema import Contract
from featurekit.declare.columns import Categorical, Numeric
from featurekit.declare.featureset import FeatureSet
from featurekit.errors import ContractError, ExportError, ParityError
from featurekit.exporting import lineage
from featurekit.exporting.loading import Artifact, is_featurekit_pipeline, load
from featurekit.exporting.profiling import profile_rows
from featurekit.exporting.progress import ProgressArg, Reporter
from featurekit.golden.rows import GOLDEN
from featurekit.missing import MISSING
from featurekit.onnx.graph import OPSET, Graph
from featurekit.outcomes.estimating import profile_estimate
from featurekit.outcomes.holdout import holdout_record
from featurekit.transforms.basic import CategoryFolder

__all__ = ["Artifact", "export", "load"]

_REFERENCE_CAP = 20000


def _fitted_parts(pipeline: Any) -> tuple[FeatureSet, Any, Any]:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not is_featurekit_pipeline(pipeline):
        inner = getattr(pipeline, "best_estimator_", None)  # a fitted search
        if inner is not None and is_featurekit_pipeline(inner):
            raise ExportError(
                f"export needs the fitted pipeline, not the {type(pipeline).__name__} "
                "that searched for it: pass its best_estimator_ "
                "(fk.export(search.best_estimator_, ...))."
            )
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
            or len(cols) != 1
            or not isinstance(features[cols[0]], Categorical)
        ):
            continue
        seen: set[str] = set()
        steps = trans.steps if isinstance(trans, Pipeline) else []
        for _, step in steps:
            if isinstance(step, CategoryFolder):
                seen |= {str(c) for c in step.categories_[0]}
                seen |= {str(c) for c in step.infrequent_categories_[0]}
                break
            if hasattr(step, "categories_"):
                seen |= {str(c) for c in step.categories_[0]}
        seen.discard(MISSING)
        known[cols[0]] = sorted(seen)
    return known


def _finite_values(reference: pd.DataFrame, name: str) -> np.ndarray:
    """The finite numbers of a reference column, as float64."""
    ref = pd.to_numeric(reference[name], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return np.asarray(ref[np.isfinite(ref)], dtype=np.float64)


def _observed(
    features: FeatureSet, reference: pd.DataFrame
) -> dict[str, tuple[float, float]]:
    """Per numeric column, the reference range widened by WIDEN of its span each side."""
    from featurekit.contract.schema import WIDEN

    out: dict[str, tuple[float, float]] = {}
    for f in features.inputs:
        if not isinstance(f, Numeric):
            continue
        ref = _finite_values(reference, f.name)
        if not len(ref):
            continue
        lo, hi = float(ref.min()), float(ref.max())
        pad = WIDEN * ((hi - lo) or max(abs(hi), 1.0))
        out[f.name] = (lo - pad, hi + pad)
    return out


def _domains(
    features: FeatureSet, ct: Any, reference: pd.DataFrame, precision: str
) -> dict[str, tuple[float, float]]:
    """Per numeric column, the raw range whose features stay finite for the model."""
    from featurekit.onnx.precision import float32_domain

    out: dict[str, tuple[float, float]] = {}
    for f in features.inputs:
        if not isinstance(f, Numeric) or f.name not in ct.named_transformers_:
            continue
        ref = _finite_values(reference, f.name)
        start = float(np.median(ref)) if len(ref) else 0.0
        lo, hi = float32_domain(
            ct.named_transformers_[f.name], start, -np.inf, precision
        )
        if (lo, hi) != (-np.inf, np.inf):
            out[f.name] = (lo, hi)
    return out


def _build(
    columns: Columns, ct: Any, model: Any, precision: str
) -> tuple[bytes, bytes, dict[str, Any]]:
    """The graph, the graph of its transforms alone, and what the builder reported."""
    from featurekit.exporting.compile import emit_features
    from featurekit.expr.emitter import emit_exp
    from featurekit.onnx.model import emit_model
    from featurekit.onnx.nested import features_precision
    from featurekit.onnx.slim import drop_output_identities

    g = Graph()
    tree = features_precision(model)
    x, width, pushed, blocks, features = emit_features(g, columns, ct, tree=tree)
    exact = g.notes.get("features_exact", x)
    info = emit_model(g, x, width, model, precision, pushed, exp=emit_exp)
    info["features_tensor"] = x
    info["features_exact"] = exact
    info["feature_blocks"] = blocks
    info["tree_precision"] = tree
    info["pushed"] = sorted(pushed)
    info["pushed_steps"] = dict(pushed)
    for note in ("tree_ensemble", "tree_units"):
        if note in g.notes:
            info[note] = g.notes[note]
    # the tensors the exporter names (features, notes) keep their names
    named = [v for v in (*info.values(), *g.notes.values()) if isinstance(v, str)]
    drop_output_identities(g, named)
    model_proto = g.model(
        doc=f"featurekit {__version__}: {columns.features.name} v{columns.features.version}"
    )
    import onnx

    try:
        # the serialised bytes: check_model would serialise a ModelProto again itself
        model_bytes = model_proto.SerializeToString()
        onnx.checker.check_model(model_bytes)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"The exported graph is invalid: {exc}") from exc
    return model_bytes, features, info


def _versions(model: Any = None) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"featurekit": __version__}
    library = type(model).__module__.split(".")[0]
    if library in ("lightgbm", "xgboost"):  # the model's own library, when not sklearn
        out[library] = version(library)
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
    save_pipeline: bool = False,
    holdout: pd.DataFrame | None = None,
    holdout_y: Any = None,
    progress: ProgressArg = True,
    overwrite: bool = False,
) -> Artifact:
    """Export a fitted pipeline as an artifact directory, after proving parity.

    The feature transforms and the model become one ONNX graph with one typed input
    per raw column. featurekit then scores the reference rows plus generated edge
    cases with both scikit-learn and onnxruntime and writes the artifact only if every
    label agrees and every probability (or regression prediction, relative to the
    prediction scale) is within `tolerance`. A scikit-learn tree model is also probed
    tree by tree on both sides of every split (see docs/parity.md).

    Parameters
    ----------
    pipeline : Pipeline
        Fitted, as built by `make_pipeline`.
    path : str or Path
        The artifact directory. It appears atomically; an artifact already there is
        replaced only with ``overwrite=True``.
    reference : DataFrame
        Representative rows, usually the training frame (at most 20,000 are used).
    tolerance : float
        Largest accepted absolute difference.
    save_pipeline : bool
        Also write ``pipeline.joblib``, the pickled pipeline, for the training side.
        Off by default: serving never reads it, and for a big forest it is most of
        the artifact. Only ``featurekit check --trust-pickle``,
        ``featurekit.testing.assert_parity(..., trust_pickle=True)`` and
        ``Artifact.pipeline`` (replaying rows with the training pipeline) need it.
    holdout : DataFrame, optional
        Rows the model was not trained on, to build the drift profile from
        (``profile.json``). Recommended: on its training rows a model answers more
        confidently than in production, which would later read as output drift.
        Without it, `reference` is profiled.
    holdout_y : array-like, optional
        The true labels of `holdout`, row for row. The artifact then records the
        holdout performance of the exported graph (accuracy, balanced accuracy, log
        loss, Brier score and ROC AUC for a classifier; MAE, RMSE and R² for a
        regressor, each with a 95 % interval) and the label distribution, in the
        manifest's ``holdout``: `featurekit.evaluate` and the server's online
        metrics compare served performance against them (docs/outcomes.md).
    progress : bool or callable
        True (default): a long export (over about 2 s) reports its phases on stderr,
        as a bar when stderr is a terminal, else as plain lines. False: nothing. A
        callable is called instead with each `featurekit.exporting.progress.Progress`
        event, ``progress(event)``: ``event.phase`` is ``"compile"``, ``"certify"``,
        ``"golden"`` or ``"write"``, ``event.done`` of ``event.total`` counts
        ``event.unit`` (tree splits while certifying a scikit-learn tree model, rows
        for other tree models, else steps), ``event.elapsed`` is seconds since the
        export started.
    overwrite : bool
        Replace the artifact at `path`. Without it, an existing artifact is refused
        before any work is done. The new manifest's ``lineage`` names the replaced
        artifact (``parent``: its name, version and model sha256), beside the
        training data's fingerprint.

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
    if holdout_y is not None and holdout is None:
        raise ExportError("holdout_y needs holdout=, the rows these labels belong to.")
    if not isinstance(reference, pd.DataFrame) or len(reference) == 0:
        raise ExportError(
            "export needs reference=DataFrame with at least one row, e.g. the training frame."
        )
    parent = lineage.parent(path, overwrite)
    fingerprint = lineage.fingerprint(reference)
    if len(reference) > _REFERENCE_CAP:
        reference = reference.sample(_REFERENCE_CAP, random_state=0)
    from featurekit.onnx.model import precision_plans
    from featurekit.onnx.nested import contract_precision

    known = _known_categories(features, ct)
    try:
        Columns(features, known).coerce(reference)
    except ContractError as exc:
        raise ExportError(f"The reference rows break the contract: {exc}") from exc
    precision = contract_precision(model)
    contract = Contract(
        features,
        known,
        _domains(features, ct, reference, precision),
        _observed(features, reference),
    )
    columns = Columns(contract)

    report = Reporter(progress)
    try:
        plans = precision_plans(model)
        errors: list[str] = []
        refusals: list[ParityError] = []
        for precision in plans:
            report.phase("compile")
            try:
                model_bytes, features_bytes, info = _build(
                    columns, ct, model, precision
                )
            except ExportError as exc:
                errors.append(str(exc))
                continue
            session = _session(model_bytes, info)
            try:
                certified = _certify(
                    pipeline,
                    columns,
                    (model_bytes, features_bytes, session),
                    info,
                    reference,
                    tolerance,
                    report,
                )
            except ParityError as exc:
                refusals.append(exc)
                continue
            break
        else:
            if refusals:
                # the first plan tried is the most precise one: its rows explain the most
                first = refusals[0]
                also = "".join(
                    f"\nThe {p} plan was tried too and failed: {str(e).splitlines()[0]}"
                    for p, e in zip(plans[1:], refusals[1:], strict=False)
                )
                raise ParityError(
                    f"{first}{also}\nNothing was written.",
                    worst=first.worst,
                    step=first.step,
                )
            raise ExportError(
                f"Cannot export {type(model).__name__}: " + " | ".join(errors)
            )
        certificate = certified.certificate

        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "name": features.name,
            "version": features.version,
            "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "kind": info["kind"],
            "classes": info.get("classes"),
            "inputs": {
                f.name: {"type": columns.onnx_type(f), "kind": f.kind}
                for f in features.inputs
            },
            "outputs": info["outputs"],
            "opset": dict(OPSET),
            "converter": info["converter"],
            "versions": _versions(model),
            "certificate": certificate,
            "lineage": {"parent": parent, "training_data": fingerprint},
        }
        if info.get("label_from_probabilities") and _argmax_holds(
            certified.reference_answers, info.get("classes")
        ):
            from featurekit.outcomes.entries import ARGMAX_LABEL

            manifest["label_rule"] = ARGMAX_LABEL
        from featurekit.exporting.golden_rows import golden_rows

        report.phase("golden")
        golden = golden_rows(
            pipeline,
            columns,
            info,
            model_bytes,
            reference,
            manifest,
            split_rows=certified.split_rows,
            session=session,
        )
        report.phase("write", total=2)
        profile, holdout_answers = profile_rows(
            columns, session, manifest, reference, holdout, certified.reference_answers
        )
        if holdout_y is not None:
            assert holdout is not None  # checked on entry
            manifest["holdout"] = holdout_record(
                manifest, holdout_y, len(holdout), holdout_answers
            )
            estimate = profile_estimate(profile, manifest, holdout_y, holdout_answers)
            if estimate is not None:  # performance estimated without labels
                profile["estimate"] = estimate
        files = {
            "model.onnx": model_bytes,
            "features.json": features.to_json().encode(),
            "contract.json": contract.to_json().encode(),
            "profile.json": json.dumps(profile, allow_nan=False).encode(),
            GOLDEN: golden.to_json().encode(),
        }
        del session  # a big forest's session holds memory the write does not need
        if save_pipeline:
            import joblib

            buf = io.BytesIO()
            joblib.dump(pipeline, buf)
            files["pipeline.joblib"] = buf.getvalue()
        report.advance()
        target = write_atomic(path, files, manifest)
        artifact = load(target)
        report.finish()
        return artifact
    finally:
        report.close()  # a bar on a terminal ends its line, even on a refusal


def _session(model_bytes: bytes, info: dict[str, Any]) -> Any:
    """One session of the exported graph for the certificate, golden rows and profile.

    It also outputs the features tensors (the features the model reads, and the
    float64 ones before rounding), appended the way serving appends them.
    """
    from featurekit.golden import with_outputs
    from featurekit.runtime import Session

    extra = list(dict.fromkeys([info["features_tensor"], info["features_exact"]]))
    return Session(with_outputs(model_bytes, extra))


def _certify(
    pipeline: Any,
    columns: Columns,
    graphs: tuple[bytes, bytes, Any],
    info: dict[str, Any],
    reference: pd.DataFrame,
    tolerance: float,
    report: Reporter,
) -> Any:
    from featurekit.exporting.certify import certify

    model_bytes, features_bytes, session = graphs
    # the contract already holds the fitted categories: no need to walk the pipeline again
    return certify(
        pipeline,
        columns,
        session,
        info,
        reference,
        columns.categories,
        tolerance,
        model=model_bytes,
        features=features_bytes,
        report=report,
    )


def _argmax_holds(answers: dict[str, np.ndarray], classes: Any) -> bool:
    """Whether the graph's labels on the reference rows are classes[argmax(p)].

    The structure of the graph says so already (`featurekit.onnx.model`); this is the
    same claim checked on what the session answered.
    """
    if "label" not in answers or "probabilities" not in answers or not classes:
        return False
    from featurekit.outcomes.entries import argmax_labels

    derived = argmax_labels(classes, answers["probabilities"])
    return bool(np.array_equal(derived, np.asarray(answers["label"])))
