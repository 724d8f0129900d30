"""Benchmark the data contract: `Columns.coerce` and `Predictor.predict` against baselines.

Run it as ``.venv/bin/python bench/contract.py``. For each model (default: a
LogisticRegression and a small RandomForest, 30 trees of depth 6: fast models, so that
the contract's share of a prediction is visible) and each width (10 and 50 raw columns:
60 % numeric with bounds and imputers, 40 % categorical with ``unknown="error"`` and
``unknown="ignore"``) it

1. generates a dataset with numpy (missing values in the nullable columns, a few unseen
   categories in the ``unknown="ignore"`` columns at scoring time),
2. fits ``fk.make_pipeline(features, model)``, exports it with ``fk.export`` into a
   temporary directory and loads it with ``serving.Predictor.load``,
3. times, interleaved and in the same process, medians over several repeats:

   - one row, the contract check alone: ``predictor._columns.coerce(dict)`` (bare,
     and with a `Tally` as `Predictor` calls it);
   - one row, check + predict: ``Predictor.predict(dict)`` vs a bare
     ``InferenceSession.run(["label"], feeds)`` on prebuilt feeds (``predictor.session``,
     the same session object) vs scikit-learn ``pipe.predict_proba`` plus a ``pandera``
     validation of the same row with the artifact's own schema
     (``predictor.contract.schema()``, built once, on the typed one-row frame);
     for context, ``Contract.validate(dict)``, the pandera reference of the contract;
   - a large batch (100k rows): ``Predictor.predict(frame)`` vs bare
     ``InferenceSession.run`` on prebuilt feeds (same session), plus, for context,
     featurekit's chunked ``Session.run`` on the same prebuilt feeds (what `Predictor`
     runs after the check), ``Columns.coerce(frame)`` alone and the pandera reference
     ``Contract.validate(frame)``,

4. prints the ratios against the budgets: one row of 10 columns checked in <= 20 µs;
   one row through `Predictor` <= 2x a bare run of featurekit's own graph and >= 50x
   faster than sklearn + pandera; 100k rows >= 0.8x the bare run's throughput; the
   2x and 0.8x budgets hold with drift monitoring on, too.

It is a measurement, not a test: it prints PASS/MISS per budget and always exits 0
(unless the benchmark itself breaks). ``--quick`` makes a short run (a smoke test uses
it); ``--json [PATH]`` writes every number (default ``bench/results/contract.json``).
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import (
    Run,
    add_json_option,
    budget,
    fmt_ns,
    json_record,
    measure,
    print_budgets,
    print_timings,
    ratio,
    round_samples,
    versions,
)
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.contract import reference
from featurekit.contract.failures import Tally
from featurekit.runtime import Session
from serving import Predictor

BUDGET_CHECK_10COL_US = 20.0  # budget: Columns.coerce(dict), 10 columns, <= 20 µs
BUDGET_1ROW_VS_BARE = 2.0  # budget: 1 row, Predictor <= 2x a bare session.run
BUDGET_1ROW_VS_SKLEARN = 50.0  # budget: Predictor >= 50x sklearn + pandera, 1 row
BUDGET_BATCH_VS_BARE = 0.8  # budget: 100k rows, >= 0.8x bare onnxruntime throughput

MODELS: dict[str, tuple[str, Callable[[], Any]]] = {
    "lr": (
        "LogisticRegression(max_iter=1000)",
        lambda: LogisticRegression(max_iter=1000),
    ),
    "rf": (
        "RandomForestClassifier(n_estimators=30, max_depth=6)",
        lambda: RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0),
    ),
}
OUTPUT = "label"  # what Predictor.predict asks the graph for


# -- data ----------------------------------------------------------------------------
# Numeric kinds (cycled): 0 int, hard bounds, not nullable (an int64 graph input);
# 1 float, median imputer, clip + log1p, lower bound; 2 float, mean imputer, two-sided
# bounds; 3 int with missing values, constant imputer, lower bound, clip.
# Categorical kinds (cycled): 0 unknown="error", not nullable; 1 unknown="ignore",
# imputed; 2 unknown="error", imputed; 3 unknown="ignore", not nullable.
def columns_spec(width: int) -> list[tuple[fk.Numeric | fk.Categorical, int]]:
    n_num = round(0.6 * width)
    out: list[tuple[fk.Numeric | fk.Categorical, int]] = []
    for i in range(n_num):
        name, kind = f"num{i:02d}", i % 4
        if kind == 0:
            f: fk.Numeric | fk.Categorical = fk.Numeric(
                name, dtype="int", bounds=(0, 1000), scale="standard"
            )
        elif kind == 1:
            f = fk.Numeric(
                name,
                impute="median",
                clip=(0, None),
                log1p=True,
                bounds=(0, None),
                scale="standard",
            )
        elif kind == 2:
            f = fk.Numeric(name, impute="mean", bounds=(-50, 50), scale="minmax")
        else:
            f = fk.Numeric(name, dtype="int", impute=0, bounds=(0, None), clip=(0, 40))
        out.append((f, kind))
    for j in range(width - n_num):
        name, kind = f"cat{j:02d}", j % 4
        if kind == 0:
            f = fk.Categorical(name, unknown="error")
        elif kind == 1:
            f = fk.Categorical(name, impute="missing", unknown="ignore")
        elif kind == 2:
            f = fk.Categorical(name, impute="most_frequent", unknown="error")
        else:
            f = fk.Categorical(name, unknown="ignore")
        out.append((f, kind))
    return out


def feature_set(width: int) -> fk.FeatureSet:
    return fk.FeatureSet(f"contract_bench_{width}", [f for f, _ in columns_spec(width)])


N_LEVELS = {0: 5, 1: 6, 2: 4, 3: 5}
MISSING_RATE = {("num", 1): 0.03, ("num", 2): 0.02, ("num", 3): 0.01}
MISSING_RATE.update({("cat", 1): 0.03, ("cat", 2): 0.02})


def make_frame(
    width: int, n: int, seed: int, *, unseen_rate: float = 0.0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of `width` raw columns and a label that depends on all of them."""
    weights = np.random.default_rng(0).normal(0.0, 1.0, (width, 8)) / np.sqrt(width)
    rng = np.random.default_rng(seed)
    logit = np.full(n, -0.3) + rng.normal(0.0, 0.5, n)
    data: dict[str, Any] = {}
    for k, (f, kind) in enumerate(columns_spec(width)):
        w = weights[k]
        if isinstance(f, fk.Numeric):
            if kind == 0:
                x = rng.integers(0, 1001, n)
                logit += 1.5 * w[0] * (x - 500) / 290
                values: np.ndarray = x.astype(np.int64)
            else:
                if kind == 1:
                    x = rng.lognormal(3.0, 1.0, n)
                    logit += 1.5 * w[0] * (np.log1p(x) - 3.0)
                elif kind == 2:
                    x = np.clip(rng.normal(0.0, 10.0, n), -49.0, 49.0)
                    logit += 1.5 * w[0] * x / 10
                else:
                    x = rng.poisson(3.0, n).astype(np.float64)
                    logit += 1.5 * w[0] * (x - 3) / 1.7
                values = x.astype(np.float64)
                values[rng.random(n) < MISSING_RATE[("num", kind)]] = np.nan
        else:
            levels = [f"{f.name}_{v}" for v in "abcdefgh"[: N_LEVELS[kind]]]
            p = 1.0 / np.arange(1, len(levels) + 1)
            codes = rng.choice(len(levels), n, p=p / p.sum())
            logit += w[codes]
            values = np.asarray(levels, dtype=object)[codes]
            if unseen_rate and kind in (1, 3):  # unknown="ignore": counted, scored
                values[rng.random(n) < unseen_rate] = f"{f.name}_unseen"
            rate = MISSING_RATE.get(("cat", kind), 0.0)
            if rate:
                values[rng.random(n) < rate] = None
        data[f.name] = values
    frame = pd.DataFrame(data)
    for f, _ in columns_spec(width):
        if isinstance(f, fk.Categorical):
            frame[f.name] = frame[f.name].astype("str")  # pandas' string dtype
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return frame, y


