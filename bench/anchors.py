"""featurekit against what a user would otherwise write (issue 18), in one run.

Run it as ``.venv/bin/python bench/anchors.py`` (HTTP needs ``wrk``). On the same data
(credit-style: 4 numeric columns, median impute and standard scaling; 3 one-hot
categoricals, unseen categories ignored) and the same model (LogisticRegression, and a
RandomForest), it builds the two anchors:

- **the wrapper**, as the skl2onnx tutorial does it: scikit-learn's ColumnTransformer
  and the model, converted with ``convert_sklearn``, one ``[None, 1]`` input per column
  (FloatTensorType / StringTensorType), ``zipmap=False``; ``predict(record)`` builds
  ``np.array([[v]])`` feeds and calls ``session.run`` on a 1-thread session; for a
  batch it builds the feeds from the frame's columns. No checks, no monitoring.
- **the bare server** (``bench/_anchor_server.py``): a starlette app with one POST
  route, orjson in and out, the same feeds and session, uvicorn with uvloop and
  httptools, access log off, one worker.

and featurekit's side: the same columns declared with ``fk.Numeric(impute="median",
scale="standard")`` and ``fk.Categorical(unknown="ignore")``, the same model, exported,
``Predictor.predict_proba`` with the contract and drift monitoring on, and ``featurekit
serve`` (contract, monitoring, metrics on). It measures, interleaved: 1 row in process,
100k rows in process, and HTTP one worker at c=1 and c=8 (wrk, one-row POSTs; the
one-row calls and requests take 4,096 different rows of the data in turn, as a
server's traffic would: one row sent again and again makes every drift window a
drifted one, whose tests run their longest), and
prints featurekit / anchor ratios (medians of per-repeat paired ratios) against the
budgets: 1 row <= 1.5x the wrapper; 100k rows >= 0.8x its throughput; HTTP >= 0.8x the
bare server's throughput and p50 <= 1.25x its p50.

It is a measurement, not a test: it prints PASS/MISS and exits 0. ``--quick`` makes a
short run; ``--json [PATH]`` writes every number (default bench/results/anchors.json).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from _common import (
    ROOT,
    Run,
    add_json_option,
    budget,
    json_record,
    measure,
    paired,
    print_budgets,
    print_timings,
    ratio,
    round_samples,
    spread,
    versions,
)
from _credit import make_frame
from http_server import (
    get,
    lua_script,
    post,
    process_cpu_s,
    run_wrk,
    start,
    wrk_version,
)
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import featurekit as fk
from featurekit.contract.columns import Columns
from serving import Predictor

BUDGET_1ROW = 1.5  # budget: 1 row, featurekit <= 1.5x the wrapper's time
BUDGET_BATCH = 0.8  # budget: 100k rows, featurekit >= 0.8x the wrapper's throughput
BUDGET_HTTP_RPS = 0.8  # budget: HTTP, >= 0.8x the bare server's throughput
BUDGET_HTTP_P50 = 1.25  # budget: HTTP, p50 <= 1.25x the bare server's p50
BUDGET_WORKERS = 0.8  # budget: N workers >= 0.8 N x one worker's throughput
ROTATE = 4096  # distinct complete rows the one-row calls and HTTP requests take in turn
WORKERS = "featurekit_workers"
NUMERIC = ["income", "debt_ratio", "months_employed", "utilization"]
CATEGORICAL = ["channel", "product", "housing"]
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
LABELS = {
    "featurekit": "featurekit Predictor.predict_proba",
    "wrapper": "wrapper",
    "featurekit_graph": "featurekit's graph alone, prebuilt feeds",
    "wrapper_graph": "the wrapper's graph alone, prebuilt feeds",
    "featurekit_no_monitor": "featurekit, drift monitoring off",
    "featurekit_graph_cold": "featurekit's graph alone, caches cold",
    "wrapper_graph_cold": "the wrapper's graph alone, caches cold",
}


def data(n: int, seed: int, unseen_rate: float = 0.0) -> tuple[pd.DataFrame, Any]:
    """The 7 columns of the anchors (categoricals complete: the wrapper has no impute)."""
    frame, y = make_frame(n, seed, unseen_rate=unseen_rate)
    frame = frame[NUMERIC + CATEGORICAL].copy()
    for c in CATEGORICAL:
        frame[c] = frame[c].fillna("missing")
    return frame, y


def feature_set() -> fk.FeatureSet:
    return fk.FeatureSet(
        "anchors",
        [fk.Numeric(c, impute="median", scale="standard") for c in NUMERIC]
        + [fk.Categorical(c, unknown="ignore") for c in CATEGORICAL],
    )


class Wrapper:
    """The skl2onnx tutorial's wrapper: ColumnTransformer + model, one input a column."""

    def __init__(self, model: Any, train: pd.DataFrame, y: Any) -> None:
        num = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        pre = ColumnTransformer(
            [
                ("num", num, NUMERIC),
                ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ]
        )
        self.pipe = Pipeline([("pre", pre), ("model", model)]).fit(train, y)
        types = [(c, FloatTensorType([None, 1])) for c in NUMERIC] + [
            (c, StringTensorType([None, 1])) for c in CATEGORICAL
        ]
        onx = convert_sklearn(
            self.pipe, initial_types=types, options={id(model): {"zipmap": False}}
        )
        self.onnx = onx.SerializeToString()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            self.onnx, opts, providers=["CPUExecutionProvider"]
        )
        self.output = self.session.get_outputs()[1].name

    def predict(self, record: dict[str, Any]) -> Any:
        return self.session.run([self.output], self.feeds(record))[0]

    def feeds(self, record: dict[str, Any]) -> dict[str, Any]:
        feeds: dict[str, Any] = {
            c: np.array(
                [[np.nan if record[c] is None else record[c]]], dtype=np.float32
            )
            for c in NUMERIC
        }
        feeds.update({c: np.array([[record[c]]]) for c in CATEGORICAL})
        return feeds

    def predict_frame(self, frame: pd.DataFrame) -> Any:
        feeds: dict[str, Any] = {
            c: frame[c].to_numpy(np.float32, na_value=np.nan).reshape(-1, 1)
            for c in NUMERIC
        }
        feeds.update({c: frame[c].to_numpy(object).reshape(-1, 1) for c in CATEGORICAL})
        return self.session.run([self.output], feeds)[0]


