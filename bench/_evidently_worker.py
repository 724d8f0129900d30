"""The Evidently side of ``bench/drift.py``; it runs inside ``bench/.venv-evidently``.

Evidently does not import under pandas 3, so ``bench/drift.py`` installs it in a venv
of its own (with ``pandas<3``) and runs this script there as a subprocess. Only the
standard library, numpy, pandas, pyarrow and Evidently are imported: never featurekit.

Two commands, each reading a JSON job written by ``bench/drift.py`` and writing a JSON
answer to ``--out``:

``trials JOB``
    For every cell of the job: a reference parquet file (or a list of them: trial t is
    tested against reference t mod R) and a current parquet file
    holding every trial (a ``__trial__`` column), plus which columns are numerical and
    which categorical. Per trial and per column it asks Evidently's default drift
    decision, the one ``DataDriftPreset`` makes: the statistical test that
    ``get_stattest`` picks for the column (numerical: K-S up to 1,000 reference rows,
    normed Wasserstein above; categorical: chi-square or Z up to 1,000, Jensen-Shannon
    above) at its default threshold, on the column without missing or infinite values,
    exactly the lines of ``evidently.legacy.calculations.data_drift.
    get_one_column_drift`` that decide. The dataset drifts when the share of drifted
    columns is >= 0.5 (``drift_share``, as ``get_dataset_drift``). The report's plots
    (plotly figures, ~0.1 s a column) are not built here; instead the first
    ``crosscheck`` trials of every cell also run the full
    ``Report([DataDriftPreset()], include_tests=True)`` and their verdicts must agree.

``time JOB``
    Wall time and peak memory of ``Report([DataDriftPreset()], include_tests=True).run``
    on one reference and one current file, as a user runs it (``Dataset.from_pandas``
    of both frames, the run, and reading the verdicts from ``snapshot.dict()``), or,
    with ``"engine": "stattests"``, of the per-column tests alone (what ``trials``
    runs); reading the parquet files is not timed. Peak memory is the growth of the resident
    set over the call: the kernel's high-water mark (``VmHWM``, reset through
    ``/proc/self/clear_refs`` before each call) minus ``VmRSS`` before it; where that
    reset is unavailable, the growth of ``ru_maxrss`` (then only the first call is
    meaningful).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TRIAL = "__trial__"


# -- memory --------------------------------------------------------------------------
def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def measure_call(fn: Any) -> tuple[Any, float, float, str]:
    """Run `fn()`: its result, seconds, peak extra MiB, and how memory was measured."""
    import gc
    import resource

    gc.collect()
    method = "VmHWM - VmRSS (peak reset via /proc/self/clear_refs)"
    if not _reset_peak() or _status_kb("VmHWM") is None:
        method = "ru_maxrss growth"
    rss0 = _status_kb("VmRSS") or 0
    max0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    if method.startswith("VmHWM"):
        peak_kb = (_status_kb("VmHWM") or 0) - rss0
    else:
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - max0
    return out, seconds, peak_kb / 1024, method


# -- Evidently -----------------------------------------------------------------------
def _definition(numerical: list[str], categorical: list[str]) -> Any:
    from evidently import DataDefinition

    return DataDefinition(numerical_columns=numerical, categorical_columns=categorical)


def run_report(
    reference: pd.DataFrame, current: pd.DataFrame, definition: Any
) -> dict[str, Any]:
    """The default preset, as a user runs it; verdicts read from its tests."""
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    report = Report([DataDriftPreset()], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    data = snapshot.dict()
    columns: dict[str, bool] = {}
    methods: dict[str, str] = {}
    dataset = None
    for test in data["tests"]:
        params = test["metric_config"]["params"]
        failed = str(test["status"]).endswith("FAIL")
        if "ValueDrift" in params["type"]:
            columns[params["column"]] = failed
            methods[params["column"]] = params.get("method")
        elif "DriftedColumnsCount" in params["type"]:
            dataset = failed
    return {"columns": columns, "methods": methods, "dataset": dataset}


def _clean(column: pd.Series) -> pd.Series:
    # as get_one_column_drift: infinities are missing, and missing values are dropped
    return column.replace([-np.inf, np.inf], np.nan).dropna()


def column_drift(reference: pd.Series, current: pd.Series, kind: Any) -> tuple:
    """Evidently's default test and threshold for one column: (drifted, score, name)."""
    from evidently.legacy.calculations.stattests.registry import get_stattest

    ref, cur = _clean(reference), _clean(current)
    test = get_stattest(ref, cur, kind, None)
    result = test(ref, cur, kind, None)
    return bool(result.drifted), float(result.drift_score), test.display_name


