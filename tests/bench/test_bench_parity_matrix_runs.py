"""Smoke test: ``bench/parity_matrix.py --quick`` runs and prints its two rows."""

from __future__ import annotations


def test_quick_parity_matrix_runs_and_prints_its_rows(run_bench) -> None:
    bench = run_bench("parity_matrix.py", "--quick")
    assert bench.stdout.startswith("| model | dataset | task | certificate rows |")
    assert "| decision_tree | breast_cancer | binary |" in bench.stdout
    assert "| ridge | diabetes | regression |" in bench.stdout

    rows = bench.record["results"]["rows"]
    assert [(r["model"], r["dataset"]) for r in rows] == [
        ("decision_tree", "breast_cancer"),
        ("ridge", "diabetes"),
    ]
    for row in rows:
        assert row["certificate_rows"] > 0
        assert row["certificate_max_abs_diff"] <= 1e-5
        assert row["independent_rows"] > 0
        assert row["independent_max_abs_diff"] <= 1e-5
        assert row["flipped_labels"] == 0
    assert all(b["pass"] for b in bench.record["budgets"])
