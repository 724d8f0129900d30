"""Run each example script end to end, as `make demo` does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_train_then_serve_examples_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "credit"
    trained = _run("examples/train.py", "--out", str(out), "--rows", "1500")
    assert "label agreement 100%" in trained
    assert (out / "model.onnx").is_file()

    served = _run("examples/serve.py", str(out))
    assert "training stack imported by serving: none" in served
    # every bad request in the script is refused by the contract, none is scored
    assert served.count("refused:") == 5

    over_http = _run("examples/http_client.py", str(out))
    # the six bad requests each got a 4xx with its reason, the good ones a 200
    assert len(re.findall(r"^  -> 4\d\d ", over_http, re.M)) == 6
    assert "-> 200 labels" in over_http
    assert "scored 2 of 3, refused rows [1]" in over_http
    assert "server stopped" in over_http
    # live monitoring: the drifted traffic raises persistent alerts on income
    drifted = next(line for line in over_http.splitlines() if "drifted rows" in line)
    assert "alerts (drift in 2 of the last 3 windows): [" in drifted
    assert "'income'" in drifted

    html = tmp_path / "drift.html"
    offline = _run("examples/drift_report.py", str(out), "--html", str(html))
    assert (
        "a fresh batch from the same source: DriftReport('credit': no drift" in offline
    )
    assert "a drifted batch: DriftReport('credit': drift" in offline
    assert html.read_text().startswith("<!DOCTYPE html>")

    log, report = tmp_path / "log", tmp_path / "evaluation.html"
    loop = _run(
        "examples/outcome_loop.py", str(out), "--log", str(log), "--html", str(report)
    )
    # a concept shift: inputs unchanged, so no input drift alert, but the decay is caught
    assert loop.count("input drift alerts: none") == 2
    assert "decay from the window starting" in loop
    assert "exit status 1 (decay)" in loop
    assert "Verdict" in report.read_text()
