"""Which scikit-learn models export with certified parity: the model-coverage table.

Run: python bench/model_coverage.py [--quick] [--only NAME ...] [--json [PATH]]
[--docs [PATH]]. Every case of ``bench/_model_cases.py`` (issue 19's 37 common
estimators and those added since) is fitted with one FeatureSet per task (a
penguins-like table for classifiers, a cars-like one for regressors) and exported
with ``fk.export``. Its status is:

- ``exported``: the certificate passed; the worst |Δ| is the larger of the
  certificate's and of an independent check (``Predictor`` against the pipeline on
  300 held-out rows of a fresh sample, with gaps and an unseen category);
- ``refused``: featurekit raised ``ExportError`` or ``ParityError``, in its own words
  (the first line of the message is shown);
- ``raw``: anything else escaped (an onnxruntime, skl2onnx or AttributeError
  exception): a featurekit bug.

Classifier diffs are |Δp| (or, without probabilities, |Δ decision| relative to its
spread), regressor diffs |Δ| relative to max(std, |prediction|), as the certificate
measures them. ``--docs`` rewrites ``docs/models.md``; ``--json`` writes the rows
(default ``bench/results/model_coverage.json``); ``--quick`` runs four cases.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, Run, add_json_option, budget, print_budgets, versions
from _model_cases import CASES, Case, data
from threadpoolctl import threadpool_limits

import featurekit as fk
from serving import Predictor

TOLERANCE = 1e-5
QUICK = ["SVC()", "AdaBoostClassifier()", "PoissonRegressor()", "KernelRidge()"]
DOCS = ROOT / "docs" / "models.md"


def _independent(art: Any, pipe: Any, holdout: Any, scale: float) -> float:
    """The worst |Δ| between Predictor and the pipeline on held-out rows."""
    p = Predictor.load(art.path, monitor=False)
    got = p.score(holdout)
    assert isinstance(got, dict)
    worst = 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        if "label" in got:
            flipped = np.asarray(pipe.predict(holdout)).astype(object) != np.asarray(
                got["label"]
            ).astype(object)
            if flipped.any():
                return float("inf")
        for name, method in (
            ("probabilities", "predict_proba"),
            ("decision_function", "decision_function"),
            ("prediction", "predict"),
        ):
            if name not in got:
                continue
            a = np.asarray(getattr(pipe, method)(holdout), dtype=np.float64)
            b = np.asarray(got[name], dtype=np.float64)
            delta = np.abs(a - b)
            if name != "probabilities":
                delta = delta / np.maximum(scale, np.abs(a))
            delta = np.where((a == b) | (np.isnan(a) & np.isnan(b)), 0.0, delta)
            worst = max(worst, float(np.nan_to_num(delta, nan=np.inf).max()))
    return worst


def check(case: Case) -> dict[str, Any]:
    t0 = time.perf_counter()
    features, frame, y = data(case.task)
    _, holdout, _ = data(case.task, n=300, seed=7)
    if case.task == "classification":
        holdout.loc[holdout.index[:5], "island"] = "Anvers"  # unseen: ignored
    row: dict[str, Any] = {
        "estimator": case.name,
        "task": case.task,
        "issue": case.issue,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the quick fits
        pipe = fk.make_pipeline(features, case.make()).fit(frame, y)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            art = fk.export(pipe, Path(tmp) / "a", reference=frame, tolerance=TOLERANCE)
            cert = art.certificate
            independent = _independent(art, pipe, holdout, float(cert["scale"]))
        row.update(
            status="exported",
            converter=art.manifest["converter"],
            outputs=art.manifest["outputs"],
            certificate_rows=int(cert["rows"]),
            certificate_diff=float(cert["max_abs_diff"]),
            independent_diff=independent,
            worst_diff=max(float(cert["max_abs_diff"]), independent),
            reason="",
        )
    except fk.ExportError as exc:  # ParityError included: featurekit's own words
        row.update(
            status="refused",
            error=type(exc).__name__,
            reason=_reason(str(exc)),
            worst_diff=None,
        )
    except Exception as exc:  # exactly what the table must expose
        row.update(
            status="raw",
            error=type(exc).__name__,
            reason=str(exc).splitlines()[0] if str(exc) else "",
            worst_diff=None,
        )
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def _reason(message: str) -> str:
    """A refusal's first line, without its list of rows, and its advice if any."""
    lines = message.splitlines()
    first = lines[0].removesuffix(" Worst rows:")
    advice = [
        line
        for line in lines[1:]
        if line and not line.startswith((" ", "The float plan", "Nothing was written"))
    ]
    return " ".join([first, *advice])


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| estimator | task | status | converter | worst \\|Δ\\| | note |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        diff = "" if r["worst_diff"] is None else f"{r['worst_diff']:.1e}"
        name = r["estimator"] + ("" if r["issue"] else " ⁺")
        note = r["reason"] if r["status"] != "exported" else _outputs(r)
        note = note.replace("|", "\\|")
        lines.append(
            f"| `{name}` | {r['task'][:5]}. | {r['status']} | "
            f"{r.get('converter', r.get('error', ''))} | {diff} | {note} |"
        )
    return "\n".join(lines)


