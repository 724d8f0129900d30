"""Smoke test: ``bench/monitor.py --quick`` runs and reports its budget per batch size."""

from __future__ import annotations

BUDGET_LINE = (
    r"^\s+batch {size}: monitoring's hot path.*?\s\d+\.\d+ µs\s.*\b(PASS|MISS)\s*$"
)


def test_quick_monitor_benchmark_runs_and_prints_its_budgets(run_bench) -> None:
    bench = run_bench("monitor.py", "--quick")
    for size in (1, 64):
        bench.assert_prints(BUDGET_LINE.format(size=size))

    results = bench.record["results"]
    assert [b["target"] for b in bench.record["budgets"]] == ["<= 20 µs", "<= 2 µs"]
    for size in ("1", "64"):
        assert results[size]["monitor_observe_us_per_row"] > 0
        assert results[size]["us_per_row"]["off"] > 0
    assert results["evaluate_ms_per_window"] > 0
