"""Smoke test: ``bench/contract.py --quick`` runs and reports its ratios."""

from __future__ import annotations

RATIO_LINE = r"^\s+{label}.*?\s\d+(\.\d+)?x\s.*\b(PASS|MISS)\s*$"
TIME_LINE = r"^\s+{label}.*?\s\d+(\.\d+)? µs\s.*\b(PASS|MISS)\s*$"


def test_quick_contract_benchmark_runs_and_prints_ratios(run_bench) -> None:
    bench = run_bench("contract.py", "--quick")
    bench.assert_prints(
        TIME_LINE.format(label=r"1 row, 10 cols: Columns\.coerce\(dict\) time")
    )
    for width in (10, 50):
        for label in (
            rf"1 row, {width} cols: Predictor / bare session\.run",
            rf"1 row, {width} cols: sklearn\+pandera / Predictor",
            rf"\d+k rows, {width} cols: Predictor / bare throughput",
            rf"1 row, {width} cols: \+ drift monitoring / bare",
            rf"\d+k rows, {width} cols: \+ drift monitoring / bare",
        ):
            bench.assert_prints(RATIO_LINE.format(label=label))

    lr = bench.record["results"]["models"]["lr"]
    assert set(lr) == {"10", "50"}
    # 10 columns: the check's time, 3 contract ratios, 2 ratios with drift monitoring
    assert len(lr["10"]["budgets"]) == 6
    assert len(lr["50"]["budgets"]) == 5
    assert len(bench.record["budgets"]) == 11
    for result in lr.values():
        for budget in result["budgets"]:
            assert budget["value"] > 0
        for variant in ("coerce", "predictor", "bare", "sklearn_pandera"):
            assert result["single_row"][variant]["ns_per_call"]["median"] > 0
        for variant in ("predictor", "bare", "contract_validate"):
            assert result["batch"][variant]["ns_per_call"]["median"] > 0
