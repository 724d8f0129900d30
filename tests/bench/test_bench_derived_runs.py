"""Smoke test: ``bench/derived.py --quick`` runs and reports its two budgets."""

from __future__ import annotations

BUDGET_LINE = r"^\s+{label}.*?\s\d+(\.\d+)?x\s.*\b(PASS|MISS)\s*$"


def test_quick_derived_benchmark_runs_and_prints_ratios(run_bench) -> None:
    bench = run_bench("derived.py", "--quick")
    bench.assert_prints(r"^catalogue: 18 declarations over 8 raw columns$")
    for label in (
        r"1 row: Predictor / bare session\.run",
        r"\d+k rows: Predictor / bare session\.run throughput",
    ):
        bench.assert_prints(BUDGET_LINE.format(label=label))

    results = bench.record["results"]
    assert results["expressions"] == 11
    assert len(bench.record["budgets"]) == 2
    for variant in ("predictor_1", "bare_1", "predictor_big", "bare_big"):
        assert results["timings"][variant]["ns_per_call"]["median"] > 0
