"""The outcome loop: serve with a prediction log, post late labels, catch a concept shift.

Clean traffic is labelled by the world the model learned. Then traffic whose inputs
look just the same is labelled by a new concept (who defaults has changed). Input
drift stays silent; online evaluation against the holdout catches the decay and
`featurekit evaluate` names the window where it starts.

Run: python examples/outcome_loop.py artifacts/credit --log artifacts/prediction-log
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from credit_data import make_credit
from http_client import call, records

ROWS = 1000  # per phase
WINDOW = 250  # labelled rows per evaluation window, and rows per drift window


def new_concept(frame, seed: int) -> list[int]:
    """Who defaults now: short tenures and the partner channel, whatever the debt."""
    rng = np.random.default_rng(seed)
    risky = (frame["tenure_months"].fillna(60) < 25) | (frame["channel"] == "partner")
    noisy = np.where(rng.random(len(frame)) < 0.1, ~risky, risky)
    return noisy.astype(int).tolist()


def send(base: str, frame, prefix: str) -> None:
    for start in range(0, len(frame), 100):
        part = frame.iloc[start : start + 100]
        ids = [f"{prefix}-{i}" for i in range(start, start + len(part))]
        status, body = call(base + "/predict", {"records": records(part), "ids": ids})
        assert status == 200, body


def show(base: str, holdout: float) -> None:
    status = call(base + "/monitor")[1]
    online = status["online"]
    acc = online["metrics"]["accuracy"]
    inputs = [f for f in status["alerts"] if not f.startswith("output:")]
    print(
        f"  input drift alerts: {inputs or 'none'}; online accuracy over the last "
        f"{acc['n']} labels {acc['value']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}] "
        f"vs holdout {holdout:.3f}; label coverage {online['label_coverage']:.0%}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("artifact")
    parser.add_argument("--log", default="artifacts/prediction-log")
    parser.add_argument("--html", default="artifacts/evaluation.html")
    args = parser.parse_args()
    shutil.rmtree(args.log, ignore_errors=True)  # each demo run starts a fresh log
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "serving", args.artifact, "--port", str(port),
        "--log", args.log, "--log-level", "warning", "--monitor-window", str(WINDOW),
    ]  # fmt: skip
    print("featurekit serve", " ".join(command[3:]))
    server = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if call(base + "/v2/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start; see its output above")
            time.sleep(0.05)
        holdout = call(base + "/monitor")[1]["online"]["holdout"]["accuracy"]

        clean, y_clean = make_credit(ROWS, seed=11)
        send(base, clean, "A")
        got = call(
            base + "/labels",
            {"ids": [f"A-{i}" for i in range(ROWS)], "labels": y_clean.tolist()},
        )[1]
        print(f"\n{ROWS} clean requests, then POST /labels -> {got}")
        show(base, holdout)

        shifted, _ = make_credit(ROWS, seed=12)  # the same input distribution
        send(base, shifted, "B")
        got = call(
            base + "/labels",
            {
                "ids": [f"B-{i}" for i in range(ROWS)],
                "labels": new_concept(shifted, 12),
            },
        )[1]
        print(f"\n{ROWS} requests whose labels follow a new concept -> {got}")
        show(base, holdout)
    finally:
        server.send_signal(signal.SIGTERM)  # a graceful stop writes the log's buffer
        server.wait(timeout=30)

    print(
        f"\nfeaturekit evaluate {args.artifact} {args.log} --window {WINDOW} --html {args.html}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "featurekit", "evaluate", args.artifact, args.log,
         "--window", str(WINDOW), "--html", args.html],
    )  # fmt: skip
    verdict = {0: "ok", 1: "decay", 3: "insufficient labels"}.get(done.returncode)
    print(f"exit status {done.returncode} ({verdict}); report: {args.html}")
    return 0 if done.returncode == 1 else 1  # the demo expects the decay to be caught


if __name__ == "__main__":
    raise SystemExit(main())
