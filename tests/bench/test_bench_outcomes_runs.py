"""Smoke test: ``bench/outcomes.py --quick`` measures the prediction log in all four parts."""

from __future__ import annotations

BUDGET_LINE = r"^\s+{label}.*\s(PASS|MISS)\s*$"


def test_quick_outcomes_benchmark_runs_every_part(run_bench, system_tool) -> None:
    system_tool("wrk", "wrk", "the HTTP load generator of bench/outcomes.py")
    bench = run_bench("outcomes.py", "--quick", timeout=300)
    for label in (
        r"batch 1: extra CPU a row with log=DIR",
        r"c=8: throughput with --log / without",
        r"evaluate, 0.2M rows, half labelled, window 1d",
        r"rows answered over 1 s before the kill, missing",
        r"log files pyarrow cannot read",
    ):
        bench.assert_prints(BUDGET_LINE.format(label=label))
    res = bench.record["results"]
    for size in ("1", "64", "1000"):
        r = res["in_process"][size]
        assert r["caller_cpu_us_per_row"]["off"]["median"] > 0
        assert r["writer_us_per_row"]["median"] > 0  # the writer's CPU was counted
    assert res["in_process"]["log_stats"]["rows_dropped"] == 0
    assert res["http"]["errors"] == {"no_log": 0, "log": 0}
    assert res["http"]["rows_in_log"] >= res["http"]["requests_completed_by_log_server"]
    ev = res["evaluate"]
    assert ev["served"] == ev["rows"] == 200_000
    assert ev["labelled_seen"] == ev["labelled"] == 100_000
    kill = res["kill"]
    assert kill["answered_before_flush_interval"] > 0
    assert kill["writer_pid_is_server"]
    assert len(bench.record["budgets"]) == 5
