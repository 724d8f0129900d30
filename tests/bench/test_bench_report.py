"""``bench/report.py``: docs/benchmarks.md is what it makes of bench/results/*.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "bench" / "report.py"


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPORT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_docs_benchmarks_md_is_generated_from_the_committed_results() -> None:
    proc = _report("--check")
    assert proc.returncode == 0, proc.stderr


def test_each_record_gets_its_command_run_and_budgets(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    proc = _report("--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    for path in sorted((ROOT / "bench" / "results").glob("*.json")):
        record = json.loads(path.read_text())
        assert f"## `bench/{record['bench']}.py`" in text
        assert f"Command: `{record['command']}`" in text
        assert record["code"]["git"] in text
        for budget in record["budgets"]:
            assert budget["name"].replace("|", "\\|") in text


def test_check_fails_when_the_page_differs(tmp_path: Path) -> None:
    stale = tmp_path / "benchmarks.md"
    stale.write_text("# Benchmarks\n\nedited by hand\n")
    proc = _report("--check", "--out", str(stale))
    assert proc.returncode == 1
    assert "bench/report.py" in proc.stderr
