"""Smoke test: ``bench/model_coverage.py --quick`` runs and prints its four rows."""

from __future__ import annotations

import re

QUICK = ("SVC()", "AdaBoostClassifier()", "PoissonRegressor()", "KernelRidge()")


def test_quick_model_coverage_runs_and_prints_its_rows(run_bench) -> None:
    bench = run_bench("model_coverage.py", "--quick")
    assert bench.stdout.startswith("| estimator | task | status | converter |")
    for name in QUICK:
        bench.assert_prints(r"^\| `" + re.escape(name) + r"` \| \w+\. \| exported \|")

    rows = bench.record["results"]["rows"]
    assert [r["estimator"] for r in rows] == list(QUICK)
    assert bench.record["results"]["summary"]["all"]["raw"] == 0
    assert all(b["pass"] for b in bench.record["budgets"])
