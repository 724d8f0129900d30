"""Smoke test: ``bench/export_scale.py --quick`` runs and reports its three budgets."""

from __future__ import annotations

BUDGET = r"^\s+{name}\s.*\b(PASS|MISS)\s*$"


def test_quick_export_scale_benchmark_runs_and_prints_its_budgets(run_bench) -> None:
    bench = run_bench("export_scale.py", "--quick")
    for name in (
        r"export time / fit time",
        r"artifact / skl2onnx graph of the forest",
        r"export peak RSS",
    ):
        bench.assert_prints(BUDGET.format(name=name))

    record = bench.record
    assert [b["target"] for b in record["budgets"]] == ["<= 3x", "<= 1.5x", "<= 2 GiB"]
    for case in record["results"].values():
        assert case["fit_s"] and case["export_s"]
        assert case["skl2onnx_bytes"] > 0
        assert "pipeline.joblib" not in case["files_bytes"]  # not by default
        assert case["certificate"]["method"] == "tree by tree"
        assert set(case["phases_s"]) == {"compile", "certify", "golden", "write"}
