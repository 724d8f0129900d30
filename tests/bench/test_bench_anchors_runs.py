"""Smoke test: ``bench/anchors.py --quick`` builds both anchors and loads every server.

It proves that the wrapper, the bare server, ``featurekit serve`` (with and without
monitoring, and with several workers) start, answer the same probabilities, and that
wrk measures each of them.
"""

from __future__ import annotations

import math
import os

BUDGET_LINE = r"^\s+{label}.*\s(PASS|MISS)\s*$"


def test_quick_anchors_benchmark_measures_every_server(run_bench, system_tool) -> None:
    system_tool("wrk", "wrk", "the HTTP load generator of bench/anchors.py")
    bench = run_bench("anchors.py", "--quick", timeout=600)
    for label in (
        r"lr: 1 row: featurekit / wrapper time",
        r"lr: HTTP c=1: featurekit / bare throughput",
        r"lr: HTTP c=8: featurekit / bare p50",
    ):
        bench.assert_prints(BUDGET_LINE.format(label=label))
    http = bench.record["results"]["models"]["lr"]["http"]
    servers = {"featurekit", "bare", "featurekit_no_monitor"}
    expected = {f"{n} c={c}" for n in servers for c in (1, 8)}
    workers = min(os.cpu_count() or 1, 4)
    if workers > 1:
        expected.add("featurekit_workers c=8")
        bench.assert_prints(
            BUDGET_LINE.format(label=rf"lr: HTTP c=8: {workers} workers / one worker")
        )
    assert set(http["cells"]) == expected
    for cell in http["cells"].values():
        assert all(r["requests"] > 0 for r in cell["runs"])
        assert all(r["errors"]["status"] == 0 for r in cell["runs"])
    for line in http["budgets"]:
        assert line["value"] is not None and math.isfinite(line["value"])
    assert set(http["context"]) == {
        f"lr: HTTP c={c}: featurekit, monitoring off / bare" for c in (1, 8)
    }
