"""What the header timeout and compressed bodies cost on featurekit's HTTP hot path.

Run it as ``.venv/bin/python bench/http_protocol.py`` (needs ``wrk``). It exports the
LogisticRegression of ``bench/_credit.py`` and starts two servers of it from
``bench/_http_protocol_server.py``, with the same app and uvicorn options: one runs
``serving.protocol.GuardedHttpTools`` (what ``featurekit serve`` runs: a header
deadline set per connection and after each response, and the concurrency check), the
other uvicorn's stock httptools protocol. wrk loads one at a time with ``POST
/predict`` of one row, at concurrency 1 and 8, interleaved over several repeats (in
reverse order every other repeat), drift monitoring off in both. The guarded server
also gets the same row gzip-compressed (``Content-Encoding: gzip``) and a batch of 100
rows plain and gzipped.

It prints throughput and p50 per cell (medians over repeats) and the paired ratios:
guarded / stock throughput (the budget: >= 0.95, the header timer costs next to
nothing), and gzip / plain throughput for one row and for 100 (measured, no budget).
It is a measurement, not a test: it always exits 0 (2 when wrk is missing).
``--quick`` makes a short run (a smoke test may use it); ``--json [PATH]`` writes every
number (default ``bench/results/http_protocol.json``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from _common import (
    ROOT,
    Run,
    add_json_option,
    budget,
    json_record,
    paired,
    print_budgets,
    spread,
    versions,
)
from _credit import feature_set, make_frame
from http_server import LUA as HTTP_LUA
from http_server import run_wrk, start, wrk_version
from sklearn.linear_model import LogisticRegression

import featurekit as fk

BENCH = ROOT / "bench"
BUDGET_GUARDED = 0.95  # budget: guarded / stock throughput at concurrency 8
PROTOCOLS = ("guarded", "stock")

#: wrk's script: this body, then the report line bench/http_server.py's script prints
LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{encoding}wrk.body = "{body}"

""" + HTTP_LUA[HTTP_LUA.index("function done") :]


def script(path: Path, body: bytes, coding: str | None) -> Path:
    """A wrk script POSTing `body` (any bytes: each one escaped as Lua's ``\\ddd``)."""
    escaped = "".join(f"\\{b:03d}" for b in body)
    encoding = f'wrk.headers["Content-Encoding"] = "{coding}"\n' if coding else ""
    path.write_text(LUA.format(encoding=encoding, body=escaped))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run, indicative")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 4)")
    parser.add_argument("--repeats", type=int, help="wrk runs per cell (default 5)")
    add_json_option(parser, "http_protocol")
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("bench/http_protocol.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    duration = args.duration or (1 if args.quick else 4)
    repeats = args.repeats or (1 if args.quick else 5)
    run = Run("http_protocol")

    train, y = make_frame(5_000, seed=1)
    test, _ = make_frame(200, seed=2)
    pipe = fk.make_pipeline(feature_set(), LogisticRegression(max_iter=1000))
    pipe.fit(train, y)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fk.export(pipe, tmp / "artifact", reference=train)
        complete = test[test.notna().all(axis=1)]
        one = json.dumps({"records": [json_record(complete, 0)]}).encode()
        batch = json.dumps(
            {"records": [json_record(complete, i % len(complete)) for i in range(100)]}
        ).encode()
        bodies = {
            "1 row": (one, None),
            "1 row gzip": (gzip.compress(one), "gzip"),
            "100 rows": (batch, None),
            "100 rows gzip": (gzip.compress(batch), "gzip"),
        }
        scripts = {
            k: script(tmp / f"{i}.lua", *v) for i, (k, v) in enumerate(bodies.items())
        }
        cells: dict[str, list[dict[str, Any]]] = {}
        servers = {
            p: start(
                p,
                [
                    sys.executable,
                    str(BENCH / "_http_protocol_server.py"),
                    str(tmp / "artifact"),
                    "{port}",
                    p,
                ],
                "/v2/health/ready",
                tmp,
            )
            for p in PROTOCOLS
        }
        try:
            plan = [(p, "1 row", c) for c in (1, 8) for p in PROTOCOLS]
            plan += [("guarded", k, 8) for k in bodies if k != "1 row"]
            for server in servers.values():  # warm-up
                run_wrk(wrk, f"http://127.0.0.1:{server.port}/predict",
                        scripts["1 row"], 8, 1)  # fmt: skip
            for r in range(repeats):
                # who goes first alternates: neither inherits the other's aftermath
                for protocol, body, c in plan if r % 2 else plan[::-1]:
                    url = f"http://127.0.0.1:{servers[protocol].port}/predict"
                    got = run_wrk(wrk, url, scripts[body], c, duration)
                    cells.setdefault(f"{protocol} {body} c={c}", []).append(got)
                print(f"repeat {r + 1}/{repeats} done")
        finally:
            for server in servers.values():
                server.stop()

    def rps(cell: str) -> list[float]:
        return [x["rps"] for x in cells[cell]]

    summary = {
        cell: {
            "rps": spread(rps(cell)),
            "p50_ms": spread([x["p50_ms"] for x in runs]),
            "errors": sum(sum(x["errors"].values()) for x in runs),
            "requests": sum(x["requests"] for x in runs),
        }
        for cell, runs in cells.items()
    }
    ratios = {
        "guarded / stock, 1 row, c=1": paired(
            rps("guarded 1 row c=1"), rps("stock 1 row c=1")
        ),
        "guarded / stock, 1 row, c=8": paired(
            rps("guarded 1 row c=8"), rps("stock 1 row c=8")
        ),
        "gzip / plain, 1 row, c=8": paired(
            rps("guarded 1 row gzip c=8"), rps("guarded 1 row c=8")
        ),
        "gzip / plain, 100 rows, c=8": paired(
            rps("guarded 100 rows gzip c=8"), rps("guarded 100 rows c=8")
        ),
    }
    print(f"\n{'cell':<32}{'req/s':>10}{'p50 ms':>10}{'errors':>8}")
    for cell, s in summary.items():
        print(
            f"{cell:<32}{s['rps']['median']:>10.0f}{s['p50_ms']['median']:>10.3f}"
            f"{s['errors']:>8}"
        )
    for name, r in ratios.items():
        print(f"{name:<32}{r['value']:>10.3f}")
    budgets = [
        budget(
            "HTTP /predict c=8: guarded protocol (header timeout) / stock httptools",
            ratios["guarded / stock, 1 row, c=8"],
            "x",
            at_least=BUDGET_GUARDED,
        )
    ]
    print_budgets(budgets, {k: v for k, v in ratios.items() if "c=8" not in k})
    if args.json:
        run.write(
            args.json,
            config={
                "duration_s": duration,
                "repeats": repeats,
                "bodies_bytes": {k: len(v[0]) for k, v in bodies.items()},
                "wrk": wrk_version(wrk),
                "threads": "min(connections, 2)",
            },
            budgets=[{**b, "case": "LogisticRegression, 1 row"} for b in budgets],
            results={"cells": summary, "ratios": ratios},
            versions=versions("uvicorn", "httptools", "uvloop", "starlette"),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
