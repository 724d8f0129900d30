"""Smoke test: ``bench/compare_power.py --quick`` runs and reports its budgets."""

from __future__ import annotations

BUDGET_LINE = r"^\s+{label}\s.*\d+(\.\d+)? %\s.*\b(PASS|MISS)\s*$"


def test_quick_compare_power_benchmark_runs_and_prints_its_budgets(run_bench) -> None:
    bench = run_bench("compare_power.py", "--quick")
    for label in (
        r"false promotion, equal models, 32% discordant",
        r"power, \+2 points, 32% discordant",
        r"false promotion, log_loss, challenger exchangeable",
    ):
        bench.assert_prints(BUDGET_LINE.format(label=label))
    results = bench.record["results"]
    assert set(results["accuracy"]) == {"0.1", "0.2", "0.32"}
    for rates in results["accuracy"].values():
        # the exact rates do not depend on the run's size: a quick run has them too
        assert rates["exact"]["null"] <= 0.05
        assert 0 < rates["exact"]["power"] <= 1
        sim = rates["simulated"]["null"]
        assert sim["low"] <= sim["value"] <= sim["high"]
    assert len(bench.record["budgets"]) == 12
