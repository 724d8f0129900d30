"""Smoke test: ``bench/spark.py --quick`` runs on a local Spark and reports its budget."""

from __future__ import annotations

BUDGET = r"^\s+{name}\s.*\b(PASS|MISS)\s*$"


def test_quick_spark_benchmark_runs_and_prints_its_budget(run_bench, system_tool):
    system_tool("java", "openjdk-17-jre-headless", "the JVM of a local Spark")
    bench = run_bench("spark.py", "--quick", timeout=600)
    bench.assert_prints(
        BUDGET.format(name=r"Spark local\[2\] per core / single-process Predictor")
    )
    record = bench.record
    assert [b["target"] for b in record["budgets"]] == [">= 0.7x"]
    res = record["results"]
    assert res["rows"] == 200_000 and res["cores"] == 2
    assert len(res["single_s"]) == len(res["spark_s"]) == 1
    assert res["billion_rows_core_hours"] > 0
