"""Smoke test: ``bench/grpc_server.py --quick`` runs and reports its ratio."""

from __future__ import annotations

RATIO_LINE = r"^\s+{label}.*?\s\d+(\.\d+)?x\s.*\s(PASS|MISS|\(context\))\s*$"


def test_quick_grpc_benchmark_runs_and_prints_its_ratios(run_bench) -> None:
    bench = run_bench("grpc_server.py", "--quick")
    for label in (
        r"1 row, c=1: gRPC \(raw\) / HTTP OIP JSON throughput",
        r"1 row: gRPC \(typed contents\) / HTTP OIP JSON",
    ):
        bench.assert_prints(RATIO_LINE.format(label=label))
    record = bench.record
    assert [b["case"] for b in record["budgets"]] == ["credit, LogisticRegression"]
    assert record["budgets"][0]["value"] > 0
    for variant in ("grpc_raw", "grpc_typed", "http_oip", "http_predict"):
        assert record["results"]["timings"][variant]["ns_per_call"]["median"] > 0
    # the raw body carries the values in 8-byte slots, the JSON body as text
    assert (
        record["results"]["bytes"]["grpc_raw"] < record["results"]["bytes"]["http_oip"]
    )
