"""What the bench smoke tests share: run a bench script as a user does, read its JSON.

Each test runs one script of ``bench/`` in quick mode, as a subprocess from the
repository root, with ``--json`` into a temporary file. No timing assertions: the
numbers depend on the machine. The tests prove that the benches still run against the
current featurekit and serving code, and that they print and record what
``bench/report.py`` reads.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The keys of every bench's JSON record (bench/_common.py, Run.write).
RECORD_KEYS = {
    "bench",
    "command",
    "date",
    "seconds",
    "machine",
    "load_average",
    "code",
    "versions",
    "config",
    "budgets",
    "results",
}
BUDGET_KEYS = {"name", "value", "unit", "p10", "p90", "target", "pass", "case"}


@dataclass(frozen=True)
class Bench:
    """What one run of a bench printed, and the JSON it wrote."""

    stdout: str
    record: Any

    def assert_prints(self, pattern: str) -> None:
        assert re.search(pattern, self.stdout, re.MULTILINE), (
            f"no line matching {pattern!r} in:\n{self.stdout}"
        )


def _check_record(record: Any, script: str) -> None:
    assert set(record) == RECORD_KEYS, sorted(record)
    assert record["bench"] == Path(script).stem
    assert record["command"].split()[1] == f"bench/{script}", record["command"]
    for line in record["budgets"]:
        assert set(line) == BUDGET_KEYS, line
        assert isinstance(line["pass"], bool), line


@pytest.fixture
def run_bench(tmp_path: Path) -> Callable[..., Bench]:
    """``run_bench("predict.py", "--quick")``: run it, check its exit and its record."""

    def run(script: str, *args: str, timeout: float = 300) -> Bench:
        out = tmp_path / f"{Path(script).stem}.json"
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench" / script), *args, "--json", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "WARNING" not in proc.stdout, proc.stdout
        record = json.loads(out.read_text())
        _check_record(record, script)
        return Bench(proc.stdout, record)

    return run