def reference_validate(contract: Any, valid: Any) -> Callable[[Any], Any]:
    """`Contract.validate`, or its documented equivalent when it fails on valid data.

    The equivalent does what `Contract.validate` documents: read the typed frame with
    `featurekit.contract.columns.Columns` and check it with a freshly built ``schema()``.
    """
    from featurekit.contract.columns import Columns

    try:
        reference.validate(contract, valid)
        return functools.partial(reference.validate, contract)
    except Exception as exc:  # a broken reference must not stop the benchmark
        print(
            f"  NOTE: Contract.validate fails on valid input ({type(exc).__name__}: "
            f"{exc}); timing its documented equivalent instead (Columns.read, then "
            "schema().validate(DataFrame, lazy=True))."
        )

    def validate(data: Any) -> Any:
        typed, _, _ = Columns(contract).read(data)
        frame = pd.DataFrame(typed)
        contract.schema().validate(frame, lazy=True)
        return frame

    return validate


# -- one model at one width ----------------------------------------------------------
SINGLE_LABELS = {
    "coerce": "Columns.coerce(dict)",
    "coerce_tally": "Columns.coerce(dict, tally=...) (as Predictor)",
    "coerce_missing": "Columns.coerce(dict with None values)",
    "predictor": "Predictor.predict(dict)",
    "predictor_monitored": "Predictor.predict(dict), drift monitoring on",
    "coerce_run": "coerce(dict, tally) + bare session.run",
    "bare": 'bare session.run(["label"]), prebuilt feeds',
    "bare_all": "bare session.run(None), prebuilt feeds",
    "sklearn": "sklearn pipe.predict_proba(1-row frame)",
    "pandera": "pandera schema.validate(typed 1-row frame)",
    "sklearn_pandera": "sklearn predict_proba + pandera validate",
    "contract_validate": "Contract.validate(dict) (pandera reference)",
}
BATCH_LABELS = {
    "predictor": "Predictor.predict(DataFrame)",
    "predictor_monitored": "Predictor.predict(DataFrame), drift monitoring on",
    "bare": "bare session.run (same session, 1 thread)",
    "fk_session": "featurekit Session.run, prebuilt feeds (chunked)",
    "coerce": "Columns.coerce(DataFrame) alone",
    "coerce_tally": "Columns.coerce(DataFrame, tally=...) (as Predictor)",
    "contract_validate": "Contract.validate(DataFrame) (pandera ref.)",
}


