"""Benchmark `serving.Predictor` against bare onnxruntime and scikit-learn, in one process.

Run it as ``.venv/bin/python bench/predict.py`` (or ``make bench``). It

1. generates a credit-style dataset with numpy (``bench/_credit.py``: 6 numeric, 4
   categorical raw columns, with missing values and a few unseen categories at scoring
   time),
2. fits ``fk.make_pipeline(features, model)``, exports it with ``fk.export`` into a
   temporary directory and loads it with ``serving.Predictor.load``,
3. times, interleaved and in the same process, medians over several repeats:

   - one row: ``Predictor.predict_proba(dict)`` vs a bare ``InferenceSession.run`` on
     prebuilt feeds (``predictor.session``, the same session object) vs scikit-learn
     ``pipe.predict_proba(one_row_frame)`` (and that plus ``pandera`` validation when
     pandera is importable);
   - a large batch (100k rows): ``Predictor.predict_proba(frame)`` vs bare
     ``InferenceSession.run`` on prebuilt feeds (same session) vs scikit-learn, plus,
     for context, featurekit's chunked ``Session.run`` on prebuilt feeds and a fresh
     onnxruntime session with default threading,

4. prints the ratios against the budgets: one row through ``Predictor`` <= 2x a bare
   run of featurekit's own graph; >= 50x faster than scikit-learn + pandera; at 100k
   rows >= 0.8x the throughput of the bare run.

It is a measurement, not a test: it prints PASS/MISS per budget and always exits 0
(unless the benchmark itself breaks). ``--quick`` makes a short run (a smoke test uses
it); ``--json [PATH]`` writes every number (default ``bench/results/predict.json``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
from _common import (
    Run,
    add_json_option,
    budget,
    json_record,
    measure,
    print_budgets,
    print_timings,
    ratio,
    round_samples,
    versions,
)
from _credit import feature_set, make_frame
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.missing import MISSING
from featurekit.runtime import Session
from serving import Predictor

BUDGET_1ROW_VS_BARE = 2.0  # budget: 1 row, Predictor <= 2x a bare session.run
BUDGET_1ROW_VS_SKLEARN = 50.0  # budget: Predictor >= 50x sklearn + pandera, 1 row
BUDGET_BATCH_VS_BARE = 0.8  # budget: 100k rows, >= 0.8x bare onnxruntime throughput

MODELS: dict[str, tuple[str, Callable[[], Any]]] = {
    "rf": (
        "RandomForestClassifier(n_estimators=100, max_depth=8)",
        lambda: RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0),
    ),
    "hgb": (
        "HistGradientBoostingClassifier(max_iter=100)",
        lambda: HistGradientBoostingClassifier(max_iter=100, random_state=0),
    ),
    "lr": (
        "LogisticRegression(max_iter=1000)",
        lambda: LogisticRegression(max_iter=1000),
    ),
}


def bare_feeds(session: Any, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The graph inputs for `frame`, built without featurekit's input reader."""
    feeds: dict[str, np.ndarray] = {}
    for inp in session.get_inputs():
        col = frame[inp.name]
        if inp.type == "tensor(string)":
            arr = col.to_numpy(dtype=object, na_value=None)
            arr = np.where(pd.isna(arr), MISSING, arr).astype(object)
        elif inp.type == "tensor(int64)":
            arr = col.to_numpy(dtype=np.int64)
        else:
            arr = col.to_numpy(dtype=np.float64, na_value=np.nan)
        feeds[inp.name] = np.ascontiguousarray(arr.reshape(-1, 1))
    return feeds


