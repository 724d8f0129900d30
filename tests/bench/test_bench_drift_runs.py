"""Smoke test: ``bench/drift.py --quick --no-evidently`` runs and reports its rates.

No assertions on the rates or times themselves: they are the benchmark's to report,
and they depend on the machine and on featurekit's tuning. This only proves the drift
benchmark still runs against the current featurekit, on featurekit's side alone (the
Evidently side needs a venv of its own and minutes; the full run covers it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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
}


def test_quick_drift_benchmark_runs_featurekit_side(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "drift.py"),
            "--quick",
            "--no-evidently",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    for label in (
        r"null, categorical k=50: per feature",
        r"null, numeric: dataset",
        r"missing 0→5 %, numeric: per feature",
        r"harmless 0\.02σ shift, 100k rows: dataset",
    ):
        assert re.search(RATE_LINE.format(label=label), text, re.MULTILINE), (
            f"no rate line matching {label!r} in:\n{text}"
        )
    assert re.search(r"fk\.drift\(outputs=False\), median of 3\s+\d+\.\d+ s", text)
    assert "WARNING" not in text, text

    payload = json.loads(out.read_text())
    assert set(payload["cells"]) == CELLS
    for name, cell in payload["cells"].items():
        fk = cell["featurekit"]
        assert len(fk["flags"]) == cell["trials"] > 0, name
        assert "evidently" not in cell, name
        for r in [*fk["groups"].values(), fk["dataset"]]:
            assert 0.0 <= r["ci95"][0] <= r["rate"] <= r["ci95"][1] <= 1.0, name
            assert r["n"] > 0, name
    runs = payload["timing"]["featurekit"]["runs"]["inputs"]
    assert len(runs) == 3
    assert all(r["seconds"] > 0 and r["peak_mib"] >= 0 for r in runs)
    names = [v["name"] for v in payload["verdicts"]]
    assert len(names) == 5, names
    passes = {v["name"]: v["pass"] for v in payload["verdicts"]}
    # the lines that compare with Evidently have no verdict without it
    assert [p for p in passes.values() if p is None] == [None, None], passes