def run_tests(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: list[str],
    categorical: list[str],
) -> dict[str, Any]:
    """Evidently's per-column tests alone, without the report around them."""
    from evidently.legacy.core import ColumnType

    columns: dict[str, bool] = {}
    methods: dict[str, str] = {}
    for names, kind in (
        (numerical, ColumnType.Numerical),
        (categorical, ColumnType.Categorical),
    ):
        for c in names:
            columns[c], _, methods[c] = column_drift(reference[c], current[c], kind)
    share = sum(columns.values()) / max(len(columns), 1)
    return {"columns": columns, "methods": methods, "dataset": share >= 0.5}


def run_trials(job: dict[str, Any]) -> dict[str, Any]:
    from evidently.legacy.core import ColumnType

    out: dict[str, Any] = {}
    for cell in job["cells"]:
        t0 = time.perf_counter()
        # window t is tested against reference t mod R (one reference, or several)
        paths = cell["reference"]
        references = [
            pd.read_parquet(path)
            for path in (paths if isinstance(paths, list) else [paths])
        ]
        current = pd.read_parquet(cell["current"])
        numerical, categorical = cell["numerical"], cell["categorical"]
        columns = numerical + categorical
        kinds = {c: ColumnType.Numerical for c in numerical}
        kinds.update({c: ColumnType.Categorical for c in categorical})
        trials = current[TRIAL].to_numpy()
        bounds = np.flatnonzero(np.diff(trials)) + 1
        starts = np.concatenate([[0], bounds])
        stops = np.concatenate([bounds, [len(trials)]])
        flags = np.zeros((len(starts), len(columns)), dtype=bool)
        scores = np.zeros((len(starts), len(columns)))
        methods: dict[str, str] = {}
        mismatches: list[dict[str, Any]] = []
        checked = 0
        for t, (a, b) in enumerate(zip(starts, stops, strict=True)):
            reference = references[t % len(references)]
            window = current.iloc[a:b].drop(columns=TRIAL).reset_index(drop=True)
            for j, c in enumerate(columns):
                flags[t, j], scores[t, j], methods[c] = column_drift(
                    reference[c], window[c], kinds[c]
                )
            if t < cell["crosscheck"]:
                checked += 1
                full = run_report(
                    reference, window, _definition(numerical, categorical)
                )
                for j, c in enumerate(columns):
                    if full["columns"].get(c) != bool(flags[t, j]):
                        mismatches.append(
                            {"trial": t, "column": c, "report": full["columns"].get(c)}
                        )
                dataset = float(flags[t].mean()) >= 0.5
                if full["dataset"] != dataset:
                    mismatches.append(
                        {"trial": t, "column": None, "report": full["dataset"]}
                    )
        out[cell["name"]] = {
            "columns": columns,
            "flags": flags.astype(int).tolist(),
            "scores": np.round(scores, 6).tolist(),
            "dataset": (flags.mean(axis=1) >= 0.5).astype(int).tolist(),
            "methods": methods,
            "crosscheck_trials": checked,
            "crosscheck_mismatches": mismatches,
            "seconds": time.perf_counter() - t0,
        }
        print(
            f"    [evidently] {cell['name']}: {len(starts)} trials in "
            f"{time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return out


def run_time(job: dict[str, Any]) -> dict[str, Any]:
    reference = pd.read_parquet(job["reference"])
    current = pd.read_parquet(job["current"])
    definition = _definition(job["numerical"], job["categorical"])
    engine = job.get("engine", "report")
    runs = []
    verdicts = None
    for _ in range(job["repeats"]):
        verdicts, seconds, peak, method = measure_call(
            lambda: (
                run_report(reference, current, definition)
                if engine == "report"
                else run_tests(reference, current, job["numerical"], job["categorical"])
            )
        )
        runs.append({"seconds": seconds, "peak_mib": peak, "memory_method": method})
    assert verdicts is not None
    return {
        "engine": engine,
        "rows": len(current),
        "reference_rows": len(reference),
        "columns": len(job["numerical"]) + len(job["categorical"]),
        "runs": runs,
        "drifted_columns": sum(verdicts["columns"].values()),
        "dataset_drift": verdicts["dataset"],
        "methods": sorted(set(verdicts["methods"].values())),
        "baseline_rss_mib": (_status_kb("VmRSS") or 0) / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["trials", "time", "version"])
    parser.add_argument("job", nargs="?", help="the JSON job file")
    parser.add_argument("--out", help="where to write the JSON answer")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # Evidently's and plotly's deprecation chatter

    import evidently

    if args.command == "version":
        print(
            json.dumps({"evidently": evidently.__version__, "pandas": pd.__version__})
        )
        return 0
    job = json.loads(Path(args.job).read_text())
    result = run_trials(job) if args.command == "trials" else run_time(job)
    result = {
        "evidently": evidently.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "result": result,
    }
    Path(args.out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
