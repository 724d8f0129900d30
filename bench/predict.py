"""Benchmark `serving.Predictor` against bare onnxruntime and scikit-learn, in one process.

Run it as ``.venv/bin/python bench/predict.py`` (or ``make bench``). It

1. generates a credit-style dataset with numpy (6 numeric, 4 categorical raw columns,
   with missing values and a few unseen categories at scoring time),
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

4. prints the ratios against the budgets of DESIGN.md ("Performance budgets").

It is a measurement, not a test: it prints PASS/MISS per budget and always exits 0
(unless the benchmark itself breaks). ``--quick`` makes a short run (a smoke test uses
it); ``--json PATH`` writes every number.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import onnxruntime as ort  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression  # noqa: E402

import featurekit as fk  # noqa: E402
from featurekit.missing import MISSING  # noqa: E402
from featurekit.runtime import Session  # noqa: E402
from serving import Predictor  # noqa: E402

# Budgets from DESIGN.md, "Performance budgets".
BUDGET_1ROW_VS_BARE = 2.0  # Predictor <= 2x bare InferenceSession.run
BUDGET_1ROW_VS_SKLEARN = 50.0  # Predictor >= 50x faster than sklearn (+ pandera)
BUDGET_BATCH_VS_BARE = 0.8  # Predictor throughput >= 0.8x bare onnxruntime

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


# -- data ----------------------------------------------------------------------------
def feature_set() -> fk.FeatureSet:
    return fk.FeatureSet(
        "credit_bench",
        [
            fk.Numeric("age", dtype="int", bounds=(18, 100), scale="standard"),
            fk.Numeric(
                "income", impute="median", clip=(0, None), log1p=True, scale="standard"
            ),
            fk.Numeric("debt_ratio", impute="mean", clip=(0, 2), scale="minmax"),
            fk.Numeric(
                "n_accounts",
                dtype="int",
                impute=0,
                clip=(0, 40),
                log1p=True,
                bounds=(0, None),
            ),
            fk.Numeric(
                "months_employed", impute="median", clip=(0, 600), scale="robust"
            ),
            fk.Numeric("utilization", impute="mean", clip=(0, 1.5), scale="standard"),
            fk.Categorical("country", impute="most_frequent", unknown="error"),
            fk.Categorical(
                "channel", impute="missing", unknown="other", min_frequency=0.01
            ),
            fk.Categorical("product", unknown="ignore"),
            fk.Categorical(
                "housing", impute="missing", unknown="ignore", encode="ordinal"
            ),
        ],
    )


def _with_missing(
    values: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    out = (
        values.astype(object)
        if values.dtype.kind in "OU"
        else values.astype(np.float64)
    )
    mask = rng.random(len(out)) < rate
    out[mask] = None if out.dtype == object else np.nan
    return out


def make_frame(
    n: int, seed: int, *, unseen_rate: float = 0.0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Credit applications and a default label that depends on them."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    income = rng.lognormal(10.3 + 0.012 * np.clip(age - 25, 0, 30), 0.55, n)
    debt_ratio = rng.beta(2.0, 5.0, n) * 1.3
    n_accounts = rng.poisson(1.0 + age / 18.0)
    months_employed = np.minimum(rng.exponential(70.0, n), (age - 16) * 12.0)
    utilization = np.clip(rng.beta(1.6, 3.0, n) * 1.4, 0.0, 1.5)
    country = rng.choice(
        ["DE", "FR", "NL", "ES", "IT", "BE", "AT"],
        n,
        p=[0.3, 0.22, 0.14, 0.12, 0.12, 0.06, 0.04],
    )
    channel = rng.choice(
        ["web", "app", "branch", "broker", "phone"], n, p=[0.42, 0.33, 0.15, 0.07, 0.03]
    )
    product = rng.choice(
        ["card", "personal_loan", "auto_loan", "mortgage"], n, p=[0.45, 0.3, 0.15, 0.1]
    )
    housing = rng.choice(
        ["rent", "own", "mortgage", "family"], n, p=[0.4, 0.25, 0.28, 0.07]
    )
    if unseen_rate:
        channel = np.where(rng.random(n) < unseen_rate, "partner_api", channel)
        product = np.where(rng.random(n) < unseen_rate, "bnpl", product)

    logit = (
        -1.3
        + 2.8 * (debt_ratio - 0.37)
        + 2.1 * (utilization - 0.5)
        - 0.7 * (np.log1p(income) - 10.6)
        - 0.015 * (age - 45)
        - 0.004 * (months_employed - 60)
        + 0.08 * (n_accounts - 3)
        + np.select([channel == "broker", channel == "app"], [0.5, -0.2], 0.0)
        + np.select([product == "card", product == "mortgage"], [0.35, -0.4], 0.0)
        + np.where(housing == "rent", 0.25, 0.0)
        + rng.normal(0.0, 0.6, n)
    )
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    frame = pd.DataFrame(
        {
            "age": age.astype(np.int64),
            "income": _with_missing(income, 0.04, rng),
            "debt_ratio": _with_missing(debt_ratio, 0.02, rng),
            "n_accounts": _with_missing(n_accounts, 0.01, rng),
            "months_employed": _with_missing(months_employed, 0.03, rng),
            "utilization": _with_missing(utilization, 0.02, rng),
            "country": _with_missing(country, 0.01, rng),
            "channel": _with_missing(channel, 0.03, rng),
            "product": product,
            "housing": _with_missing(housing, 0.05, rng),
        }
    )
    for col in ("country", "channel", "product", "housing"):
        frame[col] = frame[col].astype("str")  # pandas' string dtype, missing as NaN
    return frame, y


def json_record(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    """Row `i` as a request body would arrive: plain Python scalars, None for missing."""
    rec: dict[str, Any] = {}
    for col, v in frame.iloc[i].items():
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            v = None
        rec[str(col)] = v
    return rec


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


# -- timing --------------------------------------------------------------------------
def _block(fn: Callable[[], Any], number: int) -> float:
    """Nanoseconds per call over `number` back-to-back calls, GC paused (as timeit)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        for _ in range(number):
            fn()
        t1 = time.perf_counter_ns()
    finally:
        if was_enabled:
            gc.enable()
    return (t1 - t0) / number


