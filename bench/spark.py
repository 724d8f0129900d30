"""Spark scoring: `featurekit.spark.predict` per core against the single-process Predictor.

Budget: on the demo's credit model (``examples/credit_features.yaml``, a 60-tree
forest of depth 10, as ``examples/train.py``) and its data generated at scale
(``examples/credit_data.py``, 10 million rows in Parquet files by default), Spark
``local[N]`` scores at least 0.7x the single-process `serving.Predictor`'s rows per
second per core: ``single_s / (spark_s * N)``, the median of the per-repeat ratios,
the two alternating. For context it also reports rows per CPU-second, Spark's
(its JVM and Python workers, read from /proc) over the single process's: on a shared
machine neither side gets its cores, and this ratio says what each core it did get
was worth.

Both read the same Parquet files and score every row with the contract checked and
refused rows kept (``on_error="split"``): the single process reads each file with
pyarrow and scores it with ``Predictor.load(threads=1)``; Spark runs
``featurekit.spark.predict(spark.read.parquet(...))`` into the ``noop`` sink (every
row computed, nothing written), one file per partition. Spark's time is wall clock
for the whole job, its JVM (reading Parquet, Arrow to Python and back) included, on
the same N cores; its workers are warmed up by one small job first (Python workers
start and load the model once, then are reused).

Run: python bench/spark.py [--quick] [--rows N] [--files K] [--repeats R] [--json [PATH]]
(default PATH: bench/results/spark.json). Needs Java (``openjdk-17-jre-headless``).
``--quick`` scores 200,000 rows once, indicative only.
"""

from __future__ import annotations

import argparse
import os
import runpy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, Run, add_json_option, budget, paired, print_budgets, versions

EXAMPLES = ROOT / "examples"
CORES = 2


def _artifact(tmp: Path) -> Path:
    from sklearn.ensemble import RandomForestClassifier

    import featurekit as fk

    make_credit = runpy.run_path(str(EXAMPLES / "credit_data.py"))["make_credit"]
    frame, y = make_credit(5000, seed=0)
    features = fk.FeatureSet.from_yaml((EXAMPLES / "credit_features.yaml").read_text())
    pipe = fk.make_pipeline(
        features,
        RandomForestClassifier(n_estimators=60, max_depth=10, random_state=0),
    )
    pipe.fit(frame, y)
    return fk.export(pipe, tmp / "credit", reference=frame).path


def _data(tmp: Path, rows: int, files: int) -> list[Path]:
    make_credit = runpy.run_path(str(EXAMPLES / "credit_data.py"))["make_credit"]
    folder = tmp / "data"
    folder.mkdir()
    paths = []
    for i in range(files):
        frame, _ = make_credit(rows // files, seed=100 + i)
        path = folder / f"part-{i:03d}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def _single(artifact: Path, paths: list[Path]) -> tuple[float, float, int]:
    """Wall and CPU seconds of one process scoring every file, and the rows scored."""
    import pyarrow.parquet as pq

    from serving import Predictor

    predictor = Predictor.load(artifact, threads=1, monitor=False)
    start, cpu = time.perf_counter(), time.process_time()
    scored = 0
    for path in paths:
        got = predictor.score(pq.read_table(path).to_pandas(), on_error="split")
        scored += len(got.passed)
    return time.perf_counter() - start, time.process_time() - cpu, scored


def _children_cpu() -> float:
    """CPU seconds of every descendant of this process (Spark's JVM, its Python workers).

    Read from /proc: user + system time of each live descendant and of the children
    it has reaped (a Python worker that exited counts in its parent's).
    """
    tick = os.sysconf("SC_CLK_TCK")
    parents, times = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = sum(int(f) for f in fields[11:15]) / tick
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    return sum(times[p] for p in mine)


def _session(paths: list[Path]) -> Any:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    largest = max(p.stat().st_size for p in paths)
    session = (
        SparkSession.builder.master(f"local[{CORES}]")
        .appName("featurekit-bench")
        .config("spark.ui.enabled", "false")
        # one file per partition: files are never packed together nor split
        .config("spark.sql.files.maxPartitionBytes", str(largest + 1))
        .config("spark.sql.files.openCostInBytes", str(largest + 1))
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _spark(session: Any, artifact: Path, paths: list[Path]) -> tuple[float, float]:
    """Wall seconds of the job, and the CPU seconds its JVM and Python workers used."""
    import featurekit.spark as fks

    start, cpu = time.perf_counter(), _children_cpu()
    sdf = session.read.parquet(*map(str, paths))
    fks.predict(sdf, artifact).write.format("noop").mode("overwrite").save()
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    add_json_option(parser, "spark")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.files, args.repeats = 200_000, 4, 1
    run = Run("spark")
    with tempfile.TemporaryDirectory() as tmp:
        artifact = _artifact(Path(tmp))
        paths = _data(Path(tmp), args.rows, args.files)
        rows = (args.rows // args.files) * args.files
        session = _session(paths)
        try:
            _spark(session, artifact, paths[:CORES])  # starts each Python worker
            singles, sparks, single_cpu, spark_cpu = [], [], [], []
            for r in range(args.repeats):
                single_s, single_c, scored = _single(artifact, paths)
                assert scored == rows, (scored, rows)
                spark_s, spark_c = _spark(session, artifact, paths)
                singles.append(single_s)
                sparks.append(spark_s)
                single_cpu.append(single_c)
                spark_cpu.append(spark_c)
                print(
                    f"  repeat {r + 1}: single process {single_s:.1f} s "
                    f"({rows / single_s / 1e3:.0f} k rows/s, {single_c:.1f} CPU s), "
                    f"Spark local[{CORES}] {spark_s:.1f} s ({rows / spark_s / 1e3:.0f} "
                    f"k rows/s, {rows / spark_s / CORES / 1e3:.0f} k rows/s per core, "
                    f"{spark_c:.1f} CPU s)"
                )
        finally:
            session.stop()
    per_core = paired(singles, [s * CORES for s in sparks])
    # on a shared machine neither side gets its cores: rows per CPU-second says what
    # each core it did get was worth
    per_cpu = paired(single_cpu, spark_cpu)
    budgets = [
        {
            **budget(
                f"Spark local[{CORES}] per core / single-process Predictor",
                per_core,
                "x",
                at_least=0.7,
            ),
            "case": f"{rows:,} rows",
        }
    ]
    print_budgets(budgets, {"rows per CPU-second, Spark / single process": per_cpu})
    single_rate = rows / statistics.median(singles)
    spark_rate = rows / statistics.median(sparks)
    results = {
        "rows": rows,
        "files": args.files,
        "cores": CORES,
        "single_s": singles,
        "spark_s": sparks,
        "single_rows_per_s": single_rate,
        "spark_rows_per_s": spark_rate,
        "spark_rows_per_s_per_core": spark_rate / CORES,
        "per_core_over_single": per_core,
        "single_cpu_s": single_cpu,
        "spark_cpu_s": spark_cpu,
        "per_cpu_second_over_single": per_cpu,
        # the cluster story of docs/scale-out.md: 1e9 rows at the measured per-core rate
        "billion_rows_core_hours": 1e9 / (spark_rate / CORES) / 3600,
    }
    if args.json:
        run.write(
            args.json,
            config={
                "rows": rows,
                "files": args.files,
                "repeats": args.repeats,
                "quick": args.quick,
                "model": "credit demo: RandomForestClassifier(60 trees, depth 10)",
            },
            budgets=budgets,
            results=results,
            versions=versions(
                "featurekit", "pyspark", "pyarrow", "onnxruntime", "pandas", "numpy"
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
