"""Smoke test: ``bench/drift.py --quick --no-evidently`` runs and reports its rates.

No assertions on the rates or times themselves: they are the benchmark's to report.
This runs featurekit's side alone (the Evidently side needs a venv of its own and
minutes; the full run covers it).
"""

from __future__ import annotations

RATE_LINE = r"^\s+{label}\s+\d+\.\d% \[\d+\.\d-\d+\.\d\]\s+-\s+.*\b(PASS|MISS)\s*$"
CELLS = {
    "null_cat3",
    "null_cat10",
    "null_cat50",
    "null_num",
    "power_0.1",
    "power_0.2",
    "power_0.5",
    "missing_num",
    "missing_cat",
    "unseen_cat",
    "harmless",
    # issue 15: small windows, glaring shifts at 50 rows, the correlated pair
    *(
        f"null_{d}_n{n}"
        for d in ("cat3", "cat10", "cat50", "num")
        for n in (20, 50, 100)
    ),
    "glaring_mean_n50",
    *(f"glaring_share_cat{k}_n50" for k in (3, 10, 50)),
    "null_corr",
    "flip_corr",
}


def test_quick_drift_benchmark_runs_featurekit_side(run_bench) -> None:
    bench = run_bench("drift.py", "--quick", "--no-evidently")
    for label in (
        r"null, categorical k=50: per feature",
        r"null, numeric: dataset",
        r"missing 0→5 %, numeric: per feature",
        r"harmless 0\.02σ shift, 100k rows: dataset",
    ):
        bench.assert_prints(RATE_LINE.format(label=label))
    bench.assert_prints(r"fk\.drift\(outputs=False\), median of 3\s+\d+\.\d+ s")

    results = bench.record["results"]
    assert set(results["cells"]) == CELLS
    for name, cell in results["cells"].items():
        fk = cell["featurekit"]
        assert len(fk["flags"]) == cell["trials"] > 0, name
        assert "evidently" not in cell, name
        for r in [*fk["groups"].values(), fk["dataset"]]:
            assert 0.0 <= r["ci95"][0] <= r["rate"] <= r["ci95"][1] <= 1.0, name
            assert r["n"] > 0, name
    for k in (3, 10, 50):  # the oracle's power on the same windows: the ceiling
        ceiling = results["cells"][f"glaring_share_cat{k}_n50"]["ceiling"]
        assert ceiling["tests"] >= 7  # 5 inputs, the outputs, the multivariate row
        assert ceiling["at_family"]["rate"] <= ceiling["at_alpha"]["rate"]
        assert 0.0 < ceiling["reference_share"] < 0.5
    runs = results["timing"]["featurekit"]["runs"]["inputs"]
    assert len(runs) == 3
    assert all(r["seconds"] > 0 and r["peak_mib"] >= 0 for r in runs)
    passes = {v["name"]: v["pass"] for v in results["verdicts"]}
    assert len(passes) == 10, passes
    # the lines that compare with Evidently have no verdict without it
    assert [p for p in passes.values() if p is None] == [None, None], passes
    estimate = results["estimate"]  # label-free performance: featurekit only
    for cell in ("covariate", "concept"):
        assert len(estimate[cell]["windows"]) == estimate["trials"] > 0
        assert 0.0 <= estimate[cell]["coverage"] <= 1.0
    seconds, speed = bench.record["budgets"]
    assert seconds["unit"] == "s" and seconds["value"] > 0
    assert speed["value"] is None and speed["pass"] is False