def pandera_schema(predictor: Predictor) -> Any:
    """The contract, written as the pandera schema a sklearn service would validate with."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pandera.pandas as pa
        except ImportError:
            import pandera as pa
    columns = {}
    for f in predictor.features.features:
        if isinstance(f, fk.Numeric):
            checks = []
            if f.bounds is not None:
                lo, hi = f.bounds
                if lo is not None and hi is not None:
                    checks.append(pa.Check.in_range(lo, hi))
                elif lo is not None:
                    checks.append(pa.Check.ge(lo))
                else:
                    checks.append(pa.Check.le(hi))
            dtype = (
                "int64"
                if predictor.manifest["inputs"][f.name]["type"] == "int64"
                else float
            )
            columns[f.name] = pa.Column(
                dtype, checks=checks, nullable=f.accepts_missing
            )
        else:
            spec = predictor.manifest["inputs"][f.name]
            checks = [pa.Check.isin(spec["categories"])] if "categories" in spec else []
            columns[f.name] = pa.Column(str, checks=checks, nullable=f.accepts_missing)
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


# -- one model -----------------------------------------------------------------------
SINGLE_LABELS = {
    "predictor": "Predictor.predict_proba(dict)",
    "bare": "bare session.run (same session, prebuilt feeds)",
    "predictor_missing": "Predictor.predict_proba(dict with a None)",
    "bare_missing": "bare session.run, same row (prebuilt feeds)",
    "sklearn": "sklearn pipe.predict_proba(1-row frame)",
    "sklearn_pandera": "sklearn + pandera validate (1-row frame)",
}
BATCH_LABELS = {
    "predictor": "Predictor.predict_proba(DataFrame)",
    "bare": "bare session.run (same session, 1 thread)",
    "fk_session": "featurekit Session.run, prebuilt feeds (chunked)",
    "bare_default": "fresh ort session, default threads, prebuilt",
    "sklearn": "sklearn pipe.predict_proba(DataFrame)",
}


def bench_model(key: str, args: argparse.Namespace, pandera_ok: bool) -> dict[str, Any]:
    desc, make = MODELS[key]
    features = feature_set()
    train, y = make_frame(args.train_rows, seed=1)
    batch, _ = make_frame(args.rows, seed=2, unseen_rate=0.001)

    t0 = time.perf_counter()
    pipe = fk.make_pipeline(features, make())
    pipe.fit(train, y)
    fit_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="fk-bench-") as tmp:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fk.export(pipe, tmp, reference=train)
        export_s = time.perf_counter() - t0
        predictor = Predictor.load(tmp)
        model_bytes = (Path(tmp) / "model.onnx").read_bytes()
    session = predictor.session
    pool_threads = getattr(getattr(predictor, "_session", None), "threads", None)
    print(
        f"\n== {key}: {desc}   (fit {fit_s:.1f} s on {len(train):,} rows, "
        f"export {export_s:.1f} s, featurekit pool threads={pool_threads})"
    )

    # -- single row ------------------------------------------------------------------
    complete = batch.notna().all(axis=1).to_numpy().nonzero()[0]
    i = int(complete[0])
    record = json_record(batch, i)
    one_row = batch.iloc[[i]].copy()
    feeds1 = bare_feeds(session, one_row)
    outs = ["probabilities"]
    # a request with a missing value (about 15% of rows have one): for context only
    j = int(batch["income"].isna().to_numpy().nonzero()[0][0])
    record_missing = json_record(batch, j)
    feeds1_missing = bare_feeds(session, batch.iloc[[j]])

    ref = predictor.predict_proba(record)
    bare_out = session.run(outs, feeds1)[0]
    sk_out = pipe.predict_proba(one_row)
    if not np.array_equal(ref, bare_out):
        print(
            "  WARNING: bare session.run output differs from Predictor's on the single row"
        )
    if not np.allclose(ref, sk_out, atol=1e-5):
        print("  WARNING: sklearn output differs from Predictor's on the single row")
    if not np.array_equal(
        predictor.predict_proba(record_missing), session.run(outs, feeds1_missing)[0]
    ):
        print(
            "  WARNING: bare session.run output differs from Predictor's on the row with a None"
        )

    single: dict[str, Callable[[], Any]] = {
        "predictor": lambda: predictor.predict_proba(record),
        "bare": lambda: session.run(outs, feeds1),
        "sklearn": lambda: pipe.predict_proba(one_row),
        "predictor_missing": lambda: predictor.predict_proba(record_missing),
        "bare_missing": lambda: session.run(outs, feeds1_missing),
    }
    if pandera_ok:
        schema = pandera_schema(predictor)
        schema.validate(one_row, lazy=True)  # must accept the row
        single["sklearn_pandera"] = lambda: pipe.predict_proba(
            schema.validate(one_row, lazy=True)
        )
    single_res = measure(
        single, repeats=args.repeats, block_s=args.block_s, warmup_s=args.warmup_s
    )
    print_timings("single row", single_res, SINGLE_LABELS, None)

    # -- batch -----------------------------------------------------------------------
    feeds_n = bare_feeds(session, batch)
    default_sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    fk_session = Session(model_bytes)
    n = len(batch)

    ref_n = predictor.predict_proba(batch)
    if not np.array_equal(ref_n, session.run(outs, feeds_n)[0]):
        print(
            "  WARNING: bare session.run output differs from Predictor's on the batch"
        )
    batch_vars: dict[str, Callable[[], Any]] = {
        "predictor": lambda: predictor.predict_proba(batch),
        "bare": lambda: session.run(outs, feeds_n),
        "fk_session": lambda: fk_session.run(feeds_n, n, outs),
        "bare_default": lambda: default_sess.run(outs, feeds_n),
        "sklearn": lambda: pipe.predict_proba(batch),
    }
    batch_res = measure(
        batch_vars,
        repeats=args.repeats,
        block_s=args.batch_block_s,
        warmup_s=args.batch_warmup_s,
    )
    print_timings(f"{n:,} rows", batch_res, BATCH_LABELS, n)

    # -- ratios vs budgets -----------------------------------------------------------
    sk_key = "sklearn_pandera" if pandera_ok else "sklearn"
    r_bare = ratio(single_res, "predictor", "bare")
    r_sk = ratio(single_res, sk_key, "predictor")
    # throughput ratio = time(bare) / time(predictor)
    r_batch = ratio(batch_res, "bare", "predictor")
    assert r_bare and r_sk and r_batch
    budgets = [
        budget(
            "1 row: Predictor / bare session.run",
            r_bare,
            "x",
            at_most=BUDGET_1ROW_VS_BARE,
        ),
        budget(
            "1 row: sklearn+pandera / Predictor"
            if pandera_ok
            else "1 row: sklearn (no pandera) / Predictor",
            r_sk,
            "x",
            at_least=BUDGET_1ROW_VS_SKLEARN,
        ),
        budget(
            f"{n // 1000}k rows: Predictor / bare session.run throughput",
            r_batch,
            "x",
            at_least=BUDGET_BATCH_VS_BARE,
        ),
    ]
    context = {
        "1 row: sklearn / Predictor": ratio(single_res, "sklearn", "predictor"),
        "1 row with a None: Predictor / bare session.run": ratio(
            single_res, "predictor_missing", "bare_missing"
        ),
        f"{n // 1000}k rows: Predictor / featurekit Session.run throughput": ratio(
            batch_res, "fk_session", "predictor"
        ),
        f"{n // 1000}k rows: Predictor / default-threaded ort throughput": ratio(
            batch_res, "bare_default", "predictor"
        ),
        f"{n // 1000}k rows: Predictor / sklearn throughput": ratio(
            batch_res, "sklearn", "predictor"
        ),
    }
    overhead_us = (
        single_res["predictor"]["ns_per_call"]["median"]
        - single_res["bare"]["ns_per_call"]["median"]
    ) / 1e3

    print_budgets(budgets, {k: v for k, v in context.items() if v is not None})
    print(
        f"    {'1 row: Predictor - bare (overhead, µs)':<58}{overhead_us:>10.1f}  (context)"
    )
    if not pandera_ok:
        print(
            "    note: pandera is not importable; the sklearn+pandera column is skipped and "
            "the budget is checked against sklearn alone (stricter)."
        )

    round_samples(single_res, batch_res)
    return {
        "model": desc,
        "train_rows": len(train),
        "batch_rows": n,
        "fit_s": fit_s,
        "export_s": export_s,
        "featurekit_pool_threads": pool_threads,
        "single_row": single_res,
        "batch": batch_res,
        "budgets": budgets,
        "context": {k: v for k, v in context.items() if v is not None},
        "single_row_overhead_us": overhead_us,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short run (~10 s), indicative only"
    )
    add_json_option(parser, "predict")
    parser.add_argument(
        "--models",
        help="comma-separated subset of rf,hgb,lr (default: all; --quick: rf)",
    )
    parser.add_argument(
        "--repeats", type=int, help="timed repeats per variant (default 7; quick 3)"
    )
    parser.add_argument(
        "--rows", type=int, help="batch size (default 100000; quick 20000)"
    )
    args = parser.parse_args(argv)
    run = Run("predict")

    quick = args.quick
    args.models = (args.models or ("rf" if quick else "rf,hgb,lr")).split(",")
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    args.repeats = args.repeats or (3 if quick else 7)
    args.rows = args.rows or (20_000 if quick else 100_000)
    args.train_rows = 2_000 if quick else 20_000
    args.block_s = 0.03 if quick else 0.3  # per repeat per single-row variant
    args.warmup_s = 0.05 if quick else 0.5
    args.batch_block_s = (
        0.0 if quick else 0.5
    )  # 1 call per repeat unless faster than this
    args.batch_warmup_s = 0.0 if quick else 0.5

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                import pandera.pandas
            except ImportError:
                import pandera  # noqa: F401
        pandera_ok = True
    except ImportError:
        pandera_ok = False

    env = versions(
        "numpy", "pandas", "scikit-learn", "onnxruntime", "pandera", "featurekit"
    )
    print(
        f"featurekit predict benchmark{' (--quick: indicative only)' if quick else ''}: "
        f"{args.repeats} repeats, interleaved; per call: median, p10, p90 over repeats; "
        f"ratios: median and p10-p90 of the per-repeat paired ratios\n"
        + ", ".join(f"{k} {v}" for k, v in env.items())
        + f"; code: {run.code['git']}"
    )

    t0 = time.perf_counter()
    results = {key: bench_model(key, args, pandera_ok) for key in args.models}
    print(
        f"\n(total {time.perf_counter() - t0:.0f} s; exit status is always 0: "
        "this is a measurement, not a test)"
    )

    if args.json:
        run.write(
            args.json,
            config={
                "quick": quick,
                "repeats": args.repeats,
                "rows": args.rows,
                "train_rows": args.train_rows,
                "models": args.models,
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
