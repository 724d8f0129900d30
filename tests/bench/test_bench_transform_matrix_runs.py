"""Smoke test: ``bench/transform_matrix.py --quick`` runs and prints its matrix.

No assertion on the numbers' size beyond what the certificate guarantees: the
independent check must find nothing on the two quick rows.
"""

from __future__ import annotations


def test_quick_transform_matrix_runs_and_prints_its_rows(run_bench) -> None:
    bench = run_bench("transform_matrix.py", "--quick")
    text = bench.stdout
    assert text.startswith("| transform | model | task | certificate rows |"), text
    assert "| arithmetic_ratio | LogisticRegression | binary |" in text, text
    assert "| dates_iso_text | XGBClassifier | binary |" in text, text

    rows = bench.record["results"]["rows"]
    assert [(r["transform"], r["family"]) for r in rows] == [
        ("arithmetic_ratio", "linear"),
        ("dates_iso_text", "xgboost"),
    ]
    for row in rows:
        assert row["status"] == "certified", row
        assert row["certificate_rows"] > 0
        assert row["certificate_max_abs_diff"] <= 1e-5
        assert row["independent_rows"] > 0
        assert row["independent_max_abs_diff"] <= 1e-5
        assert row["flipped_labels"] == 0
    assert all(b["pass"] for b in bench.record["budgets"])
