"""Live drift monitoring overhead: Predictor with and without the monitor, same process.

Budget (DESIGN.md): monitoring adds at most 20 µs per row at batch size 1 and 2 µs per
row at batch size 64. Both predictors load the same artifact; calls alternate between
them in each repeat, and the overhead is the median over repeats of the paired
difference per row. Window closes (drift evaluated every 1,000 rows) are included,
amortised over the rows of their window, as in production.

Run: python bench/monitor.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from credit_data import make_credit

import featurekit as fk
from serving import Predictor

BUDGET_US = {1: 20.0, 64: 2.0}


def _time(fn: Any, data: Any, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn(data)
    return (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short run, indicative only"
    )
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH")
    parser.add_argument(
        "--repeats", type=int, help="paired repeats (default 9; quick 3)"
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 9)
    calls = {1: 300 if args.quick else 3000, 64: 40 if args.quick else 400}

    frame, y = make_credit(3000 if args.quick else 20000, seed=0)
    features = fk.FeatureSet.from_yaml(
        (
            Path(__file__).resolve().parents[1] / "examples" / "credit_features.yaml"
        ).read_text()
    )
    pipe = fk.make_pipeline(features, LogisticRegression(max_iter=500)).fit(frame, y)
    with tempfile.TemporaryDirectory() as tmp:
        fk.export(pipe, Path(tmp) / "a", reference=frame, save_pipeline=False)
        on = Predictor.load(Path(tmp) / "a")
        off = Predictor.load(Path(tmp) / "a", monitor=False)
    assert on.monitor is not None and off.monitor is None
    rows = make_credit(2000, seed=1)[0]
    batches = {
        1: rows.iloc[0].to_dict(),
        64: rows.iloc[:64].reset_index(drop=True),
    }
    print(
        f"featurekit monitoring overhead{' (--quick: indicative only)' if args.quick else ''}: "
        f"{repeats} paired repeats; python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"model: LogisticRegression on {len(features.features)} raw columns; window "
        f"{on.monitor.window} rows"
    )
    results: dict[str, Any] = {}
    for size, data in batches.items():
        for p in (on, off):  # warm up
            _time(p.predict_proba, data, calls[size] // 5)
        per_row_on, per_row_off, diffs = [], [], []
        for _ in range(repeats):
            t_off = _time(off.predict_proba, data, calls[size])
            t_on = _time(on.predict_proba, data, calls[size])
            per_row_on.append(t_on / size * 1e6)
            per_row_off.append(t_off / size * 1e6)
            diffs.append((t_on - t_off) / size * 1e6)
        overhead = statistics.median(diffs)
        results[str(size)] = {
            "calls_per_repeat": calls[size],
            "us_per_row_with_monitor": statistics.median(per_row_on),
            "us_per_row_without": statistics.median(per_row_off),
            "overhead_us_per_row": overhead,
            "overhead_p10_p90": [
                float(np.percentile(diffs, 10)),
                float(np.percentile(diffs, 90)),
            ],
            "budget_us_per_row": BUDGET_US[size],
            "pass": overhead <= BUDGET_US[size],
        }
        r = results[str(size)]
        print(
            f"  batch {size:>2}: {r['us_per_row_without']:7.2f} µs/row without, "
            f"{r['us_per_row_with_monitor']:7.2f} with -> overhead {overhead:6.2f} µs/row "
            f"(p10-p90 {r['overhead_p10_p90'][0]:.2f}-{r['overhead_p10_p90'][1]:.2f}) "
            f"budget <= {BUDGET_US[size]:g}: {'PASS' if r['pass'] else 'MISS'}"
        )
    print(
        f"windows closed during the run: {on.monitor.windows_closed} "
        "(exit status is always 0: this is a measurement, not a test)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
