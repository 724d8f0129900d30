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
from _parity_cases import CASES, adversarial_rows, fit
from threadpoolctl import threadpool_limits

import featurekit as fk
from serving import Predictor

#: fk.export's default tolerance: classifiers |Δp|, regressors |Δ| / std(y).
TOLERANCE = 1e-5
QUICK = [("decision_tree", "breast_cancer"), ("ridge", "diabetes")]


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
