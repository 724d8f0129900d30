"""Start `featurekit serve` on a loopback port and send it good and bad HTTP requests.

Run: python examples/http_client.py artifacts/credit

The server is the real one (uvicorn), in a child process; the client is the standard
library, so what you see here is what curl would see.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

GOOD = {
    "income": 52000,
    "age": 37,
    "debt": 9100.5,
    "tenure_months": 26,
    "country": "DE",
    "channel": "app",
    "plan": "plus",
}


def call(url: str, body: Any = None, *, raw: bytes | None = None) -> tuple[int, Any]:
    data = (
        raw if raw is not None else None if body is None else json.dumps(body).encode()
    )
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode()


WINDOW = 250  # rows per drift window (the server's default is 1,000)


def records(frame: Any) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN becomes null, numpy scalars become Python numbers."""
    return json.loads(frame.to_json(orient="records"))


def live_drift(base: str) -> None:
    """Send clean traffic, then drifted traffic, and show what the monitor says."""
    sys.path.insert(0, str(Path(__file__).parent))
    from credit_data import make_credit

    clean = make_credit(3 * WINDOW, seed=21)[0]
    drifted = make_credit(3 * WINDOW, seed=22)[0]
    drifted["income"] = drifted["income"] * 1.8  # an upstream unit change, say
    drifted.loc[drifted.sample(frac=0.6, random_state=0).index, "channel"] = None
    for name, frame in (("clean", clean), ("drifted", drifted)):
        rows = records(frame)
        for start in range(0, len(rows), 50):
            status, body = call(
                base + "/predict?on_error=split", {"records": rows[start : start + 50]}
            )
            assert status == 200, body
        monitor = call(base + "/monitor")[1]
        last = monitor["last_window"] or {"verdict": "none closed", "features": []}
        drifted_now = [
            f["feature"] for f in last["features"] if f["verdict"] == "drift"
        ]
        print(
            f"\nlive monitor after {len(rows)} {name} rows: {monitor['windows_closed']} "
            f"windows closed, last window {last['verdict']!r}"
            + (f" in {drifted_now}" if drifted_now else "")
            + f"; alerts (drift in 2 of the last 3 windows): {monitor['alerts'] or 'none'}"
        )
    print(
        "  (a single drifted window is not an alert: at the 5% level about one clean "
        "window in twenty flags something, which is why alerts need persistence)"
    )


def main(path: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serving",
            path,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--monitor-window",
            str(WINDOW),
        ]
    )
    try:
        while True:
            try:
                if call(base + "/v2/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.perf_counter() - started > 60:
                raise SystemExit("the server did not start; see its output above")
            time.sleep(0.05)
        print(
            f"featurekit serve {path} --port {port}: ready in {time.perf_counter() - started:.2f} s"
        )
        meta = call(base + "/v2/models/credit")[1]
        print(
            f"GET /v2/models/credit -> inputs {[(i['name'], i['datatype']) for i in meta['inputs']]}"
        )

        print(
            f"\ncurl -s {base}/predict -H 'Content-Type: application/json' -d '{json.dumps(GOOD)}'"
        )
        status, body = call(base + "/predict", GOOD)
        print(
            f"  -> {status} labels {body['labels']}, probabilities {[[round(p, 4) for p in row] for row in body['probabilities']]}"
        )

        tensors = {
            "id": "demo-1",
            "inputs": [
                {
                    "name": i["name"],
                    "datatype": i["datatype"],
                    "shape": [1],
                    "data": [GOOD[i["name"]]],
                }
                for i in meta["inputs"]
            ],
        }
        status, body = call(base + "/v2/models/credit/infer", tensors)
        label = next(o["data"] for o in body["outputs"] if o["name"] == "label")
        print(
            f"POST /v2/models/credit/infer (Open Inference Protocol) -> {status} id {body['id']!r}, label {label}"
        )

        bad = {
            "an age of 1500": (base + "/predict", {**GOOD, "age": 1500}, None),
            "an unknown plan": (base + "/predict", {**GOOD, "plan": "platinum"}, None),
            "a string for a number": (
                base + "/predict",
                {**GOOD, "debt": "9100.5"},
                None,
            ),
            "broken JSON": (base + "/predict", None, b'{"income": 5'),
            "NaN literal": (base + "/predict", None, b'{"income": NaN}'),
            "an unknown model": (base + "/v2/models/fraud/infer", tensors, None),
        }
        for what, (url, body_, raw) in bad.items():
            status, body = call(url, body_, raw=raw)
            print(f"\nbad request, {what}:\n  -> {status} {body['error']}")
            assert 400 <= status < 500, (what, status)

        split = call(
            base + "/predict?on_error=split",
            {"records": [GOOD, {**GOOD, "age": 1500}, {**GOOD, "country": "JP"}]},
        )[1]
        print(
            f"\nbatch of 3 with on_error=split -> scored {split['scored']} of {split['rows']}, "
            f"refused rows {[f['index'] for f in split['failures']]}"
        )

        live_drift(base)

        metrics = call(base + "/metrics")[1]
        print("\nGET /metrics (excerpt):")
        for line in metrics.splitlines():
            if line.startswith(
                (
                    "featurekit_requests_total",
                    "featurekit_rows_scored_total",
                    "featurekit_contract_failures_total",
                    "featurekit_drift_alert",
                    "featurekit_drift_dataset_alert",
                )
            ):
                print(f"  {line}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    print("\nserver stopped (SIGTERM: in-flight requests drained)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "artifacts/credit")
