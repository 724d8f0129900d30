"""The prediction log's costs (issue 13): in process, over HTTP, evaluating 10M rows, kill -9.

Run it as ``.venv/bin/python bench/outcomes.py`` (``wrk`` is needed for part 2:
``apt-get install wrk``). The model is the demo's credit model, trained and exported as
``examples/train.py`` does (a RandomForest on ``examples/credit_features.yaml``, with its
holdout figures). In one run it measures

1. in process, `serving.Predictor.predict_proba` with ``log=DIR`` against the same
   artifact without a log, both with the contract and drift monitoring on, at batch
   sizes 1, 64 and 1,000: calls alternate between the two predictors in every repeat,
   timed in process CPU time (it counts the log's background writer thread, which a
   wall clock on this shared machine would hide or blur); each block of logged calls
   ends with a synchronous flush, so every row's write is charged to the log. The
   figure is the extra CPU a row, the median of the per-repeat differences;
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
import runpy
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
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
from http_server import lua_script as wrk_script
from http_server import post, run_wrk, start, wrk_version
from predict import bare_feeds
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import featurekit as fk
from featurekit.outcomes.evaluation import evaluate
from featurekit.outcomes.labels import write_labels
from featurekit.outcomes.reading import PredictionLog
from serving import Predictor

EXAMPLES = ROOT / "examples"
# the demo's data generator, run from its file: examples/ is not a package
make_credit = runpy.run_path(str(EXAMPLES / "credit_data.py"))["make_credit"]

BUDGET_US_PER_ROW = 5.0  # budget: the log adds <= 5 µs a row in process, batch 1
BUDGET_HTTP_RATIO = 0.9  # budget: throughput with --log >= 0.9x without, c=8
BUDGET_EVALUATE_S = 10.0  # budget: evaluate over 10M rows, half labelled, <= 10 s
CONCURRENCY = 8
FLUSH_S = 1.0  # the server's flush interval (LogWriter's default)
DAY_NS = 86_400 * 10**9
EVALUATE_CAP_S = 60.0  # no further evaluate runs once they took this long


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
    assert on.log is not None and off.monitor is not None and on.monitor is not None
    rows = make_credit(2000, seed=1)[0]
    out: dict[str, Any] = {}
    for size in (1, 64, 1000):
        data: Any = (
            json_record(rows, 0)
            if size == 1
            else rows.iloc[:size].reset_index(drop=True)
        )
        calls = max(1, args.rows_per_block // size)
        for p in (off, on):  # warm up
            for _ in range(max(1, calls // 5)):
                p.predict_proba(data)
        on.log.flush()
        cpu: dict[str, list[float]] = {"off": [], "on": [], "on_request": []}
        wall: dict[str, list[float]] = {"off": [], "on": []}
        for r in range(args.repeats):
            for name in ("off", "on") if r % 2 == 0 else ("on", "off"):
                p = on if name == "on" else off
                c0, w0 = time.process_time(), time.perf_counter()
                for _ in range(calls):
                    p.predict_proba(data)
                c1 = time.process_time()
                if name == "on":
                    on.log.flush()  # the rows' write is charged to the log
                    cpu["on_request"].append((c1 - c0) / calls / size * 1e6)
                cpu[name].append((time.process_time() - c0) / calls / size * 1e6)
                wall[name].append((time.perf_counter() - w0) / calls / size * 1e6)
        extra = [a - b for a, b in zip(cpu["on"], cpu["off"], strict=True)]
        request = [a - b for a, b in zip(cpu["on_request"], cpu["off"], strict=True)]
        wall_extra = [a - b for a, b in zip(wall["on"], wall["off"], strict=True)]
        out[str(size)] = {
            "calls_per_block": calls,
            "cpu_us_per_row": {k: spread(v) for k, v in cpu.items()},
            "extra_us_per_row": spread(extra),
            "extra_request_path_us_per_row": spread(request),
            "extra_wall_us_per_row": spread(wall_extra),
            "ratio_cpu": paired(cpu["on"], cpu["off"]),
            "samples": {
                **{f"cpu_{k}": [round(x, 3) for x in v] for k, v in cpu.items()},
                **{f"wall_{k}": [round(x, 3) for x in v] for k, v in wall.items()},
            },
        }
        e = out[str(size)]
        print(
            f"    batch {size:>5}: {e['cpu_us_per_row']['off']['median']:7.2f} µs a row "
            f"without the log, +{e['extra_us_per_row']['median']:.2f} µs with it "
            f"(request path +{e['extra_request_path_us_per_row']['median']:.2f} µs, "
            f"wall clock +{e['extra_wall_us_per_row']['median']:.2f} µs)"
        )
    on.close()
    out["log_stats"] = dict(on.log.stats)
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


# -- 3. evaluate at scale ------------------------------------------------------------
def at_scale(artifact: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """A log of `args.log_rows` rows over a week, half labelled; evaluate it."""
    directory = tmp / "big-log"
    scorer = Predictor.load(artifact, monitor=False)
    big = {"flush_seconds": 3600, "flush_rows": 10**9, "max_buffered_rows": 10**9}
    writer = Predictor.load(artifact, monitor=False, log=directory, log_options=big)
    log = writer.log
    assert log is not None
    batch = min(args.batch_rows, args.log_rows)
    pool, y = make_credit(batch, seed=11)
    feeds = bare_feeds(scorer.session, pool)
    scored = scorer.score(pool, outputs=scorer.outputs)
    assert isinstance(scored, dict)
    truth = [str(v) for v in np.asarray(y)[::2]]  # every other row gets its label
    batches = args.log_rows // batch
    first_day = time.time_ns() // DAY_NS - args.days
    step = args.days * DAY_NS // batches
    t0 = time.perf_counter()
    for b in range(batches):
        # one backdated append of `batch` rows: ids b<batch>-<row>, by the writer
        log.append(
            feeds, scored, request_id=f"b{b:05d}", at_ns=first_day * DAY_NS + b * step
        )
        if (b + 1) % 10 == 0 or b == batches - 1:
            log.flush()
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for lo in range(0, batches, 10):
        ids = [
            f"b{b:05d}-{j}"
            for b in range(lo, min(lo + 10, batches))
            for j in range(0, batch, 2)
        ]
        write_labels(directory, (ids, truth * (len(ids) // len(truth)), None))
    labels_s = time.perf_counter() - t0
    writer.close()
    files = list((directory / "predictions").glob("date=*/hour=*/part-*.parquet"))
    size = sum(f.stat().st_size for f in directory.rglob("*.parquet"))
    print(
        f"    wrote {batches * batch:,} rows in {write_s:.1f} s through LogWriter "
        f"({len(files)} files, {size / 2**20:.0f} MiB with the labels), "
        f"{batches * batch // 2:,} labels in {labels_s:.1f} s"
    )
    times, cpu, report = [], [], None
    for _ in range(args.evaluate_repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        report = evaluate(artifact, directory, window="1d")
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)  # every thread's; Arrow reads in parallel
        if sum(times) > EVALUATE_CAP_S:  # far over budget: one run tells enough
            break
    assert report is not None
    print(
        f"    evaluate(window='1d'): {np.median(times):.1f} s (median of {len(times)}; "
        f"{', '.join(f'{t:.1f}' for t in times)}; CPU {np.median(cpu):.1f} s); "
        f"verdict {report.verdict!r}, "
        f"{report.served:,} served, {report.labelled:,} labelled, "
        f"{len(report.windows)} windows"
    )
    day = np.datetime64(((first_day + args.days - 1) * DAY_NS), "ns")
    t0 = time.perf_counter()
    frame = PredictionLog(directory).frame(
        labelled=True, since=str(day), until=str(day + np.timedelta64(1, "D"))
    )
    frame_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    added = PredictionLog(directory).add_labels(
        [f"b{batches - 1:05d}-{j}" for j in range(1, 2001, 2)], truth[:1000]
    )
    add_s = time.perf_counter() - t0
    print(
        f"    PredictionLog.frame(labelled, one day): {len(frame):,} rows in "
        f"{frame_s:.1f} s; add_labels(1,000): {add_s:.1f} s "
        f"({added['accepted']} accepted, {len(added['unknown_ids'])} unknown)"
    )
    return {
        "rows": batches * batch,
        "labelled": batches * batch // 2,
        "days": args.days,
        "appends": batches,
        "rows_per_append": batch,
        "files": len(files),
        "mib": round(size / 2**20, 1),
        "write_s": write_s,
        "write_rows_per_s": batches * batch / write_s,
        "labels_write_s": labels_s,
        "evaluate_s": spread(times),
        "evaluate_samples_s": times,
        "evaluate_cpu_s": spread(cpu),
        "verdict": report.verdict,
        "served": report.served,
        "labelled_seen": report.labelled,
        "windows": len(report.windows),
        "frame_one_day_rows": len(frame),
        "frame_one_day_s": frame_s,
        "add_labels_1000_s": add_s,
        "add_labels_unknown": len(added["unknown_ids"]),
    }


# -- 4. kill -9 ----------------------------------------------------------------------
def durability(artifact: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """SIGKILL a logging server under traffic; what is in the log afterwards."""
    import http.client

    import pyarrow.parquet as pq

    directory = tmp / "kill-log"
    cmd = [sys.executable, "-m", "serving", str(artifact), "--host", "127.0.0.1"]
    cmd += ["--port", "{port}", "--log-level", "warning", "--log", str(directory)]
    server = start("kill", cmd, "/v2/health/ready", tmp)
    record = json_record(make_credit(10, seed=4)[0], 0)
    answered: list[tuple[float, str]] = []  # (monotonic time of the answer, id)
    stop = threading.Event()

    def client(t: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        k = 0
        while not stop.is_set():
            rid = f"c{t}-{k}"
            k += 1
            body = json.dumps({"records": [record], "ids": [rid]})
            try:
                conn.request(
                    "POST", "/predict", body, {"Content-Type": "application/json"}
                )
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                return  # the server is gone
            if resp.status == 200 and json.loads(payload).get("ids") == [rid]:
                answered.append((time.monotonic(), rid))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    time.sleep(args.kill_after)
    killed_at = time.monotonic()
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)
    stop.set()
    for th in threads:
        th.join(timeout=30)
    present: list[str] = []
    unreadable: list[str] = []
    pids = set()
    files = sorted((directory / "predictions").glob("date=*/hour=*/part-*.parquet"))
    for f in files:
        pids.add(f.name.split("-")[2])
        try:
            present += pq.read_table(f, columns=["row_id"])["row_id"].to_pylist()
        except Exception as exc:  # anything unreadable is the finding
            unreadable.append(f"{f.name}: {type(exc).__name__}")
    hidden = [str(p.name) for p in (directory / "predictions").rglob(".*")]
    have = set(present)
    old = [(t, i) for t, i in answered if t < killed_at - FLUSH_S]
    recent = [(t, i) for t, i in answered if t >= killed_at - FLUSH_S]
    missing_old = [(t, i) for t, i in old if i not in have]
    missing_recent = [(t, i) for t, i in recent if i not in have]
    out = {
        "flush_s": FLUSH_S,
        "kill_after_s": args.kill_after,
        "answered": len(answered),
        "answered_before_flush_interval": len(old),
        "present_of_those": len(old) - len(missing_old),
        "missing_of_those": len(missing_old),
        "answered_in_last_interval": len(recent),
        "missing_of_last_interval": len(missing_recent),
        "oldest_missing_age_s": (
            killed_at - min(t for t, _ in missing_old + missing_recent)
            if missing_old or missing_recent
            else None
        ),
        "rows_in_log": len(present),
        "duplicate_rows": len(present) - len(have),
        "files": len(files),
        "unreadable_files": unreadable,
        "hidden_temporary_files": hidden,
        "writer_pid_is_server": pids == {str(server.proc.pid)},
        "not_answered_but_logged": len(have - {i for _, i in answered}),
    }
    print(
        f"    {len(answered):,} answered in {args.kill_after:g} s, then SIGKILL: "
        f"{out['present_of_those']:,} of the {len(old):,} answered over {FLUSH_S:g} s "
        f"before the kill are in the log ({len(missing_old)} missing), "
        f"{len(recent) - len(missing_recent):,} of the {len(recent):,} of the last "
        f"second; {len(files)} files, {len(unreadable)} unreadable, "
        f"{len(hidden)} temporary left"
    )
    return out


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
        "--repeats", type=int, help="in-process repeats (default 9; quick 3)"
    )
    parser.add_argument(
        "--log-rows",
        type=int,
        help="rows of the evaluated log (default 10M; quick 200,000)",
    )
    args = parser.parse_args(argv)
    run = Run("outcomes")
    quick = args.quick
    args.repeats = args.repeats or (3 if quick else 9)
    args.rows_per_block = 500 if quick else 3000
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
            "  1. in process, Predictor.predict_proba, log=DIR against none (CPU time)"
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
