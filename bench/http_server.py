"""Benchmark featurekit's HTTP server against a FastAPI + scikit-learn + pandera service.

Run it as ``.venv/bin/python bench/http_server.py``. It needs ``wrk``, the HTTP load generator
(``apt-get install wrk``). For each model (default: a LogisticRegression and a
RandomForest of 100 trees of depth 8, on the 10 raw columns of ``bench/_credit.py``:
6 numeric, 4 categorical) it

1. fits ``fk.make_pipeline(features, model)`` and exports it with ``fk.export`` (with
   ``pipeline.joblib``) into a temporary directory,
2. starts, one after the other and several times, featurekit's server
   (``python -m serving ARTIFACT --host 127.0.0.1 --port PORT --log-level warning``)
   and the baseline
   (``bench/_http_baseline.py``: a FastAPI app that unpickles the pipeline, validates a
   DataFrame of the request with the artifact's pandera schema and returns
   ``predict_proba``; uvicorn, one worker, uvloop, httptools, as ours) and times process
   start -> ready (``GET /v2/health/ready`` answers 200; the baseline: ``/healthz``),
3. checks that one request to each endpoint answers 200 with the probabilities of
   scikit-learn's ``predict_proba`` for the same row,
4. loads one server at a time with ``wrk`` (connections = concurrency 1, 8 and 32,
   threads = min(concurrency, 2), a Lua script POSTs one row of JSON and prints the
   latency percentiles and the request count), after a warm-up, interleaving
   featurekit ``POST /predict`` (``{"records": [row]}``), featurekit's Open Inference
   Protocol ``POST /v2/models/{name}/infer`` (one tensor per raw column) and the
   baseline's ``POST /predict``, several repeats; a run lasts 5 s, or longer when
   the warm-up rate says that every connection would otherwise complete fewer than 5
   requests (the baseline at concurrency 32),
5. prints p50, p99 and throughput per endpoint and concurrency (medians over repeats),
   the ratios (baseline p50 / ours p50 and ours / baseline throughput, median of the
   per-repeat pairs), and the budgets: one row p50 <= 1 ms on loopback, throughput at
   concurrency 8 >= 10x the baseline's, and startup <= 2 s.

wrk, the server under load and the idle other server share the machine's cores; nothing
is pinned. It is a measurement, not a test: it prints PASS/MISS per budget and always
exits 0 (unless the benchmark itself breaks; 2 when wrk is missing). ``--quick`` makes
a short run (a smoke test uses it); ``--json [PATH]`` writes every number (default
``bench/results/http_server.json``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    ROOT,
    Run,
    add_json_option,
    budget,
    fmt_ms,
    json_record,
    paired,
    print_budgets,
    spread,
    versions,
)
from _credit import feature_set, make_frame
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import featurekit as fk

BENCH = ROOT / "bench"
BUDGET_P50_MS = 1.0  # budget: one row, loopback, p50 <= 1 ms
BUDGET_THROUGHPUT_C8 = 10.0  # budget: throughput at concurrency 8 >= 10x the baseline's
BUDGET_STARTUP_S = 2.0  # budget: process start -> ready <= 2 s
BUDGET_CONCURRENCY = 8
PROBA_ATOL = 1e-5  # fk.export's default parity tolerance
MAX_RUN_S = 60  # the longest wrk run

MODELS: dict[str, tuple[str, Callable[[], Any]]] = {
    "lr": (
        "LogisticRegression(max_iter=1000)",
        lambda: LogisticRegression(max_iter=1000),
    ),
    "rf": (
        "RandomForestClassifier(n_estimators=100, max_depth=8)",
        lambda: RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0),
    ),
}
OURS = ("predict", "infer")
ENDPOINTS = {
    "predict": "featurekit POST /predict",
    "infer": "featurekit POST /v2/models/{name}/infer",
    "baseline": "baseline FastAPI POST /predict",
}
SHORT = {"predict": "/predict", "infer": "/v2 infer"}
OIP_DATATYPES = {"int64": "INT64", "double": "FP64", "float": "FP32", "string": "BYTES"}

LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [{eq}[{body}]{eq}]

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "FKBENCH {{\\"requests\\": %d, \\"duration_us\\": %d, \\"bytes\\": %d, " ..
    "\\"p50_us\\": %d, \\"p90_us\\": %d, \\"p99_us\\": %d, \\"mean_us\\": %.1f, " ..
    "\\"max_us\\": %d, \\"errors\\": {{\\"connect\\": %d, \\"read\\": %d, " ..
    "\\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d}}}}\\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


#: Appended to `LUA` for several bodies: each request takes the next one.
ROTATE = """
local bodies = {
BODIES
}
local at = 0

