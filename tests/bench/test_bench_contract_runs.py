"""Smoke test: ``bench/contract.py --quick`` runs and reports its ratios.

No timing assertions: the numbers depend on the machine. This only proves the
contract benchmark still runs against the current featurekit and serving code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RATIO_LINE = r"^\s+{label}.*?\s\d+(\.\d+)?x\s.*\b(PASS|MISS)\s*$"
TIME_LINE = r"^\s+{label}.*?\s\d+(\.\d+)? µs\s.*\b(PASS|MISS)\s*$"


def test_quick_contract_benchmark_runs_and_prints_ratios(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "contract.py"),
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
    assert re.search(
        TIME_LINE.format(label=r"1 row, 10 cols: Columns\.coerce\(dict\) time"),
        text,
        re.MULTILINE,
    ), f"no single-row check line in:\n{text}"
    for width in (10, 50):
        for label in (
            rf"1 row, {width} cols: Predictor / bare session\.run",
            rf"1 row, {width} cols: sklearn\+pandera / Predictor",
            rf"\d+k rows, {width} cols: Predictor / bare throughput",
            rf"1 row, {width} cols: \+ drift monitoring / bare",
            rf"\d+k rows, {width} cols: \+ drift monitoring / bare",
        ):
            assert re.search(RATIO_LINE.format(label=label), text, re.MULTILINE), (
                f"no ratio line matching {label!r} in:\n{text}"
            )
    assert "WARNING" not in text, text

    payload = json.loads(out.read_text())
    lr = payload["models"]["lr"]
    assert set(lr) == {"10", "50"}
    # 10 columns: the check's time, 3 contract ratios, 2 ratios with drift monitoring
    assert len(lr["10"]["budgets"]) == 6
    assert len(lr["50"]["budgets"]) == 5
    for result in lr.values():
        for budget in result["budgets"]:
            value = (
                budget["ratio"]["value"] if "ratio" in budget else budget["value_us"]
            )
            assert value > 0
            assert isinstance(budget["pass"], bool)
        for variant in ("coerce", "predictor", "bare", "sklearn_pandera"):
            assert result["single_row"][variant]["ns_per_call"]["median"] > 0
        for variant in ("predictor", "bare", "contract_validate"):
            assert result["batch"][variant]["ns_per_call"]["median"] > 0
