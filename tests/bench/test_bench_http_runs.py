"""Smoke test: ``bench/http.py --quick`` runs, loads the real server and the baseline.

No timing assertions: the numbers depend on the machine. This only proves the HTTP
benchmark still runs against the current server: it starts, answers correctly, and
wrk measures every endpoint at every concurrency.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUDGET_LINE = r"^\s+{label}.*\s(PASS|MISS)\s*$"


def test_quick_http_benchmark_measures_every_endpoint(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.fail(
            "bench/http.py needs wrk, the HTTP load generator: apt-get install wrk"
        )
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "http.py"),
            "--quick",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    for label in (
        r"1 row, /predict, c=1: p50 latency",
        r"1 row, /v2 infer, c=1: p50 latency",
        r"1 row, /predict, c=8: ours / baseline throughput",
        r"1 row, /v2 infer, c=8: ours / baseline throughput",
        r"startup: process start -> ready",
    ):
        assert re.search(BUDGET_LINE.format(label=label), text, re.MULTILINE), (
            f"no budget line matching {label!r} in:\n{text}"
        )
    assert "WARNING" not in text, text
    assert "NOTE: featurekit's server did not start" not in text, text

    payload = json.loads(out.read_text())
    lr = payload["models"]["lr"]
    assert lr["notes"] == []
    assert set(lr["endpoints"]) == {"predict", "infer", "baseline"}
    for per_concurrency in lr["endpoints"].values():
        assert set(per_concurrency) == {"1", "8", "32"}
        for cell in per_concurrency.values():
            assert cell["requests"] > 0
            assert cell["errors"] == 0
            for key in ("p50_ms", "p99_ms", "rps"):
                assert cell[key]["median"] > 0
    assert len(lr["budgets"]) == 5
    for budget in lr["budgets"]:
        assert budget["value"] is not None and math.isfinite(budget["value"])
        assert budget["value"] > 0
        assert isinstance(budget["pass"], bool)
    assert lr["startup_s"]["ours"]["median"] > 0