function init(args)
  at = math.random(#bodies) - 1
end

function request()
  at = at % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[at])
end
"""


# -- processes -----------------------------------------------------------------------
@dataclass
class Server:
    """A server subprocess on a loopback port, and its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    startup_s: float = math.nan

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, timeout: float = 2.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def post(port: int, path: str, body: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def start(
    name: str,
    cmd: list[str],
    ready_path: str,
    logdir: Path,
    timeout_s: float = 120.0,
    ready_status: int = 200,
) -> Server:
    """Start `cmd` (its port given by ``{port}``); wait until `ready_path` answers GET
    with `ready_status` (200; a POST-only route says 405 once it listens)."""
    port = _free_port()
    log = logdir / f"{name}-{port}.log"
    argv = [a.replace("{port}", str(port)) for a in cmd]
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, proc, port, log)
    deadline = t0 + timeout_s
    while True:
        try:
            if get(port, ready_path) == ready_status:
                server.startup_s = time.perf_counter() - t0
                return server
        except OSError:  # refused until it listens
            pass
        if proc.poll() is not None or time.perf_counter() > deadline:
            server.stop()
            why = (
                f"exited with status {proc.returncode}"
                if proc.returncode is not None
                else f"was not ready after {timeout_s:g} s"
            )
            raise RuntimeError(
                f"{name} ({' '.join(argv)}) {why}; its log ends with:\n"
                f"{server.log_tail()}"
            )
        time.sleep(0.005)


def start_many(
    name: str, cmd: list[str], ready_path: str, logdir: Path, times: int
) -> tuple[Server, list[float]]:
    """Start the server `times` times; keep the last one running, return every startup."""
    startups = []
    for i in range(times):
        server = start(name, cmd, ready_path, logdir)
        startups.append(server.startup_s)
        if i < times - 1:
            server.stop()
    return server, startups


