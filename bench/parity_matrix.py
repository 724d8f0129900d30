"""Print the parity matrix as a markdown table: every family x dataset, independently checked.

Run: python bench/parity_matrix.py [--quick] [--json [PATH]]. For each case of
``bench/_parity_cases.py`` (the datasets and models of the test suite's parity matrix)
it fits and exports the pipeline, and reports the certificate (rows scored, max |Δ|)
plus an independent check: Predictor against the scikit-learn pipeline on held-out rows
with missing values and unseen categories, and on adversarial rows (zero, signed zero,
tiny and huge magnitudes, bounds and clip ends, and raw values at and beside every tree
split, found by bisection through the fitted transforms). ``--quick`` runs two cases
(the smoke test uses it); ``--json`` writes the rows (default
``bench/results/parity_matrix.json``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import Run, add_json_option, budget, print_budgets, versions
from _parity_cases import CASES, CATEGORICAL, NUMERIC, UNSEEN, Dataset, fit, typed
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.impute import SimpleImputer
from threadpoolctl import threadpool_limits

import featurekit as fk
from serving import Predictor

#: fk.export's default tolerance: classifiers |Δp|, regressors |Δ| / std(y).
TOLERANCE = 1e-5
QUICK = [("decision_tree", "breast_cancer"), ("ridge", "diabetes")]


# -- adversarial rows ----------------------------------------------------------------
def _is_hist(model: Any) -> bool:
    return isinstance(
        model, HistGradientBoostingClassifier | HistGradientBoostingRegressor
    )


def _tree_splits(model: Any) -> list[tuple[int, float]]:
    """(feature index, threshold) of every numeric split, read from the fitted trees."""
    out: list[tuple[int, float]] = []
    if _is_hist(model):
        for iteration in model._predictors:
            for predictor in iteration:
                nodes = predictor.nodes[~predictor.nodes["is_leaf"].astype(bool)]
                out += zip(
                    nodes["feature_idx"].tolist(),
                    nodes["num_threshold"].tolist(),
                    strict=True,
                )
        return out
    if hasattr(model, "tree_"):
        trees = [model]
    elif hasattr(model, "estimators_"):
        trees = list(np.ravel(model.estimators_))
    else:
        return out
    for est in trees:
        t = est.tree_
        inner = t.children_left != -1
        out += zip(t.feature[inner].tolist(), t.threshold[inner].tolist(), strict=True)
    return out


def _ordered(x: np.ndarray) -> np.ndarray:
    """Doubles as int64 whose integer order is the float order (-0.0 and 0.0 meet at 0)."""
    bits = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, -(bits & np.int64(0x7FFFFFFFFFFFFFFF)), bits)


def _unordered(i: np.ndarray) -> np.ndarray:
    bits = np.where(i < 0, (-i) | np.int64(-0x8000000000000000), i).astype(np.int64)
    return bits.view(np.float64)


def _present_value_transform(ct: Any, col: str) -> Any:
    """The fitted steps of one numeric column, as a function of non-missing raw values."""
    fitted = ct.named_transformers_[col]
    # the imputer is the identity on present values (and slow on tiny frames): skip it
    steps = [
        s
        for _, s in getattr(fitted, "steps", [("", fitted)])
        if not isinstance(s, SimpleImputer)
    ]

    def transform(x: np.ndarray) -> np.ndarray:
        v: Any = x.reshape(-1, 1)
        with np.errstate(all="ignore"):
            for step in steps:
                if hasattr(step, "feature_names_in_"):
                    v = pd.DataFrame(np.asarray(v), columns=step.feature_names_in_)
                v = step.transform(v)
        return np.asarray(v, dtype=np.float64).ravel()

    return transform


def _split_boundaries(
    transform: Any, thresholds: np.ndarray, lo: float, hi: float, float32: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Bisect raw inputs: per threshold, the last double going left and the first going right.

    A split goes left when ``T(x) <= t``, with ``T`` the column's fitted transforms and,
    for scikit-learn's own trees, ``T(x)`` rounded to float32 first. Bisecting over the
    doubles' integer order ends on two neighbouring doubles in at most 64 steps.
    """

    def left(i: np.ndarray) -> np.ndarray:
        v = transform(_unordered(i))
        if float32:
            v = v.astype(np.float32).astype(np.float64)
        return v <= thresholds

    a = np.full(len(thresholds), _ordered(np.array([lo]))[0])
    b = np.full(len(thresholds), _ordered(np.array([hi]))[0])
    ok = left(a) & ~left(b)
    while True:
        mid = (a >> 1) + (b >> 1) + (a & b & 1)  # floor of the mean, without overflow
        active = mid != a
        if not active.any():
            break
        go = left(mid)
        a = np.where(active & go, mid, a)
        b = np.where(active & ~go, mid, b)
    return _unordered(a[ok]), _unordered(b[ok])


