"""Shadow serving's cost to the answer (issue 14): p50 latency at c=1, with and without.

Run it as ``.venv/bin/python bench/shadow.py [--json]`` (``wrk`` is needed:
``apt-get install wrk``). Two artifacts are fitted on the bench's credit data (a
RandomForest champion, a LogisticRegression challenger); then ``featurekit serve
CHAMPION`` and ``featurekit serve CHAMPION --shadow CHALLENGER`` are loaded in turn by
``wrk`` with one connection sending one-row ``POST /predict`` requests, rotated over
several repeats. The budget is the median of the per-repeat p50 ratios (shadow over
plain): at most 1.2. The shadow's own work is checked from ``/monitor`` afterwards
(rows scored, dropped, agreement), so a shadow that silently dropped everything cannot
pass.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    Run,
    add_json_option,
    budget,
    json_record,
    paired,
    print_budgets,
    versions,
)
from _credit import feature_set, make_frame
from http_server import lua_script, post, run_wrk, start, wrk_version
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import featurekit as fk


def _artifacts(tmp: Path) -> tuple[Path, Path]:
    frame, y = make_frame(4000, seed=0)
    champion = fk.make_pipeline(
        feature_set(),
        RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0),
    ).fit(frame, y)
    challenger = fk.make_pipeline(feature_set(), LogisticRegression(max_iter=2000)).fit(
        frame, y
    )
    a, b = tmp / "champion", tmp / "challenger"
    fk.export(champion, a, reference=frame, progress=False)
    fk.export(challenger, b, reference=frame, progress=False)
    return a, b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="per wrk run")
    parser.add_argument("--repeats", type=int, default=5)
    add_json_option(parser, "shadow")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("bench/shadow.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    run = Run("shadow")
    tmp = Path(tempfile.mkdtemp(prefix="fk-shadow-"))
    champion, challenger = _artifacts(tmp)
    frame, _ = make_frame(200, seed=1)
    body = json.dumps({"records": [json_record(frame, 0)]}).encode()
    script = lua_script(body, tmp / "one.lua")
    base = [sys.executable, "-m", "serving", str(champion), "--port", "{port}",
            "--log-level", "warning"]  # fmt: skip
    servers = {
        "plain": start("plain", base, "/v2/health/ready", tmp),
        "shadow": start(
            "shadow", [*base, "--shadow", str(challenger)], "/v2/health/ready", tmp
        ),
    }
    try:
        # the shadow loads after the champion: wait until /monitor shows it
        deadline = time.monotonic() + 60
        while "shadow" not in json.loads(_monitor(servers["shadow"].port)):
            post(servers["shadow"].port, "/predict", body)  # a first window opens
            if time.monotonic() > deadline:
                raise RuntimeError("the shadow model did not load")
            time.sleep(0.1)
        runs: dict[str, list[dict[str, Any]]] = {"plain": [], "shadow": []}
        for r in range(args.repeats):
            order = ("plain", "shadow") if r % 2 == 0 else ("shadow", "plain")
            for name in order:
                url = f"http://127.0.0.1:{servers[name].port}/predict"
                runs[name].append(run_wrk(wrk, url, script, 1, args.seconds))
        status = json.loads(_monitor(servers["shadow"].port))["shadow"]
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    p50 = {k: [x["p50_ms"] for x in v] for k, v in runs.items()}
    rps = {k: [x["rps"] for x in v] for k, v in runs.items()}
    ratio = paired(p50["shadow"], p50["plain"])
    for name in runs:
        print(
            f"{name:>6}: p50 {np.median(p50[name]):.3f} ms, "
            f"{np.median(rps[name]):,.0f} req/s (medians of {args.repeats})"
        )
    print(f"shadow: {status['rows']}, agreement {status['agreement']}")
    case = "credit bench data, RandomForest champion, LogisticRegression shadow"
    budgets = [
        {
            **budget(
                "p50 latency at c=1, --shadow over plain", ratio, "x", at_most=1.2
            ),
            "case": case,
        },
        {
            **budget(
                "rows the shadow dropped",
                float(status["rows"]["dropped"]),
                "",
                at_most=0,
            ),
            "case": case,
        },
    ]
    print_budgets(budgets)
    if args.json:
        run.write(
            args.json,
            config={"seconds": args.seconds, "repeats": args.repeats},
            budgets=budgets,
            results={"runs": runs, "p50_ratio": ratio, "shadow": status},
            versions={
                **versions("onnxruntime", "uvicorn", "starlette"),
                "wrk": wrk_version(wrk),
            },
        )
    return 0


def _monitor(port: int) -> str:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/monitor")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


if __name__ == "__main__":
    raise SystemExit(main())
