"""Benchmark derived features: what the catalogue costs in serving and in training.

Run it as ``.venv/bin/python bench/derived.py``. It fits the catalogue pipeline (two
date-time inputs, ratios, logs, flags, date parts, buckets, crossed, hashed and text
features; 18 declarations over 8 raw columns, the same catalogue as the test suite's
``test_catalogue.py``, kept here so the bench imports no test module) with a
LogisticRegression, exports it, and times in the same process, interleaved, medians over
several repeats:

- one row: ``Predictor.predict(dict)`` (contract check, date parsing, the whole graph)
  against a bare ``InferenceSession.run`` on prebuilt feeds of the same graph, and
  against scikit-learn ``pipe.predict`` on a one-row frame (the training pipeline,
  with its numpy twin of every expression);
- 10k rows: ``Predictor.predict(frame)`` against bare ``InferenceSession.run`` and
  against ``pipe.predict``;
- training side: ``pipe[:-1].transform`` of 10k rows, and the expressions alone.

Budgets: a 1-row ``Predictor.predict`` <= 2x a bare run of featurekit's own graph, and
a large batch at >= 0.8x its throughput. It always exits 0; ``--quick`` is for the smoke
test; ``--json [PATH]`` writes every number (default ``bench/results/derived.json``).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

from _common import (
    Run,
    add_json_option,
    budget,
    measure,
    print_budgets,
    ratio,
    round_samples,
    versions,
)
from _orders import catalogue, orders
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.expr.evaluator import evaluate
from serving import Predictor

BUDGET_1ROW_VS_BARE = 2.0  # budget: 1 row, Predictor <= 2x a bare session.run
BUDGET_BATCH_VS_BARE = 0.8  # budget: 10k rows, >= 0.8x bare onnxruntime throughput


# -- the bench -------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    add_json_option(parser, "derived")
    args = parser.parse_args()
    run = Run("derived")
    repeats, block = (3, 0.02) if args.quick else (9, 0.3)
    n_big = 1000 if args.quick else 10_000

    X, y = orders(2000)
    fresh, _ = orders(n_big, seed=11)
    fs = catalogue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = fk.make_pipeline(fs, LogisticRegression(max_iter=3000)).fit(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        fk.export(pipe, Path(tmp) / "orders", reference=X)
        p = Predictor.load(Path(tmp) / "orders", monitor=False)
    record = fresh.iloc[0].to_dict()
    record["signup"] = record["signup"].isoformat()  # as JSON brings it
    one = fresh.iloc[[0]]
    feeds_one, _ = p._columns.coerce(record)
    feeds_big, n = p._columns.coerce(fresh)
    session = p.session
    label = ["label"]
    frame = pipe[0].transform(fresh)
    computed = {
        f.name: f.expression if isinstance(f, fk.Derived) else f.source
        for f in fs.features
        if isinstance(f, fk.Derived | fk.Bucketized)
    }
    raw = {c: frame[c].to_numpy() for c in fs.columns}

    def expressions() -> None:
        for e in computed.values():
            evaluate(e, raw)  # type: ignore[arg-type]

    variants = {
        "predictor_1": lambda: p.predict(record),
        "bare_1": lambda: session.run(label, feeds_one),
        "sklearn_1": lambda: pipe.predict(one),
        "predictor_big": lambda: p.predict(fresh),
        "bare_big": lambda: session.run(label, feeds_big),
        "sklearn_big": lambda: pipe.predict(fresh),
        "transform_big": lambda: pipe[:-1].transform(fresh),
        "expressions_big": expressions,
    }
    res = measure(variants, repeats=repeats, block_s=block, warmup_s=block)

    def us(name: str) -> float:
        return float(res[name]["ns_per_call"]["median"]) / 1e3

    print(
        f"catalogue: {len(fs.features)} declarations over {len(fs.columns)} raw columns"
    )
    print(f"1 row:   Predictor.predict {us('predictor_1'):9.1f} µs")
    print(f"         bare session.run  {us('bare_1'):9.1f} µs")
    print(f"         sklearn predict   {us('sklearn_1'):9.1f} µs")
    r1 = ratio(res, "predictor_1", "bare_1")
    s1 = ratio(res, "sklearn_1", "predictor_1")
    rb = ratio(res, "bare_big", "predictor_big")
    sb = ratio(res, "sklearn_big", "predictor_big")
    assert r1 is not None and s1 is not None and rb is not None and sb is not None
    budgets = [
        budget(
            "1 row: Predictor / bare session.run", r1, "x", at_most=BUDGET_1ROW_VS_BARE
        ),
        budget(
            f"{n // 1000}k rows: Predictor / bare session.run throughput",
            rb,
            "x",
            at_least=BUDGET_BATCH_VS_BARE,
        ),
    ]
    print(
        f"  Predictor / bare onnxruntime   {r1['value']:.2f}x "
        f"(p10-p90 {r1['p10']:.2f}-{r1['p90']:.2f})  budget <= 2x  "
        f"{'PASS' if budgets[0]['pass'] else 'MISS'}"
    )
    print(f"  sklearn / Predictor            {s1['value']:.1f}x")
    print(f"{n} rows: Predictor.predict {us('predictor_big') / 1e3:9.1f} ms")
    print(f"         bare session.run  {us('bare_big') / 1e3:9.1f} ms")
    print(f"         sklearn predict   {us('sklearn_big') / 1e3:9.1f} ms")
    print(
        f"  Predictor throughput / bare    {rb['value']:.2f}x "
        f"(p10-p90 {rb['p10']:.2f}-{rb['p90']:.2f})  budget >= 0.8x  "
        f"{'PASS' if budgets[1]['pass'] else 'MISS'}"
    )
    print(f"  Predictor / sklearn speed-up   {sb['value']:.1f}x")
    per_expression_ns = us("expressions_big") * 1e3 / n / len(computed)
    print(
        f"training: transform {us('transform_big') / 1e3:.1f} ms, of which the "
        f"{len(computed)} expressions {us('expressions_big') / 1e3:.1f} ms "
        f"({per_expression_ns:.0f} ns/row/expression)"
    )
    print_budgets(budgets)
    if args.json:
        round_samples(res)
        run.write(
            args.json,
            config={
                "quick": args.quick,
                "repeats": repeats,
                "block_s": block,
                "train_rows": len(X),
                "batch_rows": n,
                "model": "LogisticRegression(max_iter=3000)",
            },
            budgets=[{**b, "case": "catalogue, LogisticRegression"} for b in budgets],
            results={
                "declarations": len(fs.features),
                "raw_columns": len(fs.columns),
                "expressions": len(computed),
                "timings": res,
                "ratios": {
                    "1 row: Predictor / bare session.run": r1,
                    "1 row: sklearn / Predictor": s1,
                    "batch: Predictor / bare session.run throughput": rb,
                    "batch: Predictor / sklearn throughput": sb,
                },
                "expression_ns_per_row": per_expression_ns,
            },
            versions=versions(
                "numpy", "pandas", "scikit-learn", "onnxruntime", "featurekit"
            ),
        )


if __name__ == "__main__":
    main()
