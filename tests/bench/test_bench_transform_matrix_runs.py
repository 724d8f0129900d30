"""Smoke test: ``bench/transform_matrix.py --quick`` runs and prints its matrix.

No assertion on the numbers' size beyond what the certificate guarantees: this only
proves the benchmark still runs against the current featurekit and serving code, and
that its independent check found nothing on the two quick rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_transform_matrix_runs_and_prints_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "matrix.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "transform_matrix.py"),
            "--quick",
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
    assert text.startswith("| transform | model | task | certificate rows |"), text
    assert "| arithmetic_ratio | LogisticRegression | binary |" in text, text
    assert "| dates_iso_text | XGBClassifier | binary |" in text, text
    assert "WARNING" not in text, text

    rows = json.loads(out.read_text())
    assert [(r["transform"], r["family"]) for r in rows] == [
        ("arithmetic_ratio", "linear"),
        ("dates_iso_text", "xgboost"),
    ]
    for row in rows:
        assert row["status"] == "certified", row
        assert row["certificate_rows"] > 0
        assert row["certificate_max_abs_diff"] <= 1e-5
        assert row["independent_rows"] > 0
        assert row["independent_max_abs_diff"] <= 1e-5
        assert row["flipped_labels"] == 0