def in_process(key: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    desc, make = MODELS[key]
    train, y = data(args.train_rows, 1)
    batch, _ = data(args.rows, 2, unseen_rate=0.001)
    wrapper = Wrapper(make(), train, y)
    pipe = fk.make_pipeline(feature_set(), make()).fit(train, y)
    artifact = tmp / f"artifact-{key}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fk.export(pipe, artifact, reference=train)
    predictor = Predictor.load(artifact)
    assert predictor.monitor is not None, "drift monitoring must be on"
    print(f"\n== {key}: {desc}")

    complete = batch.notna().all(axis=1).to_numpy().nonzero()[0]
    i = int(complete[0])
    record = json_record(batch, i)
    # one-row calls take ROTATE complete rows in turn: traffic like a server's, whose
    # drift windows hold as many different rows (one row sent again and again is a
    # window that drifted, and makes the monitor's tests run their longest)
    records = [json_record(batch, int(j)) for j in complete[:ROTATE]]
    for r in records[:: max(1, len(records) // 50)]:
        ours, theirs = predictor.predict_proba(r), wrapper.predict(r)
        if not np.allclose(ours, theirs, atol=1e-4):
            print(f"  WARNING: 1 row: featurekit {ours} but the wrapper {theirs}")
    # the graphs alone, on prebuilt feeds: where a one-row call's time goes
    fk_feeds, _ = Columns(predictor.contract).coerce(record)
    w_feeds = wrapper.feeds(record)
    fk_rows, w_rows = itertools.cycle(records), itertools.cycle(records)
    single = measure(
        {
            "featurekit": lambda: predictor.predict_proba(next(fk_rows)),
            "wrapper": lambda: wrapper.predict(next(w_rows)),
            "featurekit_graph": lambda: predictor.session.run(
                ["probabilities"], fk_feeds
            ),
            "wrapper_graph": lambda: wrapper.session.run([wrapper.output], w_feeds),
        },
        repeats=args.repeats,
        block_s=args.block_s,
        warmup_s=args.warmup_s,
    )
    # the same graphs run between other work, as a server runs them between requests:
    # onnxruntime's fixed cost per node grows when its kernels have left the caches
    single.update(
        cold(
            {
                "featurekit_graph_cold": lambda: predictor.session.run(
                    ["probabilities"], fk_feeds
                ),
                "wrapper_graph_cold": lambda: wrapper.session.run(
                    [wrapper.output], w_feeds
                ),
            },
            [json.dumps({"records": [r]}).encode() for r in records[:64]],
            repeats=args.repeats,
        )
    )
    print_timings("1 row", single, LABELS, None)

    ours_n, theirs_n = predictor.predict_proba(batch), wrapper.predict_frame(batch)
    worst = float(np.abs(ours_n - theirs_n).max())
    print(f"  {len(batch):,} rows: largest |featurekit - wrapper| {worst:.2g}")
    many = measure(
        {
            "featurekit": lambda: predictor.predict_proba(batch),
            "wrapper": lambda: wrapper.predict_frame(batch),
            "featurekit_no_monitor": lambda: _no_monitor(predictor, batch),
        },
        repeats=args.repeats,
        block_s=args.batch_block_s,
        warmup_s=args.batch_warmup_s,
    )
    print_timings(f"{len(batch):,} rows", many, LABELS, len(batch))
    budgets = [
        budget(
            f"{key}: 1 row: featurekit / wrapper time",
            ratio(single, "featurekit", "wrapper"),
            "x",
            at_most=BUDGET_1ROW,
        ),
        budget(
            f"{key}: {len(batch) // 1000}k rows: featurekit / wrapper throughput",
            ratio(many, "wrapper", "featurekit"),
            "x",
            at_least=BUDGET_BATCH,
        ),
    ]
    context = {
        f"{key}: 1 row, the graphs alone: featurekit / wrapper": ratio(
            single, "featurekit_graph", "wrapper_graph"
        ),
        f"{key}: 1 row, the graphs alone, caches cold: featurekit / wrapper": ratio(
            single, "featurekit_graph_cold", "wrapper_graph_cold"
        ),
        f"{key}: {len(batch) // 1000}k rows, monitoring off / wrapper throughput": ratio(
            many, "wrapper", "featurekit_no_monitor"
        ),
    }
    nodes = {
        "featurekit": len(onnx.load_from_string(artifact_model(artifact)).graph.node),
        "wrapper": len(onnx.load_from_string(wrapper.onnx).graph.node),
    }
    print(
        f"  graph nodes: featurekit {nodes['featurekit']}, wrapper {nodes['wrapper']}"
    )
    print_budgets(budgets, context)
    round_samples(single, many)
    return {
        "model": desc,
        "artifact": artifact,
        "wrapper": wrapper,
        "record": record,
        "records": records,
        "result": {
            "model": desc,
            "batch_rows": len(batch),
            "single_row": single,
            "batch": many,
            "budgets": budgets,
            "context": context,
            "max_abs_difference": worst,
            "graph_nodes": nodes,
        },
    }


def artifact_model(artifact: Path) -> bytes:
    return (artifact / "model.onnx").read_bytes()


def cold(
    runs: dict[str, Callable[[], Any]],
    bodies: list[bytes],
    *,
    repeats: int,
    calls: int = 400,
) -> dict[str, dict[str, Any]]:
    """Each run timed alone, after work that evicts the CPU's caches.

    Between two runs: the JSON of a few request bodies parsed, a few dicts walked and
    4 MiB of memory written, as a server's own work does between two requests. Only
    the run itself is timed. Per repeat: the median run, in ns (``measure``'s shape).
    """
    scratch = np.zeros(1 << 19)  # 4 MiB of float64
    junk = [dict.fromkeys(range(256), 0) for _ in range(32)]

    def evict(i: int) -> None:
        for body in bodies[i % len(bodies) : i % len(bodies) + 8]:
            json.loads(body)
        for d in junk:
            sum(d)
        scratch[:] += 1.0

    samples: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():  # warm-up: the first run builds onnxruntime's plans
        for _ in range(20):
            run()
    for r in range(repeats):
        for name in list(runs)[r % 2 :] + list(runs)[: r % 2]:
            times = []
            for i in range(calls):
                evict(i)
                t0 = time.perf_counter_ns()
                runs[name]()
                times.append(time.perf_counter_ns() - t0)
            samples[name].append(float(np.median(times)))
    return {
        name: {"ns_per_call": spread(s), "samples_ns": s, "calls_per_repeat": calls}
        for name, s in samples.items()
    }


def _no_monitor(predictor: Predictor, batch: pd.DataFrame) -> Any:
    monitor, predictor.monitor = predictor.monitor, None
    try:
        return predictor.predict_proba(batch)
    finally:
        predictor.monitor = monitor


def start_bare(model: Path, columns: Path, logdir: Path) -> Any:
    """The bare server has no GET route: wait until its POST answers."""
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "_anchor_server.py"),
        str(model),
        str(columns),
        "--port",
        "{port}",
    ]
    return start("bare", cmd, "/predict", logdir, ready_status=405)


def http(
    key: str, prep: dict[str, Any], args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    """Both servers up, answers checked, then wrk on one at a time, rotated."""
    workdir = tmp / f"http-{key}"
    workdir.mkdir()
    model = workdir / "wrapper.onnx"
    model.write_bytes(prep["wrapper"].onnx)
    columns = workdir / "columns.json"
    columns.write_text(json.dumps({"numeric": NUMERIC, "categorical": CATEGORICAL}))
    body = json.dumps({"records": [prep["record"]]}).encode()
    bodies = [json.dumps({"records": [r]}).encode() for r in prep["records"]]
    fk_cmd = [
        sys.executable,
        "-m",
        "serving",
        str(prep["artifact"]),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
    ]
    servers = {
        "featurekit": start("featurekit", fk_cmd, "/v2/health/ready", workdir),
        "bare": start_bare(model, columns, workdir),
        # context: where featurekit's time goes, and how it scales out
        "featurekit_no_monitor": start(
            "featurekit_no_monitor",
            [*fk_cmd, "--no-monitor"],
            "/v2/health/ready",
            workdir,
        ),
    }
    if args.workers > 1:
        servers[WORKERS] = start_workers(
            [*fk_cmd, "--workers", str(args.workers)], args.workers, workdir
        )
    # the workers' server runs only at the top concurrency
    cells = [(n, c) for c in args.concurrency for n in servers if n != WORKERS] + [
        (WORKERS, c) for c in args.concurrency[-1:] if WORKERS in servers
    ]
    try:
        expected = prep["wrapper"].predict(prep["record"])[0]
        for name, s in servers.items():
            status, answer = post(s.port, "/predict", body)
            got = json.loads(answer)["probabilities"][0] if status == 200 else None
            if got is None or not np.allclose(got, expected, atol=1e-4):
                print(f"  WARNING: {name} answers {status} {answer[:200]!r}")
        script = lua_script(bodies, workdir / "bodies.lua")
        urls = {n: f"http://127.0.0.1:{s.port}/predict" for n, s in servers.items()}
        for n in urls:  # warm-up
            run_wrk(args.wrk, urls[n], script, 8, args.warmup)
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {cell: [] for cell in cells}
        for rep in range(args.http_repeats):
            for c in args.concurrency:
                order = [n for n, k in cells if k == c]
                for n in order if rep % 2 == 0 else order[::-1]:
                    before = process_cpu_s(servers[n].proc.pid)
                    r = run_wrk(args.wrk, urls[n], script, c, args.duration)
                    # the server's CPU per answer: steadier than time on a busy machine
                    used = process_cpu_s(servers[n].proc.pid) - before
                    r["server_cpu_us"] = used / max(r["requests"], 1) * 1e6
                    r["server_cores"] = used / r["seconds"]
                    runs[n, c].append(r)
    finally:
        for s in servers.values():
            s.stop()
    out: dict[str, Any] = {"cells": {}, "budgets": [], "context": {}}
    print(
        f"  {'HTTP, 1 row per POST':<30}{'conc':>5}{'p50':>10}{'p99':>10}{'throughput':>16}"
        f"{'CPU/req':>13}{'cores':>8}"
    )
    for (n, c), rs in runs.items():
        rps = spread([r["rps"] for r in rs])
        p50 = spread([r["p50_ms"] for r in rs])
        p99 = spread([r["p99_ms"] for r in rs])
        failed = sum(r["errors"]["status"] for r in rs)
        if failed:
            print(f"  WARNING: {n} c={c}: {failed} answers were not 2xx")
        cpu = spread([r["server_cpu_us"] for r in rs])
        cores = spread([r["server_cores"] for r in rs])
        out["cells"][f"{n} c={c}"] = {
            "rps": rps,
            "p50_ms": p50,
            "p99_ms": p99,
            "server_cpu_us": cpu,
            "server_cores": cores,
            "runs": rs,
        }
        print(
            f"    {n:<28}{c:>5}{p50['median']:>8.3f}ms{p99['median']:>8.3f}ms"
            f"{rps['median']:>12,.0f} req/s"
            f"{cpu['median']:>10.0f} µs{cores['median']:>8.2f}"
        )
    for c in args.concurrency:
        fk_runs, bare = runs["featurekit", c], runs["bare", c]
        out["budgets"] += [
            budget(
                f"{key}: HTTP c={c}: featurekit / bare throughput",
                paired([r["rps"] for r in fk_runs], [r["rps"] for r in bare]),
                "x",
                at_least=BUDGET_HTTP_RPS,
            ),
            budget(
                f"{key}: HTTP c={c}: featurekit / bare p50",
                paired([r["p50_ms"] for r in fk_runs], [r["p50_ms"] for r in bare]),
                "x",
                at_most=BUDGET_HTTP_P50,
            ),
        ]
    for c in args.concurrency:
        out["context"][f"{key}: HTTP c={c}: featurekit, monitoring off / bare"] = (
            paired(
                [r["rps"] for r in runs["featurekit_no_monitor", c]],
                [r["rps"] for r in runs["bare", c]],
            )
        )
    if WORKERS in servers:
        c, n = args.concurrency[-1], args.workers
        # the load generator runs on the same cores: what it leaves the workers
        out["wrk_cores"] = {
            label: spread([r["client_cores"] for r in runs[name, c]])["median"]
            for label, name in (("one worker", "featurekit"), (f"{n} workers", WORKERS))
        }
        print(
            f"  wrk itself used {out['wrk_cores']['one worker']:.2f} cores against "
            f"one worker, {out['wrk_cores'][f'{n} workers']:.2f} against {n}, of "
            f"{os.cpu_count()}"
        )
        out["budgets"].append(
            budget(
                f"{key}: HTTP c={c}: {n} workers / one worker throughput, per worker",
                paired(
                    [r["rps"] / n for r in runs[WORKERS, c]],
                    [r["rps"] for r in runs["featurekit", c]],
                ),
                "x",
                at_least=BUDGET_WORKERS,
            )
        )
    print_budgets(out["budgets"], out["context"])
    return out


def start_workers(cmd: list[str], n: int, logdir: Path) -> Any:
    """`featurekit serve --workers N`, up once every worker answers ready.

    Readiness is asked on fresh connections, which the kernel spreads over the
    workers: twenty 200s in a row say that each one has loaded its model.
    """
    server = start(WORKERS, cmd, "/v2/health/ready", logdir)
    deadline, streak = time.monotonic() + 120, 0
    while streak < 20 * n and time.monotonic() < deadline:
        try:
            status = get(server.port, "/v2/health/ready")
        except OSError:
            status = 0
        streak = streak + 1 if status == 200 else 0
        if status != 200:
            time.sleep(0.05)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run, indicative")
    add_json_option(parser, "anchors")
    parser.add_argument("--models", help="subset of lr,rf (default both; quick: lr)")
    parser.add_argument("--repeats", type=int, help="in-process repeats (default 9)")
    parser.add_argument(
        "--http-repeats", type=int, help="wrk runs per cell (default 3)"
    )
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 5)")
    parser.add_argument("--no-http", action="store_true", help="in process only")
    args = parser.parse_args(argv)
    run = Run("anchors")
    quick = args.quick
    args.models = (args.models or ("lr" if quick else "lr,rf")).split(",")
    args.repeats = args.repeats or (3 if quick else 9)
    args.http_repeats = args.http_repeats or (1 if quick else 3)
    args.duration = args.duration or (1 if quick else 5)
    args.warmup = 1 if quick else 2
    args.concurrency = [1, 8]
    args.workers = min(os.cpu_count() or 1, 4)  # up to the core count
    args.rows = 20_000 if quick else 100_000
    args.train_rows = 2_000 if quick else 20_000
    args.block_s, args.warmup_s = (0.03, 0.05) if quick else (0.3, 0.5)
    args.batch_block_s, args.batch_warmup_s = (0.0, 0.0) if quick else (0.5, 0.5)
    args.wrk = None if args.no_http else shutil.which("wrk")
    if args.wrk is None and not args.no_http:
        print("wrk is not installed (apt-get install wrk): HTTP is skipped")
    env = versions(
        "numpy",
        "pandas",
        "scikit-learn",
        "skl2onnx",
        "onnxruntime",
        "starlette",
        "uvicorn",
        "orjson",
        "featurekit",
    )
    if args.wrk:
        env["wrk"] = wrk_version(args.wrk)
    print(
        "featurekit against the wrapper and the bare server: "
        + ", ".join(f"{k} {v}" for k, v in env.items())
    )
    results: dict[str, Any] = {}
    budgets: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fk-anchors-") as tmpdir:
        tmp = Path(tmpdir)
        for key in args.models:
            prep = in_process(key, args, tmp)
            results[key] = prep["result"]
            budgets += prep["result"]["budgets"]
            if args.wrk:
                results[key]["http"] = http(key, prep, args, tmp)
                budgets += results[key]["http"]["budgets"]
    print(
        f"\n{sum(b['pass'] for b in budgets)} of {len(budgets)} budgets met "
        "(exit status is always 0: a measurement, not a test)"
    )
    if args.json:
        run.write(
            args.json,
            config={k: v for k, v in vars(args).items() if k not in ("json", "wrk")},
            budgets=[
                {**b, "case": results[b["name"].split(":")[0]]["model"]}
                for b in budgets
            ],
            results={"models": results},
            versions=env,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