def process_cpu_s(pid: int) -> float:
    """CPU seconds used so far by process `pid` and its children (Linux /proc; else
    NaN): with workers, the supervisor and every worker."""
    try:
        total, todo = 0.0, [pid]
        tick = os.sysconf("SC_CLK_TCK")
        while todo:
            p = todo.pop()
            stat = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(stat[11]) + int(stat[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        return total
    except (OSError, ValueError):
        return math.nan


# -- wrk -----------------------------------------------------------------------------
def wrk_version(wrk: str) -> str:
    proc = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
    text = (proc.stdout + proc.stderr).strip()
    return text.splitlines()[0].split(" Copyright")[0] if text else "unknown"


def lua_script(body: bytes | list[bytes], path: Path) -> Path:
    """A wrk script POSTing `body`, or each of a list of bodies in turn."""
    bodies = body if isinstance(body, list) else [body]
    texts = [b.decode() for b in bodies]
    eq = "="
    while any(f"]{eq}]" in text for text in texts):  # a bracket no body can close
        eq += "="
    script = LUA.format(eq=eq, body=texts[0])
    if len(texts) > 1:  # round robin, from a random start per wrk thread
        table = ",\n".join(f"[{eq}[{t}]{eq}]" for t in texts)
        script += ROTATE.replace("BODIES", table)
    path.write_text(script)
    return path


def run_wrk(
    wrk: str, url: str, script: Path, connections: int, duration_s: int
) -> dict[str, Any]:
    """One wrk run; latency in ms, throughput in requests per second."""
    cmd = [
        wrk,
        f"-t{min(connections, 2)}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        "30s",  # the baseline queues 32 requests of tens of ms each
        "--latency",
        "-s",
        str(script),
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 90)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # wrk's own CPU (it shares the machine's cores with the server under load)
    client_cpu_s = (after.ru_utime + after.ru_stime) - (
        before.ru_utime + before.ru_stime
    )
    line = next(
        (ln for ln in proc.stdout.splitlines() if ln.startswith("FKBENCH ")), None
    )
    if proc.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed (status {proc.returncode}): {' '.join(cmd)}\n"
            f"{proc.stdout}{proc.stderr}"
        )
    raw = json.loads(line.removeprefix("FKBENCH "))
    seconds = raw["duration_us"] / 1e6
    done = raw["requests"] > 0  # wrk reports 0 latencies when nothing completed

    def ms(key: str) -> float:
        return raw[key] / 1e3 if done else math.nan

    return {
        "p50_ms": ms("p50_us"),
        "p90_ms": ms("p90_us"),
        "p99_ms": ms("p99_us"),
        "mean_ms": ms("mean_us"),
        "max_ms": ms("max_us"),
        "rps": raw["requests"] / seconds if seconds > 0 else 0.0,
        "requests": raw["requests"],
        "seconds": seconds,
        "errors": raw["errors"],
        "client_cores": client_cpu_s / seconds if seconds > 0 else math.nan,
    }


# -- requests ------------------------------------------------------------------------
def oip_body(record: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """One tensor of shape [1] per raw column, typed as the artifact's manifest says."""
    return {
        "inputs": [
            {
                "name": col,
                "datatype": OIP_DATATYPES[spec["type"]],
                "shape": [1],
                "data": [record[col]],
            }
            for col, spec in inputs.items()
        ]
    }


def _number_lists(node: Any) -> Iterator[list[float]]:
    """Every JSON array of numbers in `node`, nested arrays flattened."""

    def flat(x: Any) -> list[Any]:
        return [v for item in x for v in flat(item)] if isinstance(x, list) else [x]

    if isinstance(node, dict):
        for value in node.values():
            yield from _number_lists(value)
    elif isinstance(node, list):
        values = flat(node)
        if values and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            yield [float(v) for v in values]
        else:
            for item in node:
                yield from _number_lists(item)


def check_answer(status: int, body: bytes, expected: np.ndarray) -> str | None:
    """None if the answer is 200 and carries `expected` (one row of probabilities)."""
    if status != 200:
        return f"status {status}: {body[:300]!r}"
    try:
        payload = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:300]!r}"
    k = len(expected)
    for values in _number_lists(payload):
        for i in range(len(values) - k + 1):
            if np.allclose(values[i : i + k], expected, rtol=0.0, atol=PROBA_ATOL):
                return None
    return (
        f"no probabilities {np.round(expected, 6).tolist()} (within {PROBA_ATOL:g}) "
        f"in {body[:300]!r}"
    )


# -- one model -----------------------------------------------------------------------
@dataclass
class Cell:
    """The wrk runs of one endpoint at one concurrency, one per repeat."""

    runs: list[dict[str, Any]] = field(default_factory=list)

    def values(self, key: str) -> list[float]:
        return [float(r[key]) for r in self.runs]

    def summary(self) -> dict[str, Any]:
        return {
            "p50_ms": spread(self.values("p50_ms")),
            "p99_ms": spread(self.values("p99_ms")),
            "rps": spread(self.values("rps")),
            "requests": int(sum(self.values("requests"))),
            "errors": int(sum(sum(r["errors"].values()) for r in self.runs)),
        }


