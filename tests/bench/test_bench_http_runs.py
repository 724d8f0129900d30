"""Smoke test: ``bench/http_server.py --quick`` loads the real server and the baseline.

It proves that the server starts, answers correctly, and that wrk measures every
endpoint at every concurrency.
"""

from __future__ import annotations

import math

BUDGET_LINE = r"^\s+{label}.*\s(PASS|MISS)\s*$"


def test_quick_http_benchmark_measures_every_endpoint(run_bench, system_tool) -> None:
    system_tool("wrk", "wrk", "the HTTP load generator of bench/http_server.py")
    bench = run_bench("http_server.py", "--quick", timeout=180)
    for label in (
        r"1 row, /predict, c=1: p50 latency",
        r"1 row, /v2 infer, c=1: p50 latency",
        r"1 row, /predict, c=8: ours / baseline throughput",
        r"1 row, /v2 infer, c=8: ours / baseline throughput",
        r"startup: process start -> ready",
    ):
        bench.assert_prints(BUDGET_LINE.format(label=label))
    assert "NOTE: featurekit's server did not start" not in bench.stdout

    lr = bench.record["results"]["models"]["lr"]
    assert lr["notes"] == []
    assert set(lr["endpoints"]) == {"predict", "infer", "baseline"}
    for per_concurrency in lr["endpoints"].values():
        assert set(per_concurrency) == {"1", "8", "32"}
        for cell in per_concurrency.values():
            assert cell["requests"] > 0
            assert cell["errors"] == 0
            for key in ("p50_ms", "p99_ms", "rps"):
                assert cell[key]["median"] > 0
    assert len(lr["budgets"]) == len(bench.record["budgets"]) == 5
    for budget in lr["budgets"]:
        assert budget["value"] is not None and math.isfinite(budget["value"])
        assert budget["value"] > 0
    assert lr["startup_s"]["ours"]["median"] > 0
