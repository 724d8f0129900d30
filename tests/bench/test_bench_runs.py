"""Smoke test: ``bench/predict.py --quick`` runs and reports its ratios."""

from __future__ import annotations

RATIO_LINE = r"^\s+{label}.*?\s\d+(\.\d+)?x\s.*\b(PASS|MISS)\s*$"


def test_quick_predict_benchmark_runs_and_prints_ratios(run_bench) -> None:
    bench = run_bench("predict.py", "--quick")
    for label in (
        r"1 row: Predictor / bare session\.run",
        r"1 row: sklearn(\+pandera| \(no pandera\)) / Predictor",
        r"\d+k rows: Predictor / bare session\.run throughput",
    ):
        bench.assert_prints(RATIO_LINE.format(label=label))

    record = bench.record
    assert len(record["budgets"]) == 3
    rf = record["results"]["models"]["rf"]
    assert rf["budgets"] == [
        {k: v for k, v in b.items() if k != "case"} for b in record["budgets"]
    ]
    for budget in rf["budgets"]:
        assert budget["value"] > 0
    for variant in ("predictor", "bare", "sklearn"):
        assert rf["single_row"][variant]["ns_per_call"]["median"] > 0
        assert rf["batch"][variant]["ns_per_call"]["median"] > 0
