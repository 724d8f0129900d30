"""Live drift monitoring overhead: Predictor with and without the monitor, same process.

Budget: updating the window counters adds at most 20 µs per row at batch size 1 and
2 µs per row at batch size 64. The model is the demo's: a LogisticRegression on
``examples/credit_features.yaml``, fitted on rows of ``examples/credit_data.py`` (both
read from their files). Three predictors load the same artifact: without monitoring,
counting only (a window too large to close during the run), and the default (windows
of 1,000 rows, each tested on the monitor's thread when it closes). The budget line
times the monitor's hot path itself (`Monitor.observe` on the very feeds and answers a
Predictor hands it), in process CPU time; paired Predictor timings with and without
monitoring (calls alternate in each repeat) and the cost of testing one closed window
are reported beside it.

Run: python bench/monitor.py [--quick] [--json [PATH]] (default PATH:
bench/results/monitor.json).
"""

from __future__ import annotations

import argparse
import runpy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, Run, add_json_option, budget, print_budgets, versions
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.monitoring.counts import Counts
from featurekit.monitoring.verdicts import evaluate
from serving import Predictor
from serving.monitor import Monitor

EXAMPLES = ROOT / "examples"
# the demo's data generator, run from its file: examples/ is not a package
make_credit = runpy.run_path(str(EXAMPLES / "credit_data.py"))["make_credit"]

BUDGET_US = {1: 20.0, 64: 2.0}  # budget: µs a row the monitor adds, per batch size


