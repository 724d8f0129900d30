"""The prediction log's costs (issue 13): in process, over HTTP, evaluating 10M rows, kill -9.

Run it as ``.venv/bin/python bench/outcomes.py`` (``wrk`` is needed for part 2:
``apt-get install wrk``). The model is the demo's credit model, trained and exported as
``examples/train.py`` does (a RandomForest on ``examples/credit_features.yaml``, with its
holdout figures). In one run it measures

1. in process, `serving.Predictor.predict_proba` with ``log=DIR`` against the same
   artifact without a log, both with the contract and drift monitoring on (the
   defaults), at batch sizes 1, 64 and 1,000: blocks of 10,000 rows (the default
   ``flush_rows``) alternate between the two predictors in every repeat. The log's
   cost is counted in CPU time, thread by thread: the calling thread's extra CPU
   (``time.thread_time``, logged block against unlogged block) plus every second
   the writer spent turning rows into files (``LogWriter.stats["write_cpu_seconds"]``,
   the writer thread's own clock, and the synchronous flush that ends each logged
   block, so every row's write is charged to the log). The drift monitor's test
   threads, busy in both predictors, are left out: counted in process CPU time they
   swamped the difference with noise (that figure is kept too, as
   ``process_extra_us_per_row``). The figure is the extra CPU a row, the median of
   the per-repeat differences;
2. over HTTP, ``featurekit serve ARTIFACT --log DIR`` against the same server without
   ``--log``: ``wrk`` at 8 connections, one row per request, the two servers loaded in
   turn (rotated), the throughput ratio as the median of per-repeat pairs; the rows the
   logging server wrote are counted against the requests it answered;
3. `featurekit.outcomes.evaluation.evaluate` over a log of 10M rows spread over a
   week, half of them labelled: the rows go through the real `LogWriter` (100 appends
   of 100,000 scored rows, each backdated with ``at_ns``) and the labels through
   `featurekit.outcomes.labels.write_labels`, so the files have the log's own schema;
   ``evaluate(artifact, DIR, window="1d")`` is timed three times (median; once
   when a run takes over a minute), and
   `PredictionLog.frame` of one day and `PredictionLog.add_labels` of 1,000 labels
   once each;
4. kill -9: ``featurekit serve --log DIR`` (flush interval 1 s) under steady traffic
   from 4 client threads sending their own ids; after a few seconds the server is
   killed with SIGKILL, and every file of the log is read back with pyarrow: every row
   answered more than one flush interval before the kill must be there, and no file
   may be unreadable (``tests/serving/test_log_durability.py`` asserts the same).

Parts 3 and 4 live in ``bench/_outcomes_scale.py`` and ``bench/_outcomes_kill.py``.

Budgets: logging adds at most 5 µs a row in process at batch size 1; it costs at most
10 % of HTTP throughput at 8 connections; ``evaluate`` over 10M rows takes at most
10 s; after kill -9 no row older than the flush interval is missing and no file is
corrupt. It is a measurement, not a test: it prints PASS/MISS and always exits 0.
``--quick`` makes a short run (200,000 rows for part 3); ``--json [PATH]`` writes every
number (default ``bench/results/outcomes.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import (
    Run,
    add_json_option,
    budget,
    json_record,
    paired,
    print_budgets,
    spread,
    versions,
)
from _outcomes_kill import FLUSH_S, durability
from _outcomes_scale import EXAMPLES, at_scale, make_credit
from http_server import lua_script as wrk_script
from http_server import post, run_wrk, start, wrk_version
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import featurekit as fk
from serving import Predictor

BUDGET_US_PER_ROW = 5.0  # budget: the log adds <= 5 µs a row in process, batch 1
BUDGET_HTTP_RATIO = 0.9  # budget: throughput with --log >= 0.9x without, c=8
BUDGET_EVALUATE_S = 10.0  # budget: evaluate over 10M rows, half labelled, <= 10 s
CONCURRENCY = 8


# -- the model -----------------------------------------------------------------------
def credit_artifact(path: Path, rows: int) -> Path:
    """The demo's model, as ``examples/train.py`` trains and exports it."""
    features = fk.FeatureSet.from_yaml((EXAMPLES / "credit_features.yaml").read_text())
    frame, y = make_credit(rows)
    x_train, x_test, y_train, y_test = train_test_split(
        frame, y, test_size=0.25, random_state=0
    )
    pipe = fk.make_pipeline(
        features, RandomForestClassifier(n_estimators=60, max_depth=10, random_state=0)
    )
    pipe.fit(x_train, y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fk.export(pipe, path, reference=x_train, holdout=x_test, holdout_y=y_test)
    return path


# -- 1. in process -------------------------------------------------------------------
def in_process(artifact: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Extra CPU a row of ``log=DIR``, at batch sizes 1, 64 and 1,000."""
    off = Predictor.load(artifact)
    on = Predictor.load(artifact, log=tmp / "in-process-log")
    log = on.log
    assert log is not None and off.monitor is not None and on.monitor is not None
    rows = make_credit(2000, seed=1)[0]
    out: dict[str, Any] = {}
    for size in (1, 64, 1000):
        data: Any = (
            json_record(rows, 0)
            if size == 1
            else rows.iloc[:size].reset_index(drop=True)
        )
        calls = max(1, args.rows_per_block // size)
        for p in (off, on):  # warm up: a whole block each, past the early collections
            for _ in range(calls):
                p.predict_proba(data)
        log.flush()
        caller: dict[str, list[float]] = {"off": [], "on": []}
        process: dict[str, list[float]] = {"off": [], "on": []}
        writer: list[float] = []
        for r in range(args.repeats):
            for name in ("off", "on") if r % 2 == 0 else ("on", "off"):
                p = on if name == "on" else off
                written = log.stats["write_cpu_seconds"]
                c0, t0 = time.process_time(), time.thread_time()
                for _ in range(calls):
                    p.predict_proba(data)
                t1 = time.thread_time()
                if name == "on":
                    log.flush()  # the rows' write is charged to the log
                    spent = log.stats["write_cpu_seconds"] - written
                    writer.append(spent / calls / size * 1e6)
                rows_done = calls * size
                caller[name].append((t1 - t0) / rows_done * 1e6)
                process[name].append((time.process_time() - c0) / rows_done * 1e6)
        request = [a - b for a, b in zip(caller["on"], caller["off"], strict=True)]
        extra = [a + w for a, w in zip(request, writer, strict=True)]
        whole = [a - b for a, b in zip(process["on"], process["off"], strict=True)]
        out[str(size)] = {
            "calls_per_block": calls,
            "caller_cpu_us_per_row": {k: spread(v) for k, v in caller.items()},
            "extra_us_per_row": spread(extra),
            "extra_request_path_us_per_row": spread(request),
            "writer_us_per_row": spread(writer),
            "process_extra_us_per_row": spread(whole),
            "samples": {
                **{f"caller_{k}": [round(x, 3) for x in v] for k, v in caller.items()},
                "writer": [round(x, 3) for x in writer],
                **{f"process_{k}": [round(x, 3) for x in v] for k, v in process.items()},
            },
        }
        e = out[str(size)]
        print(
            f"    batch {size:>5}: {e['caller_cpu_us_per_row']['off']['median']:7.2f} µs "
            f"a row without the log, +{e['extra_us_per_row']['median']:.2f} µs with it "
            f"(request path +{e['extra_request_path_us_per_row']['median']:.2f}, "
            f"writer {e['writer_us_per_row']['median']:.2f}; process CPU "
            f"+{e['process_extra_us_per_row']['median']:.2f})"
        )
    on.close()
    out["log_stats"] = dict(log.stats)
    return out


# -- 2. HTTP -------------------------------------------------------------------------
def http(artifact: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """wrk at 8 connections: ``featurekit serve --log DIR`` against no log."""
    wrk = shutil.which("wrk")
    if wrk is None:
        print("    wrk is not installed (apt-get install wrk): HTTP part skipped")
        return {"skipped": "wrk is not installed"}
    log_dir = tmp / "http-log"
    base = [
        sys.executable,
        "-m",
        "serving",
        str(artifact),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
    ]
    record = json_record(make_credit(10, seed=3)[0], 0)
    body = json.dumps({"records": [record]}).encode()
    script = wrk_script(body, tmp / "predict.lua")
    servers = {
        "no_log": start("no-log", base, "/v2/health/ready", tmp),
        "log": start("log", [*base, "--log", str(log_dir)], "/v2/health/ready", tmp),
    }
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in servers}
    try:
        for name, server in servers.items():
            status, answer = post(server.port, "/predict", body)
            assert status == 200, (name, status, answer[:300])
        urls = {k: f"http://127.0.0.1:{s.port}/predict" for k, s in servers.items()}
        warm = {
            k: run_wrk(wrk, u, script, CONCURRENCY, args.warmup)
            for k, u in urls.items()
        }
        names = list(servers)
        for r in range(args.http_repeats):
            for name in names[r % 2 :] + names[: r % 2]:
                pid = servers[name].proc.pid
                cpu0 = _cpu_seconds(pid)
                run = run_wrk(wrk, urls[name], script, CONCURRENCY, args.duration)
                # the server's own CPU a request: steadier than throughput when
                # other work shares the machine
                run["server_cpu_us_per_request"] = (
                    (_cpu_seconds(pid) - cpu0) / max(run["requests"], 1) * 1e6
                )
                runs[name].append(run)
        dropped = _dropped(servers["log"].port)
    finally:
        for server in servers.values():
            server.stop()  # SIGTERM: the logging server writes what it buffered
    # every response wrk completed was logged first (the check, warm-up, timed runs);
    # requests cut off when a run ends may be logged without wrk counting them
    answered = 1 + warm["log"]["requests"] + sum(r["requests"] for r in runs["log"])
    logged = _rows_in(log_dir)
    ratio = paired([r["rps"] for r in runs["log"]], [r["rps"] for r in runs["no_log"]])
    out = {
        "concurrency": CONCURRENCY,
        "rps": {k: spread([r["rps"] for r in v]) for k, v in runs.items()},
        "p50_ms": {k: spread([r["p50_ms"] for r in v]) for k, v in runs.items()},
        "p99_ms": {k: spread([r["p99_ms"] for r in v]) for k, v in runs.items()},
        "ratio_throughput": ratio,
        "server_cpu_us_per_request": {
            k: spread([r["server_cpu_us_per_request"] for r in v])
            for k, v in runs.items()
        },
        "ratio_server_cpu": paired(
            [r["server_cpu_us_per_request"] for r in runs["log"]],
            [r["server_cpu_us_per_request"] for r in runs["no_log"]],
        ),
        "errors": {
            k: sum(sum(r["errors"].values()) for r in v) for k, v in runs.items()
        },
        "requests_completed_by_log_server": answered,
        "rows_in_log": logged,
        "rows_dropped": dropped,
        "runs": runs,
        "wrk": wrk_version(wrk),
    }
    for k in servers:
        print(
            f"    {k:>6}: {out['rps'][k]['median']:8,.0f} req/s, p50 "
            f"{out['p50_ms'][k]['median']:.2f} ms, p99 {out['p99_ms'][k]['median']:.2f} ms, "
            f"server CPU {out['server_cpu_us_per_request'][k]['median']:.0f} µs a request"
        )
    print(
        f"    with / without the log: {ratio['value']:.3f}x throughput "
        f"({ratio['p10']:.3f}-{ratio['p90']:.3f}); {logged:,} rows in the log for "
        f"{answered:,} responses, {dropped:g} dropped"
    )
    return out


def _rows_in(directory: Path) -> int:
    import pyarrow.parquet as pq

    return sum(
        pq.ParquetFile(f).metadata.num_rows
        for f in sorted(
            (directory / "predictions").glob("date=*/hour=*/part-*.parquet")
        )
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` (Linux /proc), its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _dropped(port: int) -> float:
    """``featurekit_log_rows_total{outcome="dropped"}`` of a server's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith('featurekit_log_rows_total{outcome="dropped"}'):
            return float(line.split()[-1])
    return float("nan")


# -- the run -------------------------------------------------------------------------
def budgets_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    inproc, web, big, kill = (
        results["in_process"],
        results["http"],
        results["evaluate"],
        results["kill"],
    )
    return [
        {
            **budget(
                "batch 1: extra CPU a row with log=DIR",
                inproc["1"]["extra_us_per_row"],
                "µs",
                at_most=BUDGET_US_PER_ROW,
            ),
            "case": "in process",
        },
        {
            **budget(
                f"c={CONCURRENCY}: throughput with --log / without",
                web.get("ratio_throughput"),
                "x",
                at_least=BUDGET_HTTP_RATIO,
            ),
            "case": "HTTP",
        },
        {
            **budget(
                f"evaluate, {big['rows'] / 1e6:g}M rows, half labelled, window 1d",
                big["evaluate_s"],
                "s",
                at_most=BUDGET_EVALUATE_S,
            ),
            "case": "evaluate",
        },
        {
            **budget(
                f"rows answered over {FLUSH_S:g} s before the kill, missing",
                float(kill["missing_of_those"]),
                "",
                at_most=0,
            ),
            "case": "kill -9",
        },
        {
            **budget(
                "log files pyarrow cannot read",
                float(len(kill["unreadable_files"])),
                "",
                at_most=0,
            ),
            "case": "kill -9",
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short run, indicative only"
    )
    add_json_option(parser, "outcomes")
    parser.add_argument(
        "--repeats", type=int, help="in-process repeats (default 15; quick 3)"
    )
    parser.add_argument(
        "--log-rows",
        type=int,
        help="rows of the evaluated log (default 10M; quick 200,000)",
    )
    args = parser.parse_args(argv)
    run = Run("outcomes")
    quick = args.quick
    args.repeats = args.repeats or (3 if quick else 15)
    args.rows_per_block = 1000 if quick else 10_000
    args.warmup = 1 if quick else 2
    args.duration = 1 if quick else 5
    args.http_repeats = 1 if quick else 5
    args.log_rows = args.log_rows or (200_000 if quick else 10_000_000)
    args.batch_rows = 100_000
    args.days = 7
    args.evaluate_repeats = 1 if quick else 3
    args.kill_after = 3.0 if quick else 5.0
    env = versions("numpy", "pandas", "pyarrow", "onnxruntime", "uvicorn", "featurekit")
    print(
        f"featurekit prediction log benchmark{' (--quick: indicative only)' if quick else ''}"
        f"; code: {run.code['git']}; " + ", ".join(f"{k} {v}" for k, v in env.items())
    )
    t_start = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="fk-bench-outcomes-") as tmpdir:
        tmp = Path(tmpdir)
        artifact = credit_artifact(tmp / "credit", 5000)
        print(
            "  1. in process, Predictor.predict_proba, log=DIR against none "
            "(CPU time of the caller and the writer)"
        )
        results["in_process"] = in_process(artifact, tmp, args)
        print(f"  2. HTTP, wrk at {CONCURRENCY} connections, --log DIR against none")
        results["http"] = http(artifact, tmp, args)
        print(f"  3. evaluate over {args.log_rows:,} logged rows, half labelled")
        results["evaluate"] = at_scale(artifact, tmp, args)
        print("  4. kill -9 under traffic")
        results["kill"] = durability(artifact, tmp, args)
    budgets = budgets_of(results)
    print_budgets(budgets)
    print(
        f"(total {time.perf_counter() - t_start:.0f} s; exit status is always 0: "
        "this is a measurement, not a test)"
    )
    if args.json:
        run.write(
            args.json,
            config={
                "quick": quick,
                "model": "RandomForestClassifier(n_estimators=60, max_depth=10), "
                "examples/credit_features.yaml (as examples/train.py)",
                "repeats": args.repeats,
                "rows_per_block": args.rows_per_block,
                "http_repeats": args.http_repeats,
                "http_duration_s": args.duration,
                "log_rows": args.log_rows,
                "evaluate_repeats": args.evaluate_repeats,
                "kill_after_s": args.kill_after,
            },
            budgets=budgets,
            results=results,
            versions=env,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