def bench_model(key: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    desc, make = MODELS[key]
    features = feature_set()
    train, y = make_frame(args.train_rows, seed=1)
    test, _ = make_frame(200, seed=2)

    t0 = time.perf_counter()
    pipe = fk.make_pipeline(features, make())
    pipe.fit(train, y)
    fit_s = time.perf_counter() - t0
    artifact = tmp / f"artifact-{key}"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # with pipeline.joblib: the baseline server unpickles it
        art = fk.export(pipe, artifact, reference=train, save_pipeline=True)
    export_s = time.perf_counter() - t0
    print(
        f"\n== {key}: {desc}, {len(features.features)} raw columns   (fit {fit_s:.1f} s "
        f"on {len(train):,} rows, export {export_s:.1f} s)"
    )

    i = int(test.notna().all(axis=1).to_numpy().nonzero()[0][0])  # a complete row
    record = json_record(test, i)
    expected = pipe.predict_proba(test.iloc[[i]])[0]
    bodies = {
        "predict": json.dumps({"records": [record]}).encode(),
        "infer": json.dumps(oip_body(record, art.manifest["inputs"])).encode(),
        "baseline": json.dumps({"records": [record]}).encode(),
    }
    paths = {
        "predict": "/predict",
        "infer": f"/v2/models/{art.manifest['name']}/infer",
        "baseline": "/predict",
    }

    ours_cmd = [
        *args.server_cmd,
        str(artifact),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        *args.server_args,
    ]
    base_cmd = [
        sys.executable,
        str(BENCH / "_http_baseline.py"),
        str(artifact),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ]
    load = Load(args, tmp / key, bodies, paths, expected)
    load.run(ours_cmd, base_cmd)
    result = report(load, args)
    return {
        "model": desc,
        "raw_columns": len(features.features),
        "train_rows": len(train),
        "fit_s": fit_s,
        "export_s": export_s,
        "record": record,
        "bodies": {e: b.decode() for e, b in bodies.items()},
        "expected_probabilities": expected.tolist(),
        "server_cmd": ours_cmd,
        "run_seconds": {
            e: {str(c): load.seconds[e, c] for c in args.concurrency}
            for e in load.cells
        },
        "startup_s": {k: {**spread(v), "samples": v} for k, v in load.startups.items()},
        **result,
        "runs": {
            e: {str(c): cell.runs for c, cell in per.items()}
            for e, per in load.cells.items()
        },
        "notes": load.notes,
    }


class Load:
    """Start both servers, check their answers, then load one at a time with wrk."""

    def __init__(
        self,
        args: argparse.Namespace,
        workdir: Path,
        bodies: dict[str, bytes],
        paths: dict[str, str],
        expected: np.ndarray,
    ) -> None:
        self.args = args
        self.workdir = workdir
        self.bodies = bodies
        self.paths = paths
        self.expected = expected
        self.servers: dict[str, Server] = {}
        self.startups: dict[str, list[float]] = {}
        self.notes: list[str] = []
        self.cells: dict[str, dict[int, Cell]] = {}
        self.seconds: dict[tuple[str, int], int] = {}

    def note(self, text: str, level: str = "NOTE") -> None:
        self.notes.append(text)
        print(f"  {level}: {text}")

    def run(self, ours_cmd: list[str], base_cmd: list[str]) -> None:
        args = self.args
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            # startup, one server at a time; the last start of each stays up
            try:
                self.servers["ours"], self.startups["ours"] = start_many(
                    "featurekit",
                    ours_cmd,
                    "/v2/health/ready",
                    self.workdir,
                    args.startups,
                )
            except RuntimeError as exc:
                self.note(f"featurekit's server did not start: {exc}")
            self.servers["baseline"], self.startups["baseline"] = start_many(
                "baseline", base_cmd, "/healthz", self.workdir, args.startups
            )
            endpoints = self._checked()
            self._measure(endpoints)
        finally:
            for server in self.servers.values():
                server.stop()

    def _port(self, endpoint: str) -> int:
        return self.servers["baseline" if endpoint == "baseline" else "ours"].port

    def _checked(self) -> list[str]:
        """The endpoints that answer one request with scikit-learn's probabilities."""
        endpoints = []
        for e in ENDPOINTS:
            if e != "baseline" and "ours" not in self.servers:
                continue
            answer = post(self._port(e), self.paths[e], self.bodies[e])
            problem = check_answer(*answer, self.expected)
            if problem is None:
                endpoints.append(e)
            else:
                self.note(
                    f"{ENDPOINTS[e]} answers wrongly, not loaded: {problem}", "WARNING"
                )
        print(
            f"  checked: {', '.join(SHORT.get(e, e) for e in endpoints)} answer 200 "
            f"with scikit-learn's probabilities (within {PROBA_ATOL:g})"
        )
        return endpoints

    def _measure(self, endpoints: list[str]) -> None:
        args = self.args
        scripts = {
            e: lua_script(self.bodies[e], self.workdir / f"{e}.lua") for e in endpoints
        }
        urls = {
            e: f"http://127.0.0.1:{self._port(e)}{self.paths[e]}" for e in endpoints
        }

        def wrk(e: str, connections: int, seconds: int) -> dict[str, Any]:
            return run_wrk(args.wrk, urls[e], scripts[e], connections, seconds)

        # warm-up: lazy imports, pools, caches; it also gives each endpoint's rate
        rate = {e: wrk(e, BUDGET_CONCURRENCY, args.warmup)["rps"] for e in endpoints}
        self.seconds = {  # long enough for every connection to finish a few requests
            (e, c): min(
                MAX_RUN_S,
                max(
                    args.duration,
                    math.ceil(args.per_connection * c / max(rate[e], 0.1)),
                ),
            )
            for e in endpoints
            for c in args.concurrency
        }
        self.cells = {e: {c: Cell() for c in args.concurrency} for e in endpoints}
        for rep in range(args.repeats):
            for j, c in enumerate(args.concurrency):
                k = (rep + j) % len(endpoints)
                for e in endpoints[k:] + endpoints[:k]:  # rotate: drift hits all alike
                    run = wrk(e, c, self.seconds[e, c])
                    self.cells[e][c].runs.append(run)
                    bad = sum(run["errors"].values())
                    if bad:
                        print(
                            f"  WARNING: {ENDPOINTS[e]}, c={c}: {bad} errors "
                            f"{run['errors']} in {run['requests']} requests"
                        )
                    if run["requests"] < c:  # short runs (--quick): few samples
                        print(
                            f"  NOTE: {ENDPOINTS[e]}, c={c}: only {run['requests']} "
                            f"requests completed in {run['seconds']:.1f} s"
                        )


# -- report --------------------------------------------------------------------------
def report(load: Load, args: argparse.Namespace) -> dict[str, Any]:
    """Print the table, the ratios and the budgets; return them."""
    cells = load.cells
    print(
        f"  startup, process start -> ready (median of {args.startups}): "
        + ", ".join(
            f"{'featurekit' if k == 'ours' else k} {float(np.median(v)):.2f} s"
            for k, v in load.startups.items()
        )
    )
    print(
        f"  {'endpoint, 1 row per request':<44}{'conc':>5}{'p50':>11}{'p99':>11}"
        f"{'throughput':>16}{'run':>7}   (medians of {args.repeats} runs)"
    )
    summary: dict[str, dict[str, Any]] = {}
    for e, per in cells.items():
        summary[e] = {}
        for c, cell in per.items():
            s = summary[e][str(c)] = cell.summary()
            print(
                f"    {ENDPOINTS[e]:<42}{c:>5}{fmt_ms(s['p50_ms']['median']):>11}"
                f"{fmt_ms(s['p99_ms']['median']):>11}"
                f"{s['rps']['median']:>12,.0f} req/s{load.seconds[e, c]:>6} s"
            )

    ratios: dict[str, dict[str, float]] = {}
    if "baseline" in cells:
        for e in (e for e in OURS if e in cells):
            for c in args.concurrency:
                ours, base = cells[e][c], cells["baseline"][c]
                ratios[f"{SHORT[e]}, c={c}: baseline p50 / ours p50"] = paired(
                    base.values("p50_ms"), ours.values("p50_ms")
                )
                ratios[f"{SHORT[e]}, c={c}: ours / baseline throughput"] = paired(
                    ours.values("rps"), base.values("rps")
                )

    budgets = []
    for e in OURS:
        p50 = spread(cells[e][1].values("p50_ms")) if 1 in cells.get(e, {}) else None
        budgets.append(
            budget(
                f"1 row, {SHORT[e]}, c=1: p50 latency", p50, "ms", at_most=BUDGET_P50_MS
            )
        )
    for e in OURS:
        name = f"1 row, {SHORT[e]}, c={BUDGET_CONCURRENCY}: ours / baseline throughput"
        r = ratios.get(name.removeprefix("1 row, "))
        budgets.append(budget(name, r, "x", at_least=BUDGET_THROUGHPUT_C8))
    startup = spread(load.startups["ours"]) if "ours" in load.startups else None
    budgets.append(
        budget(
            "startup: process start -> ready", startup, "s", at_most=BUDGET_STARTUP_S
        )
    )
    print_budgets(budgets, ratios, width=56)
    return {"endpoints": summary, "ratios": ratios, "budgets": budgets}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short run (< 30 s), indicative only"
    )
    add_json_option(parser, "http_server")
    parser.add_argument(
        "--models", help="comma-separated subset of lr,rf (default: both; --quick: lr)"
    )
    parser.add_argument(
        "--concurrency", default="1,8,32", help="comma-separated (default 1,8,32)"
    )
    parser.add_argument(
        "--duration", type=int, help="seconds per wrk run (default 5; quick 1)"
    )
    parser.add_argument(
        "--repeats", type=int, help="wrk runs per cell (default 3; quick 1)"
    )
    parser.add_argument(
        "--warmup", type=int, help="warm-up seconds per endpoint (default 2; quick 1)"
    )
    parser.add_argument(
        "--per-connection",
        type=int,
        help="runs last long enough for every connection to complete this many "
        "requests at the warm-up rate, up to 60 s (default 5; quick 1)",
    )
    parser.add_argument(
        "--startups", type=int, help="server starts timed (default 3; quick 1)"
    )
    parser.add_argument(
        "--server-cmd",
        default=f"{sys.executable} -m serving",
        help="featurekit's server, before ARTIFACT --host H --port P "
        "(default: this python -m serving)",
    )
    parser.add_argument(
        "--server-args",
        default="--log-level warning",
        help="featurekit's server options after --port P (default: --log-level "
        "warning, the baseline's: no access log)",
    )
    args = parser.parse_args(argv)
    run = Run("http_server")

    wrk = shutil.which("wrk")
    if wrk is None:
        print(
            "wrk, the HTTP load generator, is not installed: apt-get install wrk",
            file=sys.stderr,
        )
        return 2
    args.wrk = wrk
    quick = args.quick
    args.models = (args.models or ("lr" if quick else "lr,rf")).split(",")
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    if any(c < 1 for c in args.concurrency):
        parser.error("concurrency must be at least 1")
    args.duration = args.duration or (1 if quick else 5)
    args.repeats = args.repeats or (1 if quick else 3)
    args.warmup = args.warmup or (1 if quick else 2)
    args.startups = args.startups or (1 if quick else 3)
    args.train_rows = 2_000 if quick else 20_000
    args.per_connection = args.per_connection or (1 if quick else 5)
    args.server_cmd = args.server_cmd.split()
    args.server_args = args.server_args.split()

    env = {
        "wrk": wrk_version(wrk),
        **versions(
            "numpy",
            "pandas",
            "scikit-learn",
            "pandera",
            "onnxruntime",
            "uvicorn",
            "uvloop",
            "httptools",
            "starlette",
            "fastapi",
            "orjson",
            "featurekit",
        ),
    }
    print(
        f"featurekit HTTP benchmark{' (--quick: indicative only)' if quick else ''}: "
        f"wrk, 1 row per request, concurrency {','.join(map(str, args.concurrency))} "
        f"(connections; threads = min(c, 2)), runs of {args.duration} s or more (every "
        f"connection completes {args.per_connection} requests at the warm-up rate), "
        f"{args.repeats} repeats interleaved, {args.warmup} s warm-up; medians over "
        f"repeats; ratios: median and p10-p90 of the per-repeat pairs\n"
        f"models: {', '.join(MODELS[m][0] for m in args.models)}; ours: "
        f"{' '.join(args.server_cmd)} ARTIFACT ... {' '.join(args.server_args)}; baseline: bench/_http_baseline.py "
        f"(FastAPI + pandera + scikit-learn); one server under load at a time, "
        f"nothing pinned\n"
        f"{env['wrk']}, "
        + ", ".join(f"{k} {v}" for k, v in env.items() if k != "wrk")
        + f"; code: {run.code['git']} (featurekit+serving digest {run.code['digest']})"
    )

    t0 = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="fk-bench-http-") as tmpdir:
        tmp = Path(tmpdir)
        for key in args.models:
            results[key] = bench_model(key, args, tmp)
    verdicts = [b["pass"] for r in results.values() for b in r["budgets"]]
    print(
        f"\n{sum(verdicts)} of {len(verdicts)} budgets PASS "
        f"(total {time.perf_counter() - t0:.0f} s; exit status is always 0: "
        "this is a measurement, not a test)"
    )

    if args.json:
        run.write(
            args.json,
            config={
                "quick": quick,
                "models": args.models,
                "concurrency": args.concurrency,
                "min_duration_s": args.duration,
                "per_connection": args.per_connection,
                "max_run_s": MAX_RUN_S,
                "repeats": args.repeats,
                "warmup_s": args.warmup,
                "startups": args.startups,
                "train_rows": args.train_rows,
                "server_cmd": args.server_cmd,
                "server_args": args.server_args,
                "wrk_threads": "min(concurrency, 2)",
            },
            budgets=[
                {**b, "case": r["model"].split("(")[0]}
                for r in results.values()
                for b in r["budgets"]
            ],
            results={"models": results},
            versions=env,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
