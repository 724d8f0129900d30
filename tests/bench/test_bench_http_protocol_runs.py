"""Smoke test: ``bench/http_protocol.py --quick`` loads both protocols and gzip bodies.

It proves that the guarded and the stock server start and answer every cell without
errors, and that the ratios and the budget are printed and recorded.
"""

from __future__ import annotations


def test_quick_protocol_benchmark_measures_every_cell(run_bench, system_tool) -> None:
    system_tool("wrk", "wrk", "the HTTP load generator of bench/http_protocol.py")
    bench = run_bench("http_protocol.py", "--quick", timeout=180)
    bench.assert_prints(r"^\s+HTTP /predict c=8: guarded protocol .*\s(PASS|MISS)\s*$")
    cells = bench.record["results"]["cells"]
    assert set(cells) == {
        "guarded 1 row c=1",
        "stock 1 row c=1",
        "guarded 1 row c=8",
        "stock 1 row c=8",
        "guarded 1 row gzip c=8",
        "guarded 100 rows c=8",
        "guarded 100 rows gzip c=8",
    }
    for cell in cells.values():
        assert cell["requests"] > 0
        assert cell["errors"] == 0
    assert len(bench.record["results"]["ratios"]) == 4