def _admissible(f: fk.Numeric, v: float) -> bool:
    """Whether the contract accepts `v` in `f`'s column."""
    if not np.isfinite(v):
        return False
    if f.bounds is not None:
        lo, hi = f.bounds
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    return f.dtype != "int" or v == np.floor(v)


def _adversarial_values(ds: Dataset, pipe: Any) -> dict[str, list[float]]:
    model = pipe.named_steps["model"]
    ct = pipe.named_steps["features"]
    names = list(ct.get_feature_names_out())
    bounded_output = ds.task != "regression" or bool(_tree_splits(model))
    splits = _tree_splits(model)
    out: dict[str, list[float]] = {}
    for col in NUMERIC:
        f = ds.features[col]
        data = ds.clean[col].to_numpy(dtype=np.float64)
        lo, hi = float(data.min()), float(data.max())
        span = max(abs(lo), abs(hi), 1.0)
        values = [
            0.0,
            -0.0,
            1e-300,
            -1e-300,
            5e-324,
            1.0,
            -1.0,
            span * 1e6,
            -span * 1e6,
            lo,
            hi,
            float(np.nextafter(lo, -np.inf)),
            float(np.nextafter(hi, np.inf)),
        ]
        if bounded_output:
            # a linear regressor's answer grows with its input: at 1e15 float64 rounding
            # alone exceeds any std(y)-relative tolerance, so only bounded outputs get these
            values += [1e15, -1e15, 1e30, -1e30]
        for interval in (f.bounds, f.clip):
            for end in interval or ():
                if end is not None:
                    values += [
                        float(end),
                        float(np.nextafter(end, np.inf)),
                        float(np.nextafter(end, -np.inf)),
                    ]
        ts = np.unique([t for i, t in splits if names[i] == f"{col}__{col}"])
        if len(ts):
            ts = ts[
                np.unique(np.linspace(0, len(ts) - 1, 40).astype(int))
            ]  # at most 40
            floor = 0.0 if f.bounds and f.bounds[0] is not None else lo - 1.0 - abs(lo)
            left, right = _split_boundaries(
                _present_value_transform(ct, col),
                ts,
                floor,
                hi + 1.0 + abs(hi),
                not _is_hist(model),
            )
            for a, b in zip(left, right, strict=True):
                if f.dtype == "int":
                    values += [float(np.floor(a)), float(np.floor(a) + 1)]
                else:
                    values += [
                        a,
                        b,
                        float(np.nextafter(a, -np.inf)),
                        float(np.nextafter(b, np.inf)),
                    ]
            if (
                col == "n_raw"
            ):  # untransformed: the thresholds themselves, in both precisions
                for t in ts:
                    t32 = np.float32(t)
                    values += [
                        t,
                        float(np.nextafter(t, np.inf)),
                        float(np.nextafter(t, -np.inf)),
                        float(t32),
                        float(np.nextafter(t32, np.float32(np.inf))),
                        float(np.nextafter(t32, np.float32(-np.inf))),
                    ]
        out[col] = [
            float(v) if f.dtype != "int" else int(v)
            for v in values
            if _admissible(f, float(v))
        ]
    return out