def _pct(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(a)),
        "p10": float(np.percentile(a, 10)),
        "p90": float(np.percentile(a, 90)),
    }


def measure(
    variants: dict[str, Callable[[], Any]],
    *,
    repeats: int,
    block_s: float,
    warmup_s: float,
) -> dict[str, dict[str, Any]]:
    """Time every variant `repeats` times, interleaved so drift hits them all alike.

    The set-up objects (models, frames, feeds) are moved out of the collector's reach
    with `gc.freeze`, and collection is paused inside each timed block, as in timeit.
    """
    gc.collect()
    gc.freeze()
    numbers: dict[str, int] = {}
    for name, fn in variants.items():
        t0 = time.perf_counter_ns()
        fn()  # first call: lazy imports, pools, caches
        per_call = time.perf_counter_ns() - t0
        if warmup_s > 0:
            deadline = time.perf_counter() + warmup_s
            calls, t0 = 0, time.perf_counter_ns()
            while time.perf_counter() < deadline or calls == 0:
                fn()
                calls += 1
            per_call = (time.perf_counter_ns() - t0) / calls
        numbers[name] = max(1, math.ceil(block_s * 1e9 / per_call))
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate the order
        for name in order:
            samples[name].append(_block(variants[name], numbers[name]))
    gc.unfreeze()
    return {
        name: {
            "ns_per_call": _pct(s),
            "samples_ns": s,
            "calls_per_repeat": numbers[name],
        }
        for name, s in samples.items()
    }


def ratio(results: dict[str, Any], num: str, den: str) -> dict[str, float] | None:
    """num/den per repeat (the two blocks ran back to back), median and p10-p90 spread.

    Pairing the blocks of one repeat cancels most of the drift of a shared machine;
    the ratio of the two medians is kept too, for reference.
    """
    if num not in results or den not in results:
        return None
    a = np.asarray(results[num]["samples_ns"])
    b = np.asarray(results[den]["samples_ns"])
    paired = a / b
    return {
        "value": float(np.median(paired)),
        "p10": float(np.percentile(paired, 10)),
        "p90": float(np.percentile(paired, 90)),
        "ratio_of_medians": float(np.median(a) / np.median(b)),
    }


