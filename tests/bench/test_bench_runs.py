"""Smoke test: ``bench/predict.py --quick`` runs and reports its ratios.

No timing assertions: the numbers depend on the machine. This only proves the
benchmark still runs against the current featurekit and serving code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RATIO_LINE = r"^\s+{label}.*?\s\d+(\.\d+)?x\s.*\b(PASS|MISS)\s*$"


def test_quick_benchmark_runs_and_prints_ratios(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "predict.py"),
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
    for label in (
        r"1 row: Predictor / bare session\.run",
        r"1 row: sklearn(\+pandera| \(no pandera\)) / Predictor",
        r"\d+k rows: Predictor / bare session\.run throughput",
    ):
        assert re.search(RATIO_LINE.format(label=label), text, re.MULTILINE), (
            f"no ratio line matching {label!r} in:\n{text}"
        )
    assert "WARNING" not in text, text

    payload = json.loads(out.read_text())
    rf = payload["models"]["rf"]
    assert len(rf["budgets"]) == 3
    for budget in rf["budgets"]:
        assert budget["ratio"]["value"] > 0
        assert isinstance(budget["pass"], bool)
    for variant in ("predictor", "bare", "sklearn"):
        assert rf["single_row"][variant]["ns_per_call"]["median"] > 0
        assert rf["batch"][variant]["ns_per_call"]["median"] > 0
