"""Prove parity: score the same rows with scikit-learn and onnxruntime, or refuse.

Each check proves its part, and together they prove the artifact (see
docs/parity.md):

- **The whole model** on the reference rows, the generated edge cases and the golden
  rows beside splits: every label, every probability (or prediction) within the
  tolerance and, before a tree model, the float64 features bit for bit.
- **The features at every split** (tree models): each raw value at and beside a
  split threshold (`featurekit.exporting.probes`, deduplicated) through the column's
  own transforms, bit for bit, by the graph's transforms alone.
- **Every tree alone** (scikit-learn's trees, forests and boosting): probes on both
  sides of every split, scored by that tree alone in both runtimes
  (`featurekit.exporting.tree_probes`), at a cost linear in the number of nodes.
  Other tree models (LightGBM, XGBoost, trees inside meta-estimators) score the split
  rows with the whole model instead.

onnxruntime reads rows through `Columns.coerce`, the very function serving uses, so
the certificate covers serving's input path too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from featurekit.contract.columns import Columns
from featurekit.errors import ExportError
from featurekit.exporting.progress import Reporter
from featurekit.exporting.split_features import apply_chain, check_split_features
from featurekit.exporting.whole_model import Labels, compare, first_failing, score

__all__ = ["Certified", "certify"]

#: Rows scored per onnxruntime and scikit-learn call: bounds memory on big models.
CHUNK = 65536


@dataclass
class Certified:
    """The certificate, and the split rows the golden rows may carry."""

    certificate: dict[str, Any]
    split_rows: list[tuple[str, dict[str, Any]]]
    #: the graph's outputs on the reference rows, by output name
    reference_answers: dict[str, np.ndarray] = field(default_factory=dict)


def certify(
    pipeline: Any,
    columns: Columns,
    session: Any,
    info: dict[str, Any],
    reference: pd.DataFrame,
    known: dict[str, list[str]],
    tolerance: float,
    *,
    model: bytes | None = None,
    features: bytes | None = None,
    report: Reporter | None = None,
) -> Certified:
    """Return the parity certificate, or raise `ParityError` naming the worst rows.

    Parameters
    ----------
    session : featurekit.runtime.Session
        Runs the exported graph with the features tensors as extra outputs.
    info : dict
        What the graph builder reported: kind, converter, tree precision, pushed
        columns, and for scikit-learn's tree models the TreeEnsemble and its units.
    model : bytes, optional
        The exported graph; with `features`, trees are probed one by one.
    features : bytes, optional
        The graph of the transforms alone (no model), for the split values.
    report : Reporter, optional
        Where progress goes: splits proven (or rows scored) out of all.
    """
    from featurekit.exporting.golden_rows import SPLIT_ROWS, spread
    from featurekit.exporting.probes import (
        base_row,
        edge_rows,
        split_columns,
        threshold_values,
    )

    started = time.perf_counter()
    report = report or Reporter(False)
    base = base_row(columns, reference)
    edges = list(edge_rows(columns, base, reference, known))
    near, n_pairs = threshold_values(pipeline)
    values = split_columns(columns, near)
    plan = _tree_plan(pipeline, info, model) if features is not None else None
    counts = [len(v) for v in values.values()]
    n_values = sum(counts)
    if plan is not None:
        report.phase("certify", total=plan.splits, unit="splits")
    else:
        report.phase(
            "certify", total=len(reference) + len(edges) + n_values, unit="rows"
        )
    golden = [_split_row(base, values, i) for i in spread(n_values, SPLIT_ROWS)]
    answers = list(info["outputs"])  # label and scores, or prediction
    outputs = answers + list(
        dict.fromkeys([info["features_tensor"], info["features_exact"]])
    )
    labels = Labels()
    sk_parts: list[list[np.ndarray]] = []
    onnx_parts: list[list[np.ndarray]] = []
    batches: list[tuple[Any, Callable[[int], str]]] = [
        (reference, lambda i: f"reference row {reference.index[i]!r}"),
        ([r for _, r in edges], lambda i: edges[i][0]),
    ]
    if plan is not None:
        # the whole model on the golden spread of split values; every split value
        # is proven by its features, and every split by its own tree
        batches.append(([r for _, r in golden], lambda i: golden[i][0]))
    else:
        batches += _split_frames(columns, base, values)
    for k, (rows, name) in enumerate(batches):
        n = len(rows)
        if n == 0:
            continue
        try:
            sk, onx = score(pipeline, columns, session, rows, name(0), answers, outputs)
        except ExportError:
            if k == 1:
                first_failing(pipeline, edges)
            raise
        labels.add(n, name)
        sk_parts.append(sk)
        onnx_parts.append(onx)
        if plan is None:
            report.advance(n)
    sk_all = [np.concatenate(p) for p in zip(*sk_parts, strict=True)]
    onx_all = [np.concatenate(p) for p in zip(*onnx_parts, strict=True)]
    n_ref, n_whole = len(reference), len(labels)
    checks: dict[str, Any] = {}
    proves: list[str] = []
    rows, splits_covered = n_whole, n_pairs
    if plan is not None and features is not None:
        # the trees first: a wrong threshold is then named by its tree and split
        trees = _probe_trees(pipeline, info, plan, onx_all[len(answers)], n_ref, report)
        n_checked = check_split_features(
            pipeline, columns, features, info, base, values
        )
        checks["trees"] = {
            "trees": trees.trees,
            "units": trees.units,
            "splits": trees.splits,
            "splits_reached": trees.covered,
            "rows": trees.rows,
        }
        checks["split_features"] = {"rows": n_checked, "columns": len(values)}
        proves += [
            f"each of the graph's {trees.trees:,} trees routes and scores like "
            f"scikit-learn's on both sides of each of its {trees.splits:,} splits "
            f"({trees.covered:,} reached by their probes in scikit-learn's tree), "
            "scored tree by tree",
            f"the features at all {n_checked:,} raw values at and beside a split "
            f"threshold ({len(values)} columns, {n_pairs:,} distinct thresholds) are "
            "scikit-learn's, bit for bit",
        ]
        rows += n_checked + trees.rows
        splits_covered = trees.splits
    verdict = compare(pipeline, info, labels, sk_all, onx_all, n_ref, tolerance)
    checks["whole_model"] = {
        "rows": n_whole,
        "reference": n_ref,
        "edge_cases": len(edges),
        "split_values": n_whole - n_ref - len(edges),
    }
    proves.insert(
        0,
        f"the whole model answers like scikit-learn on {n_whole:,} rows (reference, "
        "edge cases, split values): every label, every "
        + {"probabilities": "probability", "prediction": "prediction"}.get(
            answers[-1], answers[-1].replace("_", " ")
        )
        + " within the tolerance"
        + (", the float64 features bit for bit" if info["tree_precision"] else ""),
    )
    return Certified(
        {
            "passed": True,
            "rows": rows,
            "reference_rows": n_ref,
            "edge_rows": rows - n_ref,
            "splits_covered": splits_covered,
            "method": "tree by tree" if plan is not None else "whole model",
            "checks": checks,
            **verdict,
            "tolerance": tolerance,
            "precision_plan": _precision_plan(info),
            "proves": proves,
            "seconds": round(time.perf_counter() - started, 2),
        },
        golden,
        {name: onx_all[i][:n_ref] for i, name in enumerate(answers)},
    )


def _split_row(
    base: dict[str, Any], values: dict[str, np.ndarray], i: int
) -> tuple[str, dict[str, Any]]:
    """The `i`-th split row: the base row, one column at one of its split values."""
    for col, v in values.items():
        if i < len(v):
            value = v[i].item()
            return f"split value {col}={value!r}", {**base, col: value}
        i -= len(v)
    raise IndexError(i)


def _split_frames(
    columns: Columns, base: dict[str, Any], values: dict[str, np.ndarray]
) -> list[tuple[pd.DataFrame, Callable[[int], str]]]:
    """All split rows as frames of at most `CHUNK` rows, and their names."""
    out: list[tuple[pd.DataFrame, Callable[[int], str]]] = []
    for col, v in values.items():
        for start in range(0, len(v), CHUNK):
            chunk = v[start : start + CHUNK]
            frame = pd.DataFrame(
                {c: base[c] for c in columns.features.columns},
                index=pd.RangeIndex(len(chunk)),
            )
            frame[col] = chunk

            def name(i: int, col: str = col, chunk: np.ndarray = chunk) -> str:
                return f"split value {col}={chunk[i].item()!r}"

            out.append((frame, name))
    return out


def _precision_plan(info: dict[str, Any]) -> str:
    return (
        f"{info['converter']}; features in float64 with scikit-learn's own operations"
        + (
            f"; trees compare in {info['tree_precision']}"
            if info["tree_precision"]
            else ""
        )
        + (
            f"; split thresholds moved to raw space for {len(info['pushed'])} log1p "
            "columns"
            if info["pushed"]
            else ""
        )
    )


@dataclass
class _Plan:
    """How a scikit-learn tree model is probed tree by tree."""

    ensemble: Any  # tree_probes.Ensemble
    units: list[Any]  # tree_probes.Unit or None, per graph unit
    counts: list[int]
    splits: int


def _tree_plan(
    pipeline: Any, info: dict[str, Any], model: bytes | None
) -> _Plan | None:
    """The per-tree plan when featurekit emitted a scikit-learn tree model, else None."""
    from featurekit.exporting.tree_units import units_of
    from featurekit.onnx.subensembles import read_ensemble
    from featurekit.onnx.trees import _FOREST, _GB, _HGB, _SINGLE

    estimator = pipeline.named_steps["model"]
    if (
        model is None
        or not info.get("tree_units")
        or not isinstance(estimator, _SINGLE + _FOREST + _GB + _HGB)
    ):
        return None
    counts = [int(c) for c in info["tree_units"].split(",")]
    units = units_of(estimator, counts)
    splits = sum(
        int((s.left != -1).sum()) for u in units if u is not None for s in u.structures
    )
    return _Plan(read_ensemble(model, info["tree_ensemble"]), units, counts, splits)


def _probe_trees(
    pipeline: Any,
    info: dict[str, Any],
    plan: _Plan,
    tree_inputs: np.ndarray,
    base_at: int,
    report: Reporter,
) -> Any:
    """Every tree alone, at every split (`featurekit.exporting.tree_probes`)."""
    from featurekit.exporting.tree_probes import Inputs, check_trees

    width = tree_inputs.shape[1]
    single = np.full(width, info["tree_precision"] == "float32")
    pushed: dict[int, Any] = info.get("pushed_steps", {})
    single[list(pushed)] = False  # these reach the trees raw, as doubles
    base = np.nan_to_num(tree_inputs[base_at], nan=0.0)
    names = [str(n) for n in pipeline.named_steps["features"].get_feature_names_out()]
    dtype = np.float32 if info["tree_precision"] == "float32" else np.float64

    def to_sklearn(x: np.ndarray) -> np.ndarray:
        out = x.copy()
        for j, tail in pushed.items():
            out[:, j] = apply_chain(tail, x[:, j])
        return np.ascontiguousarray(out, dtype=dtype)

    # a column whose splits moved to raw space holds raw values above -1, the
    # domain `featurekit.onnx.ensemble.push` searched (log1p's); the others any double
    low = np.full(width, -np.inf)
    low[list(pushed)] = -1.0
    high = np.full(width, np.inf)
    high[list(pushed)] = np.finfo(np.float64).max
    inputs = Inputs(
        base=base,
        single=single,
        nullable=np.isnan(tree_inputs).any(axis=0),
        low=low,
        high=high,
        names=names,
        to_sklearn=to_sklearn,
    )
    return check_trees(
        plan.ensemble,
        plan.units,
        plan.counts,
        inputs,
        type(pipeline.named_steps["model"]).__name__,
        on_splits=report.advance,
    )