def adversarial_rows(ds: Dataset, pipe: Any) -> pd.DataFrame:
    """Base rows with one column at a time set to an adversarial value."""
    bases = ds.clean.iloc[[0, len(ds.clean) // 2, len(ds.clean) - 1]].to_dict("records")
    adversarial = _adversarial_values(ds, pipe)
    records = []
    for base in bases:
        for col, values in adversarial.items():
            records += [{**base, col: v} for v in values]
        for f in ds.features.features:
            if isinstance(f, fk.Categorical) and f.unknown != "error":
                records += [{**base, f.name: u} for u in UNSEEN]
        records.append(
            {
                **base,
                **{f.name: None for f in ds.features.features if f.accepts_missing},
            }
        )
    return typed(pd.DataFrame(records, columns=NUMERIC + CATEGORICAL))


# -- the matrix ----------------------------------------------------------------------
def _diff(
    pred: Predictor, pipe: Any, frame: pd.DataFrame, std_y: float | None
) -> tuple[float, int]:
    if std_y is not None:
        sk = np.asarray(pipe.predict(frame), dtype=np.float64)
        return float(np.max(np.abs(sk - pred.predict(frame))) / std_y), 0
    flips = int(
        np.sum(
            np.asarray(pipe.predict(frame), dtype=object)
            != pred.predict(frame).astype(object)
        )
    )
    dp = np.max(np.abs(pipe.predict_proba(frame) - pred.predict_proba(frame)))
    return float(dp), flips


def check(family: str, data: str) -> dict[str, Any]:
    """One case: the certificate's figures and the independent check's."""
    t0 = time.perf_counter()
    ds, pipe = fit(family, data)
    with tempfile.TemporaryDirectory() as tmp:
        art = fk.export(pipe, Path(tmp) / "a", reference=ds.train)
        pred = Predictor.load(Path(tmp) / "a")
        std_y = ds.std_y if ds.task == "regression" else None
        d_hold, f_hold = _diff(pred, pipe, ds.holdout, std_y)
        adv = adversarial_rows(ds, pipe)
        d_adv, f_adv = _diff(pred, pipe, adv, std_y)
    cert = art.certificate
    return {
        "model": family,
        "dataset": data,
        "task": ds.task,
        "certificate_rows": int(cert["rows"]),
        "certificate_max_abs_diff": float(cert["max_abs_diff"]),
        "independent_rows": len(ds.holdout) + len(adv),
        "independent_max_abs_diff": max(d_hold, d_adv),
        "flipped_labels": f_hold + f_adv,
        "seconds": time.perf_counter() - t0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two cases")
    add_json_option(parser, "parity_matrix")
    args = parser.parse_args()
    run = Run("parity_matrix")
    rows = []
    with threadpool_limits(1):  # tiny fits; the machine is shared
        for family, data in QUICK if args.quick else CASES:
            rows.append(check(family, data))
            print(f"{family:>22} {data:<18} done", file=sys.stderr)
    print(
        "| model | dataset | task | certificate rows | certificate max abs diff | "
        "independent rows | independent max abs diff | flipped labels |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['dataset']} | {r['task']} | {r['certificate_rows']:,} "
            f"| {r['certificate_max_abs_diff']:.1e} | {r['independent_rows']:,} | "
            f"{r['independent_max_abs_diff']:.1e} | {r['flipped_labels']} |"
        )
    worst_cert = max(r["certificate_max_abs_diff"] for r in rows)
    worst = max(r["independent_max_abs_diff"] for r in rows)
    flips = sum(r["flipped_labels"] for r in rows)
    print(
        f"\nworst certificate diff {worst_cert:.2e}; worst independent diff "
        f"{worst:.2e}; flipped labels {flips}; classifier diffs are |Δp|, regressor "
        "diffs |Δ| / std(y)"
    )
    budgets = [
        budget("worst |Δ|, independent check", worst, "", at_most=TOLERANCE),
        budget("flipped labels, independent check", flips, "", at_most=0),
    ]
    print_budgets(budgets)
    if args.json:
        run.write(
            args.json,
            config={"quick": args.quick, "cases": len(rows), "tolerance": TOLERANCE},
            budgets=[{**b, "case": f"{len(rows)} cases"} for b in budgets],
            results={"rows": rows, "worst_certificate_diff": worst_cert},
            versions=versions(
                "numpy", "pandas", "scikit-learn", "onnxruntime", "featurekit"
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
