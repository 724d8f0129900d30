"""Part 3 of ``bench/outcomes.py``: a prediction log of 10M rows, half labelled, evaluated.

The rows go through the real `LogWriter` (backdated appends of scored rows) and the
labels through `featurekit.outcomes.labels.write_labels`, so the files have the log's
own schema; then `evaluate`, `PredictionLog.frame` and `PredictionLog.add_labels` are
timed. Also home of the demo's data generator for the bench (``make_credit``).
"""

from __future__ import annotations

import argparse
import runpy
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, spread
from predict import bare_feeds

from featurekit.outcomes.evaluation import evaluate
from featurekit.outcomes.labels import write_labels
from featurekit.outcomes.reading import PredictionLog
from serving import Predictor

EXAMPLES = ROOT / "examples"
# the demo's data generator, run from its file: examples/ is not a package
make_credit = runpy.run_path(str(EXAMPLES / "credit_data.py"))["make_credit"]

DAY_NS = 86_400 * 10**9
EVALUATE_CAP_S = 60.0  # no further evaluate runs once they took this long


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