def _outputs(r: dict[str, Any]) -> str:
    outs = r["outputs"]
    if outs == ["label", "decision_function"]:
        return "label and decision function (no `predict_proba`)"
    if outs == ["label"]:
        return "label only (no `predict_proba` nor `decision_function`)"
    return ""


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def count(rs: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(rs)
        by = {
            s: sum(r["status"] == s for r in rs) for s in ("exported", "refused", "raw")
        }
        diffs = [r["worst_diff"] for r in rs if r["worst_diff"] is not None]
        return {
            "estimators": n,
            **by,
            "exported_share": by["exported"] / n if n else float("nan"),
            "worst_diff": max(diffs) if diffs else None,
        }

    return {"issue_19": count([r for r in rows if r["issue"]]), "all": count(rows)}


def docs(rows: list[dict[str, Any]], totals: dict[str, Any], run: Run) -> str:
    issue, every = totals["issue_19"], totals["all"]
    added = every["estimators"] - issue["estimators"]
    return f"""# Model coverage

Which scikit-learn models `fk.export` exports with a passing parity certificate, and
which it refuses, in its own words. Generated by `bench/model_coverage.py --docs`
(do not edit by hand); the JSON record is `bench/results/model_coverage.json`.

Every estimator is fitted with one FeatureSet per task and exported with the default
tolerance (1e-5): classifiers on a penguins-like table (3 species; 4 measurements
with a few gaps, `impute="median"`, `scale="standard"`; island and sex, sex with
gaps), regressors on a cars-like table (miles per gallon from 6 numbers, 2 of them
discrete, with gaps; the origin). The data are generated with the shape of the real
tables the coverage was first measured on.

- **exported**: the certificate passed. *worst |Δ|* is the larger of the
  certificate's and of an independent check: `serving.Predictor` against the
  pipeline on 300 rows of a fresh sample (gaps, an unseen island). Classifier diffs
  are |Δp|, or for a model without probabilities its decision function relative to
  max(spread, |value|); regressor diffs are |Δ| / max(std, |prediction|).
- **refused**: `fk.ExportError` or `fk.ParityError`: the first line of its message
  and the advice it gives, if any.
- **raw**: another exception escaped: a featurekit bug (there is none).

Issue 19's 37 estimators: **{issue["exported"]} exported, {issue["refused"]} refused,
{issue["raw"]} raw** ({issue["exported_share"]:.0%}). With the {added} added since
(marked ⁺): **{every["exported"]} of {every["estimators"]} exported, {every["refused"]}
refused, {every["raw"]} raw** ({every["exported_share"]:.0%}). Worst |Δ| of an
exported model: {every["worst_diff"]:.1e}.

{table(rows)}

## What featurekit converts itself

skl2onnx converts the rest in double precision (then float, if double fails); the
certificate decides either way. See [parity.md](parity.md) for the precision plan.

| models | converter | how |
|---|---|---|
| trees, forests, gradient boosting, LightGBM, XGBoost | `featurekit.TreeEnsemble` | one double `TreeEnsemble`, scikit-learn's float32 rounding and summation order |
| `AdaBoost*`, `Bagging*` over trees, `CalibratedClassifierCV` over a tree | `featurekit.TreeEnsemble` | the held trees in the same node; AdaBoost's SAMME votes and weighted median; bagged feature subsets and joblib's partial sums; calibration computed per leaf by scikit-learn itself |
| `LogisticRegression`, `SGDClassifier`, `Perceptron`, `RidgeClassifier`, `LinearSVC` | `featurekit.linear` | `X @ coef_.T + intercept_`; the label from the decision function as scikit-learn takes it (first maximum), probabilities by the model's own formula; without `predict_proba`, the `decision_function` is the second output |
| `SVC`, `NuSVC` without probabilities, `SVR`, `NuSVR`, `KernelRidge` | `featurekit.kernel` | the kernel in double (onnxruntime has no double SVM regressor); libsvm's one-vs-one votes and scikit-learn's one-vs-rest decision function |
| `PoissonRegressor`, `GammaRegressor`, `TweedieRegressor` | `featurekit.glm` | `X @ coef_ + intercept_`, then featurekit's exact `exp` for the log link |
| `KNeighbors*` | `featurekit.neighbors` | scikit-learn's distances; ties to the earlier training row, as brute force keeps them; a row at infinite distance becomes training row 0, as scikit-learn's heap starts |
| `Voting*`, `Stacking*`, `OneVsRestClassifier` | `featurekit.meta` | each held estimator by its own converter, combined as scikit-learn combines them |

A classifier without `predict_proba` is exported with the outputs `label` and
`decision_function` (or `label` alone, e.g. hard voting): `Predictor.predict` and
`Predictor.decision_function` answer, `Predictor.predict_proba` raises
`fk.ArtifactError`, and the HTTP metadata lists the outputs (see [http.md](http.md)).

A k-nearest-neighbours model answers by the training rows it keeps, and where several
tie at the k-th distance its answer depends on which: far outside the training range
one column's distance swamps the others and whole groups of training rows tie in
scikit-learn's surrogate distance, broken by its BLAS's rounding, which no graph
shares; and a kd-tree or ball-tree (what `algorithm="auto"` picks for dense data of
few columns) breaks exact ties in the order it visits the tree. featurekit follows
brute force's rule (the earlier training row) and scikit-learn's start (training row
0 at an infinite distance), and where the certificate meets a tie it cannot follow
the refusal says what to do: declare `bounds=` or `observed_range="error"` on the
numeric columns so that the contract refuses rows that far out, and fit with
`algorithm="brute"`. That is the one refusal above.

The GLMs with a log link (`PoissonRegressor`, `GammaRegressor`, `TweedieRegressor`)
apply featurekit's exact `exp` kernel (the one derived features use) to the linear
predictor, not onnxruntime's `Exp`, whose last bit depends on the CPU: within an ulp
of numpy's, and infinite exactly where scikit-learn's overflows (the certificate
counts the same infinity on both sides as agreement).

Run: `{run.command}` on {run.date.date().isoformat()} (commit {run.code["git"]}).
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four cases")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these cases")
    parser.add_argument(
        "--docs",
        nargs="?",
        const=DOCS,
        type=Path,
        metavar="PATH",
        help=f"write the table to PATH (default {DOCS.relative_to(ROOT)})",
    )
    add_json_option(parser, "model_coverage")
    args = parser.parse_args()
    run = Run("model_coverage")
    cases = [
        c
        for c in CASES
        if (not args.quick or c.name in QUICK)
        and (not args.only or c.name in args.only)
    ]
    rows = []
    with threadpool_limits(1):  # small fits; the machine is shared
        for case in cases:
            rows.append(check(case))
            print(f"{case.name:>60} {rows[-1]['status']}", file=sys.stderr)
    print(table(rows))
    totals = summary(rows)
    for scope, t in totals.items():
        worst = "n/a" if t["worst_diff"] is None else f"{t['worst_diff']:.1e}"
        print(
            f"\n{scope}: {t['exported']} of {t['estimators']} exported "
            f"({t['exported_share']:.0%}), {t['refused']} refused, {t['raw']} raw; "
            f"worst |Δ| {worst}",
            end="",
        )
    print()
    every = totals["all"]
    budgets = [
        budget("exported share", every["exported_share"], "", at_least=0.95),
        budget("raw errors", every["raw"], "", at_most=0),
        budget(
            "worst |Δ| of an exported model", every["worst_diff"], "", at_most=TOLERANCE
        ),
    ]
    print_budgets(budgets)
    if args.json:
        run.write(
            args.json,
            config={"quick": args.quick, "cases": len(rows), "tolerance": TOLERANCE},
            budgets=[{**b, "case": f"{len(rows)} estimators"} for b in budgets],
            results={"rows": rows, "summary": totals},
            versions=versions(
                "numpy",
                "pandas",
                "scikit-learn",
                "skl2onnx",
                "onnxruntime",
                "featurekit",
            ),
        )
    if args.docs:
        args.docs.write_text(docs(rows, totals, run))
        print(f"wrote {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