def _time(fn: Any, data: Any, calls: int) -> float:
    # CPU time of the whole process: it includes the monitor's evaluation thread, and
    # other programs on this shared machine do not inflate it the way they inflate
    # wall-clock time
    start = time.process_time()
    for _ in range(calls):
        fn(data)
    return (time.process_time() - start) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short run, indicative only"
    )
    add_json_option(parser, "monitor")
    parser.add_argument(
        "--repeats", type=int, help="paired repeats (default 9; quick 3)"
    )
    args = parser.parse_args(argv)
    run = Run("monitor")
    repeats = args.repeats or (3 if args.quick else 9)
    calls = {1: 300 if args.quick else 3000, 64: 40 if args.quick else 400}

    frame, y = make_credit(3000 if args.quick else 20000, seed=0)
    features = fk.FeatureSet.from_yaml((EXAMPLES / "credit_features.yaml").read_text())
    pipe = fk.make_pipeline(features, LogisticRegression(max_iter=500)).fit(frame, y)
    with tempfile.TemporaryDirectory() as tmp:
        fk.export(pipe, Path(tmp) / "a", reference=frame, save_pipeline=False)
        on = Predictor.load(Path(tmp) / "a")
        counting = Predictor.load(Path(tmp) / "a", monitor={"window": 10**12})
        off = Predictor.load(Path(tmp) / "a", monitor=False)
    assert on.monitor is not None and off.monitor is None
    rows = make_credit(2000, seed=1)[0]
    batches = {
        1: rows.iloc[0].to_dict(),
        64: rows.iloc[:64].reset_index(drop=True),
    }
    print(
        f"featurekit monitoring overhead{' (--quick: indicative only)' if args.quick else ''}: "
        f"{repeats} paired repeats; code: {run.code['git']}; "
        f"model: LogisticRegression on {len(features.features)} raw columns; window "
        f"{on.monitor.window} rows"
    )
    results: dict[str, Any] = {}
    budgets: list[dict[str, Any]] = []
    for size, data in batches.items():
        # the monitor's hot path on its own: exactly the call Predictor makes after
        # onnxruntime answers (buffering, then vectorised counting every 256 rows)
        feeds, _ = off._columns.coerce(data)
        answers = {"probabilities": off.predict_proba(data)}
        probe = Monitor(on.profile, window=10**12)
        direct = []
        for _ in range(repeats):
            start = time.process_time()
            for _ in range(calls[size] * 4):
                probe.observe(feeds, answers)
            direct.append(
                (time.process_time() - start) / (calls[size] * 4) / size * 1e6
            )
        for p in (on, counting, off):  # warm up
            _time(p.predict_proba, data, calls[size] // 5)
        per_row: dict[str, list[float]] = {"off": [], "counting": [], "default": []}
        for _ in range(repeats):
            per_row["off"].append(
                _time(off.predict_proba, data, calls[size]) / size * 1e6
            )
            per_row["counting"].append(
                _time(counting.predict_proba, data, calls[size]) / size * 1e6
            )
            per_row["default"].append(
                _time(on.predict_proba, data, calls[size]) / size * 1e6
            )
            on.monitor.flush()
        count = [
            c - o for c, o in zip(per_row["counting"], per_row["off"], strict=True)
        ]
        full = [c - o for c, o in zip(per_row["default"], per_row["off"], strict=True)]
        overhead = statistics.median(direct)
        line = budget(
            f"batch {size}: monitoring's hot path, µs a row",
            {
                "value": overhead,
                "p10": float(np.percentile(direct, 10)),
                "p90": float(np.percentile(direct, 90)),
            },
            "µs",
            at_most=BUDGET_US[size],
        )
        budgets.append(line)
        results[str(size)] = {
            "calls_per_repeat": calls[size],
            "monitor_observe_us_per_row": overhead,
            "monitor_observe_p10_p90": [
                float(np.percentile(direct, 10)),
                float(np.percentile(direct, 90)),
            ],
            "us_per_row": {k: statistics.median(v) for k, v in per_row.items()},
            "paired_counting_overhead_us_per_row": statistics.median(count),
            "paired_counting_overhead_p10_p90": [
                float(np.percentile(count, 10)),
                float(np.percentile(count, 90)),
            ],
            "paired_default_overhead_us_per_row": statistics.median(full),
            "budget_us_per_row": BUDGET_US[size],
            "pass": line["pass"],
        }
        r = results[str(size)]
        print(
            f"  batch {size:>2}: monitoring's hot path {overhead:5.2f} µs/row (p10-p90 "
            f"{r['monitor_observe_p10_p90'][0]:.2f}-{r['monitor_observe_p10_p90'][1]:.2f})"
            f" budget <= {BUDGET_US[size]:g}: {'PASS' if r['pass'] else 'MISS'}\n"
            f"            Predictor {r['us_per_row']['off']:.2f} µs/row without monitoring; "
            f"paired differences (noisy: the difference of two larger timings): counting "
            f"{r['paired_counting_overhead_us_per_row']:+.2f} µs/row (p10-p90 "
            f"{r['paired_counting_overhead_p10_p90'][0]:+.2f} to "
            f"{r['paired_counting_overhead_p10_p90'][1]:+.2f}), with windows tested every "
            f"{on.monitor.window} rows {r['paired_default_overhead_us_per_row']:+.2f} µs/row"
        )
    # the cost of testing one closed window, measured on its own
    window = on.monitor.last
    assert window is not None
    closed = Counts.empty(on.profile)
    feeds, _ = on._columns.coerce(rows.iloc[: on.monitor.window].reset_index(drop=True))
    closed.observe(
        feeds, on.score(rows.iloc[: on.monitor.window].reset_index(drop=True))
    )
    timings = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(20):
            evaluate(on.profile, closed)
        timings.append((time.process_time() - start) / 20 * 1e3)
    results["evaluate_ms_per_window"] = statistics.median(timings)
    print(
        f"  testing one closed window ({len(on.profile['features'])} features and "
        f"outputs): {results['evaluate_ms_per_window']:.2f} ms, i.e. "
        f"{results['evaluate_ms_per_window'] * 1e3 / on.monitor.window:.2f} µs per row "
        f"at {on.monitor.window} rows per window (context)"
    )
    print_budgets(budgets)
    print(
        f"windows closed during the run: {on.monitor.windows_closed} "
        "(exit status is always 0: this is a measurement, not a test)"
    )
    if args.json:
        run.write(
            args.json,
            config={
                "quick": args.quick,
                "repeats": repeats,
                "calls_per_repeat": {str(k): v for k, v in calls.items()},
                "train_rows": len(frame),
                "window": on.monitor.window,
                "model": "LogisticRegression(max_iter=500), examples/credit_features.yaml",
                "clock": "process CPU time",
            },
            budgets=[
                {**b, "case": "demo credit model, LogisticRegression"} for b in budgets
            ],
            results={
                **results,
                "features_and_outputs": len(on.profile["features"]),
                "windows_closed": on.monitor.windows_closed,
            },
            versions=versions("numpy", "pandas", "scikit-learn", "featurekit"),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