# -- formatting ----------------------------------------------------------------------
def fmt_ns(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_x(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}x"
    if x >= 10:
        return f"{x:.1f}x"
    return f"{x:.2f}x"


def fmt_rate(rows_per_s: float) -> str:
    if rows_per_s >= 1e6:
        return f"{rows_per_s / 1e6:.2f} M rows/s"
    return f"{rows_per_s / 1e3:.0f} k rows/s"


def print_timings(
    title: str, results: dict[str, Any], labels: dict[str, str], rows: int | None
) -> None:
    head = f"  {title:<52}{'median':>11}{'p10':>11}{'p90':>11}"
    print(head + (f"{'throughput':>18}" if rows else ""))
    for key, label in labels.items():
        if key not in results:
            continue
        s = results[key]["ns_per_call"]
        line = f"    {label:<50}{fmt_ns(s['median']):>11}{fmt_ns(s['p10']):>11}{fmt_ns(s['p90']):>11}"
        if rows:
            line += f"{fmt_rate(rows / (s['median'] / 1e9)):>18}"
        print(line)


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
        {
            "name": "1 row: Predictor / bare session.run",
            "ratio": r_bare,
            "target": f"<= {BUDGET_1ROW_VS_BARE:g}x",
            "pass": r_bare["value"] <= BUDGET_1ROW_VS_BARE,
        },
        {
            "name": (
                "1 row: sklearn+pandera / Predictor"
                if pandera_ok
                else "1 row: sklearn (no pandera) / Predictor"
            ),
            "ratio": r_sk,
            "target": f">= {BUDGET_1ROW_VS_SKLEARN:g}x",
            "pass": r_sk["value"] >= BUDGET_1ROW_VS_SKLEARN,
        },
        {
            "name": f"{n // 1000}k rows: Predictor / bare session.run throughput",
            "ratio": r_batch,
            "target": f">= {BUDGET_BATCH_VS_BARE:g}x",
            "pass": r_batch["value"] >= BUDGET_BATCH_VS_BARE,
        },
    ]
    context = {
        "1 row: sklearn / Predictor": ratio(single_res, "sklearn", "predictor"),
        "1 row: Predictor - bare (overhead, µs)": None,
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

    print(f"  {'budget':<60}{'ratio':>8}  {'p10-p90':<15}{'target':<10}verdict")
    for b in budgets:
        r = b["ratio"]
        spread = f"{fmt_x(r['p10'])}-{fmt_x(r['p90'])}"
        verdict = "PASS" if b["pass"] else "MISS"
        print(
            f"    {b['name']:<58}{fmt_x(r['value']):>8}  {spread:<15}{b['target']:<10}{verdict}"
        )
    for name, r in context.items():
        if name.startswith("1 row: Predictor - bare"):
            print(f"    {name:<58}{overhead_us:>8.1f}  (context)")
        elif r is not None:
            spread = f"{fmt_x(r['p10'])}-{fmt_x(r['p90'])}"
            print(f"    {name:<58}{fmt_x(r['value']):>8}  {spread:<15}(context)")
    if not pandera_ok:
        print(
            "    note: pandera is not importable; the sklearn+pandera column is skipped and "
            "the budget is checked against sklearn alone (stricter)."
        )

    for res in (single_res, batch_res):
        for v in res.values():
            v["samples_ns"] = [round(x, 1) for x in v["samples_ns"]]
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


def _git_state() -> str:
    """The commit and whether featurekit/ or serving/ differ from it (they are what we time)."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "featurekit", "serving"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" + uncommitted changes in featurekit/serving" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short run (~10 s), indicative only"
    )
    parser.add_argument("--json", metavar="PATH", help="write every number to PATH")
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

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "onnxruntime": ort.__version__,
        "featurekit": fk.__version__,
        "pandera": pandera_ok,
        "git": _git_state(),
    }
    print(
        f"featurekit predict benchmark{' (--quick: indicative only)' if quick else ''}: "
        f"{args.repeats} repeats, interleaved; per call: median, p10, p90 over repeats; "
        f"ratios: median and p10-p90 of the per-repeat paired ratios\n"
        f"python {env['python']}, {env['cpus']} CPUs, numpy {env['numpy']}, pandas "
        f"{env['pandas']}, scikit-learn {env['scikit-learn']}, onnxruntime {env['onnxruntime']}, "
        f"pandera {'yes' if pandera_ok else 'not installed'}; code: {env['git']}"
    )

    t0 = time.perf_counter()
    results = {key: bench_model(key, args, pandera_ok) for key in args.models}
    print(
        f"\n(total {time.perf_counter() - t0:.0f} s; exit status is always 0: "
        "this is a measurement, not a test)"
    )

    if args.json:
        payload = {
            "env": env,
            "config": {
                "quick": quick,
                "repeats": args.repeats,
                "rows": args.rows,
                "train_rows": args.train_rows,
                "models": args.models,
            },
            "budgets": {
                "single_row_vs_bare_max": BUDGET_1ROW_VS_BARE,
                "single_row_vs_sklearn_min": BUDGET_1ROW_VS_SKLEARN,
                "batch_vs_bare_min": BUDGET_BATCH_VS_BARE,
            },
            "models": results,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2, default=float))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