def _stat(res: dict[str, Any], key: str) -> dict[str, float]:
    return res[key]["ns_per_call"]


def bench_width(key: str, width: int, args: argparse.Namespace) -> dict[str, Any]:
    desc, make = MODELS[key]
    features = feature_set(width)
    n_num = sum(isinstance(f, fk.Numeric) for f in features.features)
    train, y = make_frame(width, args.train_rows, seed=1)
    batch, _ = make_frame(width, args.rows, seed=2, unseen_rate=0.002)

    t0 = time.perf_counter()
    pipe = fk.make_pipeline(features, make())
    pipe.fit(train, y)
    fit_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="fk-bench-contract-") as tmp:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fk.export(pipe, tmp, reference=train)
        export_s = time.perf_counter() - t0
        # the contract's budgets are about the contract: this predictor does no drift
        # monitoring; `monitored` (the default) is measured beside it, as the 2x and
        # 0.8x budgets hold with monitoring on too
        predictor = Predictor.load(tmp, monitor=False)
        monitored = Predictor.load(tmp)
        model_bytes = (Path(tmp) / "model.onnx").read_bytes()
    session = predictor.session
    columns = predictor._columns
    contract = predictor.contract
    fk_session = getattr(predictor, "_session", None)
    if not isinstance(fk_session, Session):
        fk_session = Session(model_bytes)
    print(
        f"\n== {key}: {desc}, {width} raw columns ({n_num} numeric, "
        f"{width - n_num} categorical)   (fit {fit_s:.1f} s on {len(train):,} rows, "
        f"export {export_s:.1f} s, featurekit pool threads={fk_session.threads})"
    )

    # -- single row ------------------------------------------------------------------
    ignore_cols = [
        f.name
        for f in features.features
        if isinstance(f, fk.Categorical) and f.unknown == "ignore"
    ]
    seen = np.ones(len(batch), dtype=bool)
    for c in ignore_cols:
        seen &= ~batch[c].str.endswith("_unseen").fillna(False).to_numpy(dtype=bool)
    complete = (batch.notna().all(axis=1).to_numpy() & seen).nonzero()[0]
    i = int(complete[0])
    record = json_record(batch, i)
    one_row = batch.iloc[[i]].copy()
    nulls = batch.isna().sum(axis=1).to_numpy()
    j = int(((nulls >= 2) & seen).nonzero()[0][0])
    record_missing = json_record(batch, j)

    feeds1, n1 = columns.coerce(record)
    assert n1 == 1
    fast = getattr(columns, "_one", None)
    if fast is not None and (
        fast(record, None) is None or fast(record_missing, None) is None
    ):
        print("  WARNING: the single-row records do not take Columns' fast path")
    label = predictor.predict(record)
    if not np.array_equal(label, session.run([OUTPUT], feeds1)[0]):
        print("  WARNING: bare session.run output differs from Predictor's on the row")
    if not np.array_equal(label, pipe.predict(one_row)):
        print("  WARNING: sklearn's label differs from Predictor's on the row")

    schema = contract.schema()  # built once: the most charitable pandera baseline
    # the typed one-row frame pandera checks, read with the documented coercion rules
    typed1 = pd.DataFrame(columns.read(record)[0])
    schema.validate(typed1, lazy=True)  # must accept it
    if not np.allclose(
        pipe.predict_proba(schema.validate(typed1, lazy=True)),
        pipe.predict_proba(one_row),
        atol=1e-12,
    ):
        print("  WARNING: sklearn scores the typed frame differently from the raw one")
    tally = Tally()
    validate = reference_validate(contract, record)

    single: dict[str, Callable[[], Any]] = {
        "coerce": lambda: columns.coerce(record),
        "coerce_tally": lambda: columns.coerce(record, tally=tally),
        "coerce_missing": lambda: columns.coerce(record_missing),
        "predictor": lambda: predictor.predict(record),
        "predictor_monitored": lambda: monitored.predict(record),
        "coerce_run": lambda: session.run(
            [OUTPUT], columns.coerce(record, tally=tally)[0]
        ),
        "bare": lambda: session.run([OUTPUT], feeds1),
        "bare_all": lambda: session.run(None, feeds1),
        "sklearn": lambda: pipe.predict_proba(one_row),
        "pandera": lambda: schema.validate(typed1, lazy=True),
        "sklearn_pandera": lambda: pipe.predict_proba(
            schema.validate(typed1, lazy=True)
        ),
        "contract_validate": lambda: validate(record),
    }
    single_res = measure(
        single, repeats=args.repeats, block_s=args.block_s, warmup_s=args.warmup_s
    )
    print_timings("single row", single_res, SINGLE_LABELS, None)

    # -- batch -----------------------------------------------------------------------
    n = len(batch)
    feeds_n, _ = columns.coerce(batch)  # the very arrays Predictor hands to onnxruntime
    ref_n = predictor.predict(batch)
    if not np.array_equal(ref_n, session.run([OUTPUT], feeds_n)[0]):
        print(
            "  WARNING: bare session.run output differs from Predictor's on the batch"
        )
    batch_vars: dict[str, Callable[[], Any]] = {
        "predictor": lambda: predictor.predict(batch),
        "predictor_monitored": lambda: monitored.predict(batch),
        "bare": lambda: session.run([OUTPUT], feeds_n),
        "fk_session": lambda: fk_session.run(feeds_n, n, [OUTPUT]),
        "coerce": lambda: columns.coerce(batch),
        "coerce_tally": lambda: columns.coerce(batch, tally=tally),
    }
    if not args.no_batch_pandera:
        batch_vars["contract_validate"] = lambda: validate(batch)
    batch_res = measure(
        batch_vars,
        repeats=args.repeats,
        block_s=args.batch_block_s,
        warmup_s=args.batch_warmup_s,
    )
    print_timings(f"{n:,} rows", batch_res, BATCH_LABELS, n)

    # -- ratios vs budgets -----------------------------------------------------------
    r_bare = ratio(single_res, "predictor", "bare")
    r_sk = ratio(single_res, "sklearn_pandera", "predictor")
    # throughput ratio = time(bare) / time(predictor)
    r_batch = ratio(batch_res, "bare", "predictor")
    r_bare_m = ratio(single_res, "predictor_monitored", "bare")
    r_batch_m = ratio(batch_res, "bare", "predictor_monitored")
    assert r_bare and r_sk and r_batch and r_bare_m and r_batch_m
    check = _stat(single_res, "coerce")
    budgets: list[dict[str, Any]] = []
    if width == 10:
        check_us = {k: v / 1e3 for k, v in check.items()}
        budgets.append(
            budget(
                "1 row, 10 cols: Columns.coerce(dict) time",
                check_us,
                "µs",
                at_most=BUDGET_CHECK_10COL_US,
            )
        )
    k = f"{n // 1000}k rows, {width} cols"
    budgets += [
        budget(
            f"1 row, {width} cols: Predictor / bare session.run",
            r_bare,
            "x",
            at_most=BUDGET_1ROW_VS_BARE,
        ),
        budget(
            f"1 row, {width} cols: sklearn+pandera / Predictor",
            r_sk,
            "x",
            at_least=BUDGET_1ROW_VS_SKLEARN,
        ),
        budget(
            f"{k}: Predictor / bare throughput",
            r_batch,
            "x",
            at_least=BUDGET_BATCH_VS_BARE,
        ),
        budget(
            f"1 row, {width} cols: + drift monitoring / bare",
            r_bare_m,
            "x",
            at_most=BUDGET_1ROW_VS_BARE,
        ),
        budget(
            f"{k}: + drift monitoring / bare",
            r_batch_m,
            "x",
            at_least=BUDGET_BATCH_VS_BARE,
        ),
    ]
    context: dict[str, dict[str, float] | None] = {
        "1 row: coerce with tally / coerce": ratio(
            single_res, "coerce_tally", "coerce"
        ),
        "1 row: coerce / Predictor (contract's share)": ratio(
            single_res, "coerce_tally", "predictor"
        ),
        "1 row: Predictor / (coerce + bare session.run)": ratio(
            single_res, "predictor", "coerce_run"
        ),
        "1 row: Predictor / bare session.run(None)": ratio(
            single_res, "predictor", "bare_all"
        ),
        "1 row: sklearn alone / Predictor": ratio(single_res, "sklearn", "predictor"),
        "1 row: pandera validate alone / coerce": ratio(
            single_res, "pandera", "coerce"
        ),
        "1 row: Contract.validate / coerce": ratio(
            single_res, "contract_validate", "coerce"
        ),
        f"{n // 1000}k rows: Predictor / featurekit Session.run throughput": ratio(
            batch_res, "fk_session", "predictor"
        ),
        f"{n // 1000}k rows: coerce / Predictor (contract's share)": ratio(
            batch_res, "coerce_tally", "predictor"
        ),
        f"{n // 1000}k rows: coerce with tally / coerce": ratio(
            batch_res, "coerce_tally", "coerce"
        ),
        f"{n // 1000}k rows: Contract.validate / coerce": ratio(
            batch_res, "contract_validate", "coerce"
        ),
    }
    overhead_us = (
        _stat(single_res, "predictor")["median"] - _stat(single_res, "bare")["median"]
    ) / 1e3
    per_col_ns = {
        "single_row_coerce_ns_per_column": check["median"] / width,
        "batch_coerce_ns_per_cell": _stat(batch_res, "coerce")["median"] / (n * width),
    }

    print_budgets(budgets, context, width=60)
    print(
        f"    {'1 row: Predictor - bare (overhead)':<60}{overhead_us:>6.1f} µs  "
        f"{'':<17}(context)"
    )
    print(
        f"    {'coerce per column (1 row) / per cell (batch)':<60}"
        f"{fmt_ns(per_col_ns['single_row_coerce_ns_per_column']):>9}  "
        f"{fmt_ns(per_col_ns['batch_coerce_ns_per_cell']):<17}(context)"
    )

    round_samples(single_res, batch_res)
    return {
        "model": desc,
        "width": width,
        "numeric_columns": n_num,
        "categorical_columns": width - n_num,
        "train_rows": len(train),
        "batch_rows": n,
        "fit_s": fit_s,
        "export_s": export_s,
        "featurekit_pool_threads": fk_session.threads,
        "single_row": single_res,
        "batch": batch_res,
        "budgets": budgets,
        "context": {k: v for k, v in context.items() if v is not None},
        "single_row_overhead_us": overhead_us,
        **per_col_ns,
        "batch_throughput_rows_per_s": {
            k: n / (v["ns_per_call"]["median"] / 1e9) for k, v in batch_res.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short run (< 20 s), indicative only"
    )
    add_json_option(parser, "contract")
    parser.add_argument(
        "--models", help="comma-separated subset of lr,rf (default: both; --quick: lr)"
    )
    parser.add_argument(
        "--widths", help="comma-separated raw column counts (default: 10,50)"
    )
    parser.add_argument(
        "--repeats", type=int, help="timed repeats per variant (default 7; quick 3)"
    )
    parser.add_argument(
        "--rows", type=int, help="batch size (default 100000; quick 5000)"
    )
    parser.add_argument(
        "--no-batch-pandera",
        action="store_true",
        help="skip the (slow) Contract.validate(DataFrame) reference on the batch",
    )
    args = parser.parse_args(argv)
    run = Run("contract")

    quick = args.quick
    args.models = (args.models or ("lr" if quick else "lr,rf")).split(",")
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    args.widths = [int(w) for w in (args.widths or "10,50").split(",")]
    if any(w < 5 for w in args.widths):
        parser.error("widths must be at least 5 columns")
    args.repeats = args.repeats or (3 if quick else 7)
    args.rows = args.rows or (5_000 if quick else 100_000)
    args.train_rows = 1_000 if quick else 20_000
    args.block_s = 0.02 if quick else 0.3  # per repeat per single-row variant
    args.warmup_s = 0.0 if quick else 0.3  # quick: the first call only
    args.batch_block_s = 0.0 if quick else 0.3  # 1 call per repeat unless faster
    args.batch_warmup_s = 0.0 if quick else 0.3

    env = versions(
        "numpy", "pandas", "scikit-learn", "onnxruntime", "pandera", "featurekit"
    )
    print(
        f"featurekit contract benchmark{' (--quick: indicative only)' if quick else ''}: "
        f"{args.repeats} repeats, interleaved; per call: median, p10, p90 over repeats; "
        f"ratios: median and p10-p90 of the per-repeat paired ratios\n"
        f"models: {', '.join(MODELS[m][0] for m in args.models)}; widths: "
        f"{', '.join(map(str, args.widths))} raw columns (60% numeric, 40% categorical)\n"
        + ", ".join(f"{k} {v}" for k, v in env.items())
        + f"; code: {run.code['git']} (featurekit+serving digest {run.code['digest']})"
    )

    t0 = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    for key in args.models:
        results[key] = {str(w): bench_width(key, w, args) for w in args.widths}
    verdicts = [
        b["pass"]
        for per in results.values()
        for r in per.values()
        for b in r["budgets"]
    ]
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
                "repeats": args.repeats,
                "rows": args.rows,
                "train_rows": args.train_rows,
                "models": args.models,
                "widths": args.widths,
                "batch_pandera": not args.no_batch_pandera,
            },
            budgets=[
                {**b, "case": f"{r['model'].split('(')[0]}, {w} cols"}
                for per in results.values()
                for w, r in per.items()
                for b in r["budgets"]
            ],
            results={"models": results},
            versions=env,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
