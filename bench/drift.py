"""Benchmark featurekit's drift detection against Evidently: same data, same injected drift.

Run it as ``.venv/bin/python bench/drift.py`` (~12 minutes on 2 busy CPUs). Evidently
does not import under pandas 3, so the script keeps it in a venv of its own,
``bench/.venv-evidently``, created and filled from the package index on first use
(``evidently==EVIDENTLY_VERSION``, the newest release, with ``pandas<3``), and runs it
there through ``bench/_evidently_worker.py``. Both sides read the same parquet files.

1. Reference frames of 10,000 rows, seeded: five categorical columns with k = 3, 10
   or 50 Zipf-like levels (p ∝ 1/rank), or six numeric ones (three N(0, 1), three
   lognormal(0, 0.5), skewed). Each is fitted with ``fk.make_pipeline(features,
   LogisticRegression)`` (numerics ``impute="median", scale="standard"``,
   categoricals ``unknown="ignore"``, so missing values and unseen categories are
   counted, not refused) and exported with ``fk.export(..., reference=frame)``.
2. Current windows of 1,000 rows (the profile's default window), a fresh draw per
   trial (200 per cell), with the cell's drift injected:

   - null: none, for categoricals k = 3, 10, 50 and for numerics; and the same at
     small windows of 20, 50 and 100 rows (issue 15);
   - glaring shifts at 50 rows: the mean of one normal and one lognormal column moves
     by 1σ; one column's commonest category that can double its share does (27 % ->
     55 % for k = 3, 34 % -> 68 % for k = 10, 22 % -> 44 % for k = 50; the others
     shrink in proportion), beside the ceiling of any test (``bench/_drift_ceiling.py``:
     the exact one-sided binomial test of that category's count on the same windows,
     at 5 % divided by the rows of the report, the strictest cut-off a row that alone
     moved meets, and at 5 % for an oracle that knows the column too);
   - a correlated pair (dataset ``corr``: n1 = 0.8 n0 + noise, both N(0, 1), beside
     a normal and three lognormal columns): its null, and the correlation flipped to
     -0.8 with both marginals unchanged (only featurekit's multivariate row can see
     it; Evidently's tests are per column);
   - power: the mean of one normal and one lognormal column moves by 0.1σ, 0.2σ, 0.5σ,
     windows taken in turn against 5 reference draws (5 artifacts; Evidently gets the
     same references), since one reference sample sits off its population by a few
     hundredths of a σ and a fixed one biases the power at 0.1σ by several points; the
     0.1σ cell takes ``--null-trials`` windows;
   - missingness: 5 % of one numeric and of one categorical column go missing (0 % in
     the reference);
   - unseen: 2 % of one k = 10 column take categories the reference never had;
   - harmless: every numeric column moves by 0.02σ, in 50 windows of 100,000 rows
     (against the same 10,000-row reference, so Evidently tests with the normed
     Wasserstein distance, as it does for any reference above 1,000 rows).

3. Each window goes to ``fk.drift(predictor, window)`` (the model's outputs included,
   the default) and to Evidently's default ``DataDriftPreset`` decision: its
   per-column tests at their default thresholds, dataset drift when >= 50 % of the
   columns drift (see the worker's docstring; the first 5 windows of every cell also
   run the full ``Report``, and the verdicts must agree). Reported per cell: the share
   of (window, column) pairs flagged, per group of columns, and the share of windows
   whose dataset-level verdict is drift, with Wilson 95 % intervals.
4. Timed last, alone, each side in a subprocess of its own so that peak memory
   compares: a 1,000,000-row frame of 25 columns (15 numeric, unscaled; 10
   categorical, k = 3, 10, 50), no drift, against a 100,000-row reference.
   ``fk.drift(artifact, frame, outputs=False)`` (median of 3; Evidently's preset has
   no model, and featurekit's profile was built at export) against one run of
   ``Report([DataDriftPreset()]).run`` (which summarises the reference every run);
   for context, ``outputs=True`` and Evidently's per-column tests without the report.
5. Performance estimated without labels (``bench/_estimate_cells.py``, featurekit only:
   Evidently's preset has no such estimate): the realised accuracy of 1,000-row
   windows under a covariate shift against the estimate's 95 % interval, and a
   concept shift, its blind spot.

The "Done when" verdicts, on point estimates: every null cell <= 5 % false alarms per
feature and per dataset; power per feature >= Evidently's in every power cell; the
missing and unseen columns flagged in >= 95 % of windows; <= 5 % alarms per feature
and per dataset on the harmless shift; >= 80 % power per feature on the glaring shifts
at 50 rows; the flip detected (dataset-level) in >= 80 % of windows; >= 60 % power on
the 0.1σ shift of the normal column; Evidently's time / featurekit's >= 20. The time
budget: ``fk.drift`` of 1M rows x 25 columns in <= 5 s.

Null cells take ``--null-trials`` windows (default ``--trials``): a rate near 5 % needs
about 400 windows to be read to +-2 points.

It is a measurement, not a test: it always exits 0 (unless the benchmark itself
breaks). ``--quick`` is a short run (20 windows per cell, 5 harmless ones, 100,000
timed rows against 10,000, cross-checks on the null cells only, no context timings);
the smoke test runs it with ``--no-evidently``. ``--json [PATH]`` writes every number
(default ``bench/results/drift.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import (
    ROOT,
    Run,
    add_json_option,
    budget,
    print_budgets,
    spread,
    versions,
)
from _drift_ceiling import oracle_power
from _estimate_cells import estimate_trials, print_estimate
from _evidently_worker import TRIAL, measure_call
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.monitoring.joint import JOINT

BENCH = ROOT / "bench"
EVIDENTLY_VERSION = "0.7.23"  # the newest on the index that works; 0.7 needs pandas<3
EVIDENTLY_REQUIREMENTS = [f"evidently=={EVIDENTLY_VERSION}", "pandas<3", "pyarrow"]
VENV = BENCH / ".venv-evidently"
WORKER = BENCH / "_evidently_worker.py"

# "Done when": the targets of the drift comparison.
FALSE_ALARM_MAX = 0.05  # every null cell, per feature and per dataset
DETECT_MIN = 0.95  # missingness and unseen jumps: "detected" in >= 95 % of windows
HARMLESS_MAX = 0.05  # alarms on a 0.02σ shift at 100k rows
SPEED_MIN = 20.0  # featurekit >= 20x Evidently's speed at 1M rows x 25 columns
TIME_MAX_S = 5.0  # budget: fk.drift of 1M rows x 25 columns in <= 5 s

REFERENCE_ROWS = 10_000
WINDOW = 1_000
SMALL_WINDOWS = (20, 50, 100)  # besides WINDOW: the small-window null cells (issue 15)
GLARING_MIN = 0.80  # power on glaring shifts at 50 rows
JOINT_MIN = 0.80  # the correlation flip, detected per 1,000-row window
POWER_01_MIN = 0.60  # per feature, a 0.1σ shift of one normal column among six
POWER_REFERENCES = 5  # power cells: reference draws, windows taken in turn against each
RHO = 0.8
LOGNORMAL_SIGMA = 0.5
LOGNORMAL_SD = math.sqrt(
    (math.exp(LOGNORMAL_SIGMA**2) - 1) * math.exp(LOGNORMAL_SIGMA**2)
)


# -- data ----------------------------------------------------------------------------
# A dataset is a list of columns (name, kind, parameter): kind "normal", "lognormal"
# or "categorical" (parameter: k levels).
Spec = list[tuple[str, str, int]]
DATASETS: dict[str, Spec] = {
    "cat3": [(f"c{i}", "categorical", 3) for i in range(5)],
    "cat10": [(f"c{i}", "categorical", 10) for i in range(5)],
    "cat50": [(f"c{i}", "categorical", 50) for i in range(5)],
    "num": [(f"n{i}", "normal", 0) for i in range(3)]
    + [(f"l{i}", "lognormal", 0) for i in range(3)],
    # n1 = RHO * n0 + noise: N(0, 1) like n0, correlated +RHO with it
    "corr": [("n0", "normal", 0), ("n1", "paired", 0), ("n2", "normal", 0)]
    + [(f"l{i}", "lognormal", 0) for i in range(3)],
    "wide": [
        (f"x{i:02d}", "normal" if i % 2 == 0 else "lognormal", 0) for i in range(15)
    ]
    + [(f"c{i:02d}", "categorical", (3, 10, 50)[i % 3]) for i in range(10)],
}


def sd(kind: str) -> float:
    return LOGNORMAL_SD if kind == "lognormal" else 1.0


def levels(name: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    p = 1.0 / np.arange(1, k + 1)
    return np.asarray([f"{name}_{i:02d}" for i in range(k)], dtype=object), p / p.sum()


def draw(spec: Spec, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """`n` rows of the dataset, no drift: numbers as float64, categories as str."""
    data: dict[str, Any] = {}
    for name, kind, k in spec:
        if kind == "normal":
            data[name] = rng.normal(0.0, 1.0, n)
        elif kind == "paired":  # follows the column before it, correlated RHO
            data[name] = RHO * data[spec[0][0]] + math.sqrt(1 - RHO**2) * rng.normal(
                0.0, 1.0, n
            )
        elif kind == "lognormal":
            data[name] = rng.lognormal(0.0, LOGNORMAL_SIGMA, n)
        else:
            names, p = levels(name, k)
            data[name] = names[rng.choice(k, n, p=p)]
    frame = pd.DataFrame(data)
    for name, kind, _ in spec:
        if kind == "categorical":
            frame[name] = frame[name].astype("str")
    return frame


def inject(
    frame: pd.DataFrame, spec: Spec, drift: dict[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """Apply a cell's drift: mean shifts (in σ), missing rates, unseen-category rates,
    a category's share doubled, a correlation flipped (marginals unchanged)."""
    kinds = {name: kind for name, kind, _ in spec}
    for name, other in drift.get("flip", {}).items():
        # n1 = RHO n0 + e becomes -RHO n0 + e: still N(0, 1), correlation -RHO
        frame[name] = frame[name] - 2 * RHO * frame[other]
    for name, j in drift.get("double", {}).items():
        # category j's share doubles; the others shrink in proportion
        k = next(k for n, _, k in spec if n == name)
        names, p = levels(name, k)
        q = p * (1 - 2 * p[j]) / (1 - p[j])
        q[j] = 2 * p[j]
        frame[name] = names[rng.choice(k, len(frame), p=q)]
        frame[name] = frame[name].astype("str")
    for name, delta in drift.get("shift", {}).items():
        frame[name] = frame[name] + delta * sd(kinds[name])
    for name, rate in drift.get("missing", {}).items():
        hit = rng.random(len(frame)) < rate
        frame.loc[hit, name] = np.nan
    for name, rate in drift.get("unseen", {}).items():
        hit = rng.random(len(frame)) < rate
        new = np.asarray([f"{name}_new{j}" for j in range(5)], dtype=object)
        frame.loc[hit, name] = new[rng.integers(0, 5, int(hit.sum()))]
    return frame


def label(frame: pd.DataFrame, spec: Spec, rng: np.random.Generator) -> np.ndarray:
    """A label that depends on every column, so the fitted model uses them all."""
    logit = rng.normal(0.0, 0.5, len(frame))
    for name, kind, k in spec:
        if kind == "categorical":
            effect = dict(zip(levels(name, k)[0], rng.normal(0.0, 0.5, k), strict=True))
            logit += frame[name].map(effect).fillna(0.0).to_numpy(dtype=np.float64)
        else:
            x = frame[name].to_numpy()
            logit += rng.normal(0.0, 0.5) * (x - x.mean()) / x.std()
    return (rng.random(len(frame)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)


def feature_set(key: str, spec: Spec) -> fk.FeatureSet:
    # The timed artifact's numbers are not scaled: drift never runs the transforms,
    # and export's search of each scaled column's float32 domain takes seconds.
    scale = None if key == "wide" else "standard"
    features: list[fk.Numeric | fk.Categorical] = [
        fk.Categorical(name, impute="most_frequent", unknown="ignore")
        if kind == "categorical"
        else fk.Numeric(name, impute="median", scale=scale)
        for name, kind, _ in spec
    ]
    return fk.FeatureSet(f"drift_bench_{key}", features)


def seed_of(name: str) -> int:
    return zlib.crc32(name.encode())


def build_artifact(
    key: str, rows: int, seed: int, tmp: Path, name: str | None = None
) -> tuple[Path, Path, dict[str, float]]:
    """Draw the reference, fit, export; return (artifact dir, reference parquet, secs).

    `name` (default `key`) names the files: another draw of the same dataset.
    """
    spec = DATASETS[key]
    name = name or key
    rng = np.random.default_rng(seed)
    reference = draw(spec, rows, rng)
    y = label(reference, spec, rng)
    t0 = time.perf_counter()
    pipe = fk.make_pipeline(feature_set(key, spec), LogisticRegression(max_iter=300))
    pipe.fit(reference, y)
    fit_s = time.perf_counter() - t0
    artifact = tmp / f"artifact-{name}"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fk.export(pipe, artifact, reference=reference)
    export_s = time.perf_counter() - t0
    path = tmp / f"reference-{name}.parquet"
    reference.to_parquet(path)
    return artifact, path, {"fit_s": fit_s, "export_s": export_s}


# -- cells ---------------------------------------------------------------------------
# kind: "null" (false alarms), "power", "detect" (missingness, unseen), "harmless".
# groups: the columns each reported per-feature rate is taken over.
def make_cells(args: argparse.Namespace) -> list[dict[str, Any]]:
    cat_cols = [f"c{i}" for i in range(5)]
    normal, lognormal = ["n0", "n1", "n2"], ["l0", "l1", "l2"]
    cells: list[dict[str, Any]] = []
    for k in (3, 10, 50):
        cells.append(
            {
                "name": f"null_cat{k}",
                "label": f"null, categorical k={k}",
                "kind": "null",
                "dataset": f"cat{k}",
                "groups": {"per feature": cat_cols},
                "drift": {},
            }
        )
    cells.append(
        {
            "name": "null_num",
            "label": "null, numeric",
            "kind": "null",
            "dataset": "num",
            "groups": {
                "per feature": normal + lognormal,
                "normal": normal,
                "lognormal": lognormal,
            },
            "drift": {},
        }
    )
    for n in SMALL_WINDOWS:
        for k in (3, 10, 50):
            cells.append(
                {
                    "name": f"null_cat{k}_n{n}",
                    "label": f"null, categorical k={k}, {n} rows",
                    "kind": "null",
                    "dataset": f"cat{k}",
                    "groups": {"per feature": cat_cols},
                    "drift": {},
                    "rows": n,
                }
            )
        cells.append(
            {
                "name": f"null_num_n{n}",
                "label": f"null, numeric, {n} rows",
                "kind": "null",
                "dataset": "num",
                "groups": {"normal": normal, "lognormal": lognormal},
                "drift": {},
                "rows": n,
            }
        )
    cells += [
        {
            "name": "glaring_mean_n50",
            "label": "glaring: 1σ mean shift, 50 rows",
            "kind": "glaring",
            "dataset": "num",
            "groups": {"normal": ["n0"], "lognormal": ["l0"]},
            "others": ["n1", "n2", "l1", "l2"],
            "drift": {"shift": {"n0": 1.0, "l0": 1.0}},
            "rows": 50,
        },
    ]
    for k in (3, 10, 50):
        # the commonest category whose share can double: 27 % -> 55 % (k = 3),
        # 34 % -> 68 % (k = 10), 22 % -> 44 % (k = 50)
        j = 1 if k == 3 else 0
        cells.append(
            {
                "name": f"glaring_share_cat{k}_n50",
                "label": f"glaring: category {j + 1}'s share doubles, k={k}, 50 rows",
                "kind": "glaring",
                "dataset": f"cat{k}",
                "groups": {"per feature": ["c0"]},
                "others": cat_cols[1:],
                "drift": {"double": {"c0": j}},
                "rows": 50,
            }
        )
    cells += [
        {
            "name": "null_corr",
            "label": f"null, correlated pair (ρ = {RHO:g})",
            "kind": "null",
            "dataset": "corr",
            "groups": {"per feature": [n for n, _, _ in DATASETS["corr"]]},
            "drift": {},
        },
        {
            "name": "flip_corr",
            "label": f"correlation flip {RHO:g} → −{RHO:g}, marginals unchanged",
            "kind": "joint",
            "dataset": "corr",
            "groups": {"pair": ["n0", "n1"]},
            "others": ["n2", "l0", "l1", "l2"],
            "drift": {"flip": {"n1": "n0"}},
        },
    ]
    for delta in (0.1, 0.2, 0.5):
        cells.append(
            {
                "name": f"power_{delta:g}",
                "label": f"power, {delta:g}σ mean shift",
                "kind": "power",
                "delta": delta,
                "dataset": "num",
                "groups": {"normal": ["n0"], "lognormal": ["l0"]},
                "others": ["n1", "n2", "l1", "l2"],
                "drift": {"shift": {"n0": delta, "l0": delta}},
                # power at a shift is an average over references as well as windows:
                # one reference sample sits a little off its population (its mean by
                # about 0.01 sigma at 10,000 rows), which moves a 0.1 sigma shift's
                # power by several points either way
                "references": POWER_REFERENCES,
                **({"trials": args.null_trials} if delta == 0.1 else {}),
            }
        )
    cells += [
        {
            "name": "missing_num",
            "label": "missing 0→5 %, numeric",
            "kind": "detect",
            "dataset": "num",
            "groups": {"per feature": ["n1"]},
            "others": ["n0", "n2", "l0", "l1", "l2"],
            "drift": {"missing": {"n1": 0.05}},
        },
        {
            "name": "missing_cat",
            "label": "missing 0→5 %, categorical k=10",
            "kind": "detect",
            "dataset": "cat10",
            "groups": {"per feature": ["c1"]},
            "others": ["c0", "c2", "c3", "c4"],
            "drift": {"missing": {"c1": 0.05}},
        },
        {
            "name": "unseen_cat",
            "label": "unseen categories 2 %, k=10",
            "kind": "detect",
            "dataset": "cat10",
            "groups": {"per feature": ["c0"]},
            "others": ["c1", "c2", "c3", "c4"],
            "drift": {"unseen": {"c0": 0.02}},
        },
        {
            "name": "harmless",
            "label": f"harmless 0.02σ shift, {args.harmless_rows // 1000}k rows",
            "kind": "harmless",
            "dataset": "num",
            "rows": args.harmless_rows,
            "trials": args.harmless_trials,
            "groups": {"per feature": normal + lognormal},
            "drift": {"shift": dict.fromkeys(normal + lognormal, 0.02)},
        },
    ]
    for cell in cells:
        cell.setdefault("rows", WINDOW)
        if cell["kind"] == "null":  # a 5 % level needs more windows than power does
            cell.setdefault("trials", args.null_trials)
        cell.setdefault("trials", args.trials)
        cell.setdefault("others", [])
    return cells


def write_cell(cell: dict[str, Any], tmp: Path) -> Path:
    """Every trial's window of a cell, in one parquet file with a trial column."""
    spec = DATASETS[cell["dataset"]]
    rng = np.random.default_rng(seed_of(cell["name"]))
    n, trials = cell["rows"], cell["trials"]
    frame = inject(draw(spec, n * trials, rng), spec, cell["drift"], rng)
    frame.insert(0, TRIAL, np.repeat(np.arange(trials, dtype=np.int64), n))
    path = tmp / f"current-{cell['name']}.parquet"
    frame.to_parquet(path)
    return path


def windows(path: Path, rows: int) -> list[pd.DataFrame]:
    frame = pd.read_parquet(path).drop(columns=TRIAL)
    return [
        frame.iloc[a : a + rows].reset_index(drop=True)
        for a in range(0, len(frame), rows)
    ]


# -- featurekit's side of the trials -------------------------------------------------
def featurekit_trials(
    cell: dict[str, Any], artifact: Path | list[Path], current: Path
) -> dict[str, Any]:
    """Every window of a cell through ``fk.drift``; window t against reference t mod R."""
    from serving import Predictor

    paths = artifact if isinstance(artifact, list) else [artifact]
    # loaded once each, as a monitor holds them
    predictors = [Predictor.load(path) for path in paths]
    columns = [name for name, _, _ in DATASETS[cell["dataset"]]]
    t0 = time.perf_counter()
    flags, dataset = [], []
    signals: dict[str, dict[str, int]] = {c: {} for c in columns}
    effects: dict[str, list[tuple[float, float]]] = {c: [] for c in columns}
    outputs_flagged = 0
    joint: list[int] = []
    tests = 0
    for t, window in enumerate(windows(current, cell["rows"])):
        report = fk.drift(predictors[t % len(predictors)], window)
        rows = {r["feature"]: r for r in report.features}
        if JOINT in rows:
            joint.append(int(rows[JOINT]["verdict"] == "drift"))
        flags.append([rows[c]["verdict"] == "drift" for c in columns])
        dataset.append(report.drifted)
        tests = len(report.features)
        outputs_flagged += any(
            r["verdict"] == "drift" for r in report.features if r["kind"] == "output"
        )
        for c in columns:
            for s in rows[c]["signals"]:
                signals[c][s] = signals[c].get(s, 0) + 1
            if rows[c].get("effect") is not None:
                effects[c].append((rows[c]["effect"], rows[c]["threshold"]))
    return {
        "columns": columns,
        "flags": np.asarray(flags, dtype=int).tolist(),
        "dataset": np.asarray(dataset, dtype=int).tolist(),
        "signals": signals,
        "outputs_flagged_trials": outputs_flagged,
        "tests": tests,  # rows of a report: the family the Bonferroni/BH cut-offs span
        "multivariate": rate(sum(joint), len(joint)) if joint else None,
        "effect_median": {
            c: float(np.median([e for e, _ in v])) if v else None
            for c, v in effects.items()
        },
        "threshold_median": {
            c: float(np.median([t for _, t in v])) if v else None
            for c, v in effects.items()
        },
        "seconds": time.perf_counter() - t0,
    }


# -- rates ---------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(k, n)
    return {"rate": k / n if n else 0.0, "k": k, "n": n, "ci95": [lo, hi]}


def summarise(cell: dict[str, Any], side: dict[str, Any]) -> dict[str, Any]:
    """Per group: share of flagged (trial, column) pairs; per dataset: share of trials."""
    flags = np.asarray(side["flags"], dtype=bool)
    index = {c: j for j, c in enumerate(side["columns"])}
    out: dict[str, Any] = {"groups": {}}
    for group, cols in cell["groups"].items():
        sub = flags[:, [index[c] for c in cols]]
        out["groups"][group] = rate(int(sub.sum()), sub.size)
    if cell["others"]:
        sub = flags[:, [index[c] for c in cell["others"]]]
        out["others"] = rate(int(sub.sum()), sub.size)
    dataset = np.asarray(side["dataset"], dtype=bool)
    out["dataset"] = rate(int(dataset.sum()), dataset.size)
    out["per_column"] = {
        c: rate(int(flags[:, j].sum()), flags.shape[0]) for c, j in index.items()
    }
    return out


def fmt_rate(r: dict[str, Any] | None) -> str:
    if r is None:
        return "-"
    lo, hi = r["ci95"]
    return f"{100 * r['rate']:5.1f}% [{100 * lo:.1f}-{100 * hi:.1f}]"


# -- Evidently -----------------------------------------------------------------------
def evidently_python() -> Path:
    """The venv's interpreter, with the pinned Evidently installed (created if missing)."""
    py = VENV / "bin" / "python"
    if py.exists():
        probe = subprocess.run(
            [str(py), str(WORKER), "version"], capture_output=True, text=True
        )
        if (
            probe.returncode == 0
            and json.loads(probe.stdout)["evidently"] == EVIDENTLY_VERSION
        ):
            return py
    t0 = time.perf_counter()
    print(
        f"installing {' '.join(EVIDENTLY_REQUIREMENTS)} into {VENV.relative_to(ROOT)} "
        "(once) ...",
        flush=True,
    )
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    done = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", *EVIDENTLY_REQUIREMENTS],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"Could not install {EVIDENTLY_REQUIREMENTS} into {VENV}: pip said\n"
            f"{done.stderr[-2000:]}\nFix the venv (or delete it to start over), or "
            "run with --no-evidently to measure featurekit alone."
        )
    print(f"  installed in {time.perf_counter() - t0:.0f} s")
    return py


def run_worker(
    py: Path, command: str, job: dict[str, Any], tmp: Path, *, wait: bool = True
) -> Any:
    """Run the worker on `job`; returns its answer, or a handle to `collect` later."""
    stem = f"{command}-{seed_of(json.dumps(job, sort_keys=True))}"
    job_path, out_path = tmp / f"{stem}.json", tmp / f"{stem}-out.json"
    job_path.write_text(json.dumps(job))
    log = (tmp / f"{stem}.log").open("w")  # a file, not a pipe: it cannot fill up
    proc = subprocess.Popen(
        [str(py), str(WORKER), command, str(job_path), "--out", str(out_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    handle = (proc, out_path, command, log)
    return collect(handle) if wait else handle


def collect(handle: tuple[subprocess.Popen[bytes], Path, str, Any]) -> Any:
    proc, out_path, command, log = handle
    proc.wait()
    log.close()
    if proc.returncode != 0:
        text = Path(log.name).read_text()
        raise RuntimeError(
            f"The Evidently worker ({command}) failed with exit status "
            f"{proc.returncode}:\n{text[-3000:]}"
        )
    return json.loads(out_path.read_text())


# -- timing at 1M rows x 25 columns --------------------------------------------------
def time_featurekit(job_path: str, out_path: str) -> int:
    """Subprocess entry: time fk.drift on the job's files (so peak memory is its own)."""
    job = json.loads(Path(job_path).read_text())
    current = pd.read_parquet(job["current"])
    runs: dict[str, list[dict[str, Any]]] = {"inputs": [], "with_outputs": []}
    answer = None
    for _ in range(job["repeats"]):
        answer, seconds, peak, method = measure_call(
            lambda: fk.drift(job["artifact"], current, outputs=False)
        )
        runs["inputs"].append(
            {"seconds": seconds, "peak_mib": peak, "memory_method": method}
        )
    assert answer is not None
    for _ in range(job["repeats"] if job["with_outputs"] else 0):
        _, seconds, peak, method = measure_call(
            lambda: fk.drift(job["artifact"], current, outputs=True)
        )
        runs["with_outputs"].append(
            {"seconds": seconds, "peak_mib": peak, "memory_method": method}
        )
    table = answer.table
    Path(out_path).write_text(
        json.dumps(
            {
                "rows": len(current),
                "columns": current.shape[1],
                "runs": runs,
                "drifted_columns": int((table["verdict"] == "drift").sum()),
                "dataset_drift": bool(answer.drifted),
            }
        )
    )
    return 0


def prepare_timing(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """The 25-column artifact, its reference and the current frame, as files."""
    spec = DATASETS["wide"]
    artifact, reference, costs = build_artifact(
        "wide", args.timing_reference_rows, seed_of("wide-reference"), tmp
    )
    current = tmp / "current-wide.parquet"
    draw(spec, args.timing_rows, np.random.default_rng(seed_of("wide"))).to_parquet(
        current
    )
    return {
        "artifact": str(artifact),
        "reference": str(reference),
        "current": str(current),
        "numerical": [n for n, kind, _ in spec if kind != "categorical"],
        "categorical": [n for n, kind, _ in spec if kind == "categorical"],
        "featurekit_fit_export": costs,
    }


def run_timing(
    args: argparse.Namespace, files: dict[str, Any], tmp: Path, py: Path | None
) -> dict[str, Any]:
    """Each side in a subprocess of its own, one after the other, nothing else running."""
    out: dict[str, Any] = {
        "rows": args.timing_rows,
        "reference_rows": args.timing_reference_rows,
        "numeric_columns": len(files["numerical"]),
        "categorical_columns": len(files["categorical"]),
        "featurekit_fit_export": files["featurekit_fit_export"],
    }
    job = {
        "artifact": files["artifact"],
        "current": files["current"],
        "repeats": args.repeats,
        "with_outputs": not args.quick,
    }
    job_path, out_path = tmp / "time-featurekit.json", tmp / "time-featurekit-out.json"
    job_path.write_text(json.dumps(job))
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--time-featurekit",
            str(job_path),
            "--out",
            str(out_path),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"featurekit timing subprocess failed:\n{done.stderr}")
    out["featurekit"] = json.loads(out_path.read_text())
    if py is not None:
        base = {
            k: files[k] for k in ("reference", "current", "numerical", "categorical")
        }
        out["evidently"] = run_worker(
            py,
            "time",
            {**base, "engine": "report", "repeats": args.evidently_repeats},
            tmp,
        )["result"]
        if not args.quick:
            out["evidently_tests_only"] = run_worker(
                py, "time", {**base, "engine": "stattests", "repeats": 1}, tmp
            )["result"]
    return out


def evidently_cell(
    cell: dict[str, Any],
    artifacts: dict[str, tuple[Path, Path, dict[str, float]]],
    currents: dict[str, Path],
    args: argparse.Namespace,
) -> dict[str, Any]:
    spec = DATASETS[cell["dataset"]]
    # --quick cross-checks the null cells only: a full report takes seconds
    crosscheck = args.crosscheck if cell["kind"] == "null" or not args.quick else 0
    return {
        "name": cell["name"],
        "reference": [str(artifacts[key][1]) for key in reference_keys(cell)],
        "current": str(currents[cell["name"]]),
        "numerical": [n for n, kind, _ in spec if kind != "categorical"],
        "categorical": [n for n, kind, _ in spec if kind == "categorical"],
        "crosscheck": crosscheck,
    }


def reference_keys(cell: dict[str, Any]) -> list[str]:
    """The artifacts a cell's windows are tested against, in turn (window t: t mod R)."""
    key = cell["dataset"]
    return [key] + [f"{key}-ref{r}" for r in range(1, cell.get("references", 1))]


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return float(np.median([r[key] for r in runs]))


# -- report --------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="short run (1-2 min), indicative only"
    )
    add_json_option(parser, "drift")
    parser.add_argument(
        "--no-evidently",
        action="store_true",
        help="measure featurekit alone (no venv, no install)",
    )
    parser.add_argument(
        "--trials", type=int, help="windows per cell (default 200; quick 20)"
    )
    parser.add_argument(
        "--null-trials",
        type=int,
        help="windows per null cell (default: --trials; 400 gives +-2 points at 5 %%)",
    )
    parser.add_argument(
        "--timing-rows",
        type=int,
        help="rows of the timed frame (default 1000000; quick 100000)",
    )
    parser.add_argument(
        "--evidently-repeats",
        type=int,
        default=1,
        help="timed runs of Evidently's report (default 1: it takes minutes)",
    )
    parser.add_argument("--time-featurekit", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_featurekit:
        return time_featurekit(args.time_featurekit, args.out)
    run = Run("drift")

    quick = args.quick
    args.trials = args.trials or (20 if quick else 200)
    args.null_trials = args.null_trials or args.trials
    args.harmless_trials = 5 if quick else 50
    args.harmless_rows = 100_000
    args.timing_rows = args.timing_rows or (100_000 if quick else 1_000_000)
    args.timing_reference_rows = 10_000 if quick else 100_000
    args.repeats = 3
    args.crosscheck = 1 if quick else 5

    t_start = time.perf_counter()
    py = None if args.no_evidently else evidently_python()
    ev_env: dict[str, Any] = {}
    if py is not None:
        ev_env = json.loads(
            subprocess.run(
                [str(py), str(WORKER), "version"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    env = {
        **versions("numpy", "pandas", "scikit-learn", "featurekit"),
        "evidently": ev_env.get("evidently"),
        "evidently_pandas": ev_env.get("pandas"),
    }
    ev_name = f"Evidently {env['evidently']}" if py is not None else "Evidently"
    print(
        f"featurekit drift benchmark{' (--quick: indicative only)' if quick else ''}: "
        f"featurekit.drift vs {ev_name} (default DataDriftPreset), same data\n"
        f"reference {REFERENCE_ROWS:,} rows; windows of {WINDOW:,} rows, "
        f"{args.trials} per cell ({args.harmless_trials} of "
        f"{args.harmless_rows:,} rows for the harmless shift); rates with Wilson 95% "
        "intervals\n"
        f"load average {run.load_start[0]:.1f}; numpy {env['numpy']}, pandas "
        f"{env['pandas']}, scikit-learn {env['scikit-learn']}; Evidently side: "
        + (
            f"evidently {env['evidently']}, pandas {env['evidently_pandas']} in "
            f"{VENV.relative_to(ROOT)}"
            if py is not None
            else "skipped (--no-evidently)"
        )
        + f"; code: {run.code['git']}",
        flush=True,
    )

    cells = make_cells(args)
    with tempfile.TemporaryDirectory(prefix="fk-bench-drift-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        artifacts: dict[str, tuple[Path, Path, dict[str, float]]] = {}
        for key in ("cat3", "cat10", "cat50", "num", "corr"):
            artifacts[key] = build_artifact(key, REFERENCE_ROWS, seed_of(key), tmp)
        for cell in cells:  # other reference draws, for the cells that average them
            for name in reference_keys(cell)[1:]:
                if name not in artifacts:
                    artifacts[name] = build_artifact(
                        cell["dataset"], REFERENCE_ROWS, seed_of(name), tmp, name
                    )
        currents = {cell["name"]: write_cell(cell, tmp) for cell in cells}
        print(
            f"data: {len(cells)} cells, {len(artifacts)} artifacts fitted and exported "
            f"in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )

        handle = None
        if py is not None:
            job = {
                "cells": [
                    evidently_cell(cell, artifacts, currents, args) for cell in cells
                ]
            }
            handle = run_worker(py, "trials", job, tmp, wait=False)
        t0 = time.perf_counter()
        fk_raw = {
            cell["name"]: featurekit_trials(
                cell,
                [artifacts[key][0] for key in reference_keys(cell)],
                currents[cell["name"]],
            )
            for cell in cells
        }
        fk_trials_s = time.perf_counter() - t0
        for cell in cells:  # the oracle's power on the same windows: the ceiling
            for column, j in cell["drift"].get("double", {}).items():
                k = next(k for n, _, k in DATASETS[cell["dataset"]] if n == column)
                got = oracle_power(
                    column,
                    str(levels(column, k)[0][j]),
                    artifacts[cell["dataset"]][1],
                    windows(currents[cell["name"]], cell["rows"]),
                    fk_raw[cell["name"]]["tests"],
                )
                fk_raw[cell["name"]]["ceiling"] = {
                    **got,
                    "at_alpha": rate(got["alpha"], got["windows"]),
                    "at_family": rate(got["family"], got["windows"]),
                }
        # label-free performance: featurekit only (Evidently's preset has none)
        estimated = estimate_trials(args.trials, WINDOW, tmp)
        files = prepare_timing(args, tmp)  # while Evidently's trials still run
        ev_raw = collect(handle)["result"] if handle is not None else {}
        print(
            f"trials: featurekit {fk_trials_s:.0f} s"
            + (
                f", Evidently {sum(c['seconds'] for c in ev_raw.values()):.0f} s "
                "(in parallel)"
                if ev_raw
                else ""
            ),
            flush=True,
        )
        # timed last, alone: nothing else of ours runs meanwhile
        t0 = time.perf_counter()
        timing = run_timing(args, files, tmp, py)
        print(
            f"timing {args.timing_rows:,} rows x 25 columns: "
            f"{time.perf_counter() - t0:.0f} s",
            flush=True,
        )

    results: dict[str, Any] = {}
    for cell in cells:
        entry: dict[str, Any] = {
            k: v for k, v in cell.items() if k not in ("groups", "others")
        }
        entry["groups"] = cell["groups"]
        entry["others"] = cell["others"]
        entry["featurekit"] = {
            **fk_raw[cell["name"]],
            **summarise(cell, fk_raw[cell["name"]]),
        }
        if cell["name"] in ev_raw:
            entry["evidently"] = {
                **ev_raw[cell["name"]],
                **summarise(cell, ev_raw[cell["name"]]),
            }
        if "evidently" in entry:
            entry["paired"] = paired(entry)
        if "ceiling" in fk_raw[cell["name"]]:
            entry["ceiling"] = fk_raw[cell["name"]].pop("ceiling")
        results[cell["name"]] = entry
    verdicts = print_report(results, timing, ev_name, py is not None)
    verdicts.append(print_estimate(estimated))
    total = time.perf_counter() - t_start
    passed = [v for v in verdicts if v["pass"] is not None]
    print(
        f"\n{sum(v['pass'] for v in passed)} of {len(passed)} 'Done when' lines PASS"
        f"{'' if len(passed) == len(verdicts) else ' (the rest need Evidently)'} "
        f"(total {total:.0f} s; exit status is always 0: this is a measurement, "
        "not a test)"
    )

    n = timing["rows"]
    rows = f"{n // 1000:,}k" if n < 10**6 else f"{n / 1e6:g}M"
    fk_runs = [r["seconds"] for r in timing["featurekit"]["runs"]["inputs"]]
    budgets = [
        budget(
            f"fk.drift, {rows} rows x 25 columns: seconds",
            spread(fk_runs),
            "s",
            at_most=TIME_MAX_S,
        ),
        budget(
            f"{rows} rows x 25 columns: Evidently / featurekit time",
            timing.get("speed_ratio"),
            "x",
            at_least=SPEED_MIN,
        ),
    ]
    print()
    print_budgets(budgets)

    if args.json:
        run.write(
            args.json,
            config={
                "quick": quick,
                "reference_rows": REFERENCE_ROWS,
                "window": WINDOW,
                "trials": args.trials,
                "null_trials": args.null_trials,
                "harmless_trials": args.harmless_trials,
                "harmless_rows": args.harmless_rows,
                "timing_rows": args.timing_rows,
                "timing_reference_rows": args.timing_reference_rows,
                "featurekit_repeats": args.repeats,
                "evidently": py is not None,
                "evidently_repeats": args.evidently_repeats,
                "evidently_crosscheck_trials": args.crosscheck,
                "evidently_requirements": EVIDENTLY_REQUIREMENTS,
                "datasets": {k: [list(c) for c in v] for k, v in DATASETS.items()},
            },
            budgets=[
                {**b, "case": "LogisticRegression, 15 numeric + 10 categorical"}
                for b in budgets
            ],
            results={
                "targets": {
                    "false_alarm_max": FALSE_ALARM_MAX,
                    "detect_min": DETECT_MIN,
                    "harmless_max": HARMLESS_MAX,
                    "speed_min": SPEED_MIN,
                    "time_max_s": TIME_MAX_S,
                    "glaring_min": GLARING_MIN,
                    "joint_min": JOINT_MIN,
                    "power_01_min": POWER_01_MIN,
                },
                "cells": results,
                "timing": timing,
                "estimate": estimated,
                "verdicts": verdicts,
            },
            versions=env,
        )
    return 0


def paired(cell: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per group, on the same (window, column) pairs: flagged by one side only."""
    fk_s, ev_s = cell["featurekit"], cell["evidently"]
    out = {}
    for group, cols in cell["groups"].items():
        fk_f = np.asarray(fk_s["flags"], bool)[
            :, [fk_s["columns"].index(c) for c in cols]
        ]
        ev_f = np.asarray(ev_s["flags"], bool)[
            :, [ev_s["columns"].index(c) for c in cols]
        ]
        out[group] = {
            "featurekit_only": int((fk_f & ~ev_f).sum()),
            "evidently_only": int((ev_f & ~fk_f).sum()),
        }
    return out


def print_report(
    results: dict[str, Any], timing: dict[str, Any], ev_name: str, with_ev: bool
) -> list[dict[str, Any]]:
    width = 60
    print(
        f"\n  {'cell (rates: flagged share, Wilson 95% interval)':<{width}}"
        f"{'featurekit':<24}{ev_name:<24}{'target':<14}verdict"
    )
    lines: dict[str, list[bool | None]] = {
        "null": [],
        "power": [],
        "detect": [],
        "harmless": [],
        "glaring": [],
        "joint": [],
        "power_01": [],
    }

    def line(name: str, fk_r: Any, ev_r: Any, target: str, ok: bool | None) -> None:
        verdict = (
            ""
            if target in ("(context)", "(ceiling)")
            else {True: "PASS", False: "MISS"}.get(ok, "n/a")
        )
        print(
            f"    {name:<{width - 2}}{fmt_rate(fk_r):<24}{fmt_rate(ev_r):<24}"
            f"{target:<14}{verdict}"
        )

    for cell in results.values():
        fk_s, ev_s = cell["featurekit"], cell.get("evidently")
        kind = cell["kind"]
        for group, r in fk_s["groups"].items():
            ev_r = ev_s["groups"][group] if ev_s else None
            name = f"{cell['label']}: {group}"
            if kind == "null":
                ok: bool | None = r["rate"] <= FALSE_ALARM_MAX
                target = f"<= {FALSE_ALARM_MAX:.0%}"
            elif kind == "harmless":
                ok = r["rate"] <= HARMLESS_MAX
                target = f"<= {HARMLESS_MAX:.0%}"
            elif kind == "power":
                ok = r["rate"] >= ev_r["rate"] if ev_r else None
                target = ">= Evidently"
                if cell.get("delta") == 0.1 and group == "normal":
                    lines["power_01"].append(r["rate"] >= POWER_01_MIN)
                    target = f">= Ev., {POWER_01_MIN:.0%}"
                    ok = ok is not False and r["rate"] >= POWER_01_MIN
            elif kind == "glaring":
                ok = r["rate"] >= GLARING_MIN
                target = f">= {GLARING_MIN:.0%}"
            elif kind == "joint":
                ok = None
                target = "(context)"
            else:
                ok = r["rate"] >= DETECT_MIN
                target = f">= {DETECT_MIN:.0%}"
            if kind != "joint":
                lines[kind].append(ok)
            line(name, r, ev_r, target, ok)
            if kind == "power" and ev_s:
                d = cell["paired"][group]
                print(
                    f"      same windows, flagged by one side only: featurekit "
                    f"{d['featurekit_only']}, Evidently {d['evidently_only']}"
                )
        ev_d = ev_s["dataset"] if ev_s else None
        if kind in ("null", "harmless"):
            limit = FALSE_ALARM_MAX if kind == "null" else HARMLESS_MAX
            ok = fk_s["dataset"]["rate"] <= limit
            lines[kind].append(ok)
            target = f"<= {limit:.0%}"
            line(f"{cell['label']}: dataset", fk_s["dataset"], ev_d, target, ok)
        elif kind == "joint":
            ok = fk_s["dataset"]["rate"] >= JOINT_MIN
            lines["joint"].append(ok)
            target = f">= {JOINT_MIN:.0%}"
            line(f"{cell['label']}: dataset", fk_s["dataset"], ev_d, target, ok)
        else:
            line(f"{cell['label']}: dataset", fk_s["dataset"], ev_d, "(context)", None)
        if fk_s.get("multivariate") is not None:
            label = f"{cell['label']}: featurekit's multivariate row"
            line(label, fk_s["multivariate"], None, "(context)", None)
        if "ceiling" in cell:
            c = cell["ceiling"]
            label = (
                f"{cell['label']}: ceiling, exact binomial oracle at 5 %/{c['tests']}"
            )
            line(label, c["at_family"], None, "(ceiling)", None)
            label = f"{cell['label']}: oracle knowing the column too, at 5 %"
            line(label, c["at_alpha"], None, "(ceiling)", None)
        if kind in ("power", "detect"):
            ev_o = ev_s["others"] if ev_s else None
            label = f"{cell['label']}: undrifted columns"
            line(label, fk_s["others"], ev_o, "(context)", None)

    # timing
    fk_t = timing["featurekit"]
    fk_s = median_of(fk_t["runs"]["inputs"], "seconds")
    fk_m = median_of(fk_t["runs"]["inputs"], "peak_mib")
    n = timing["rows"]
    rows = f"{n // 1000:,}k" if n < 10**6 else f"{n / 1e6:g}M"
    print(
        f"\n  {rows} rows x {timing['numeric_columns'] + timing['categorical_columns']} "
        f"columns ({timing['numeric_columns']} numeric, "
        f"{timing['categorical_columns']} categorical), no drift, reference "
        f"{timing['reference_rows']:,} rows; peak memory = growth of the resident set "
        f"during the call ({fk_t['runs']['inputs'][0]['memory_method']})"
    )
    label = (
        f"featurekit fk.drift(outputs=False), median of {len(fk_t['runs']['inputs'])}"
    )
    print(f"    {label:<58}{fk_s:8.2f} s   peak {fk_m:7.0f} MiB")
    if fk_t["runs"]["with_outputs"]:
        fk_o = median_of(fk_t["runs"]["with_outputs"], "seconds")
        fk_om = median_of(fk_t["runs"]["with_outputs"], "peak_mib")
        label = (
            f"featurekit fk.drift(outputs=True), median of "
            f"{len(fk_t['runs']['with_outputs'])}"
        )
        print(
            f"    {label:<58}{fk_o:8.2f} s   peak {fk_om:7.0f} MiB   (context: "
            "also scores the rows)"
        )
    time_ok = fk_s <= TIME_MAX_S
    print(
        f"    time: featurekit {fk_s:.2f} s (target <= {TIME_MAX_S:g} s: "
        f"{'PASS' if time_ok else 'MISS'})"
    )
    speed_ok: bool | None = None
    if with_ev:
        ev_t = timing["evidently"]
        ev_s = median_of(ev_t["runs"], "seconds")
        ev_m = median_of(ev_t["runs"], "peak_mib")
        ratio = ev_s / fk_s
        speed_ok = ratio >= SPEED_MIN
        label = f"Evidently Report([DataDriftPreset()]).run, {len(ev_t['runs'])} run(s)"
        print(f"    {label:<58}{ev_s:8.2f} s   peak {ev_m:7.0f} MiB")
        timing["speed_ratio"] = ratio
        timing["memory_ratio"] = ev_m / max(fk_m, 1e-9)
        tests = timing.get("evidently_tests_only")
        if tests:
            ev_ts = median_of(tests["runs"], "seconds")
            label = "Evidently's per-column tests alone, no report (context)"
            print(
                f"    {label:<58}{ev_ts:8.2f} s   peak "
                f"{median_of(tests['runs'], 'peak_mib'):7.0f} MiB"
            )
            timing["speed_ratio_tests_only"] = ev_ts / fk_s
        print(
            f"    speed: Evidently / featurekit {ratio:.1f}x (target >= {SPEED_MIN:g}x: "
            f"{'PASS' if speed_ok else 'MISS'})"
            + (
                f"; tests alone / featurekit {timing['speed_ratio_tests_only']:.1f}x"
                if tests
                else ""
            )
            + f"; peak memory Evidently / featurekit {timing['memory_ratio']:.1f}x"
        )
        bad = [
            (name, cell["evidently"]["crosscheck_mismatches"])
            for name, cell in results.items()
            if cell["evidently"]["crosscheck_mismatches"]
        ]
        checked = sum(c["evidently"]["crosscheck_trials"] for c in results.values())
        if bad:
            print(
                f"  WARNING: Evidently's per-column tests disagree with its full Report "
                f"on {bad!r}"
            )
        else:
            print(
                f"  cross-check: Evidently's per-column tests gave the full Report's "
                f"verdicts on all {checked} windows checked"
            )

    def all_of(values: list[bool | None]) -> bool | None:
        if any(v is None for v in values):
            return None
        return all(bool(v) for v in values)

    verdicts = [
        {
            "name": f"false-alarm rate <= {FALSE_ALARM_MAX:.0%} in every null cell "
            "(per feature and per dataset)",
            "pass": all_of(lines["null"]),
        },
        {
            "name": "power >= Evidently's at shifts >= 0.1σ (per feature)",
            "pass": all_of(lines["power"]),
        },
        {
            "name": f"missingness and unseen-category jumps detected (>= {DETECT_MIN:.0%})",
            "pass": all_of(lines["detect"]),
        },
        {
            "name": f"<= {HARMLESS_MAX:.0%} alarms on the harmless 0.02σ shift "
            "(per feature and per dataset)",
            "pass": all_of(lines["harmless"]),
        },
        {
            "name": f"power >= {GLARING_MIN:.0%} on glaring shifts at 50 rows "
            "(1σ mean; a category's share doubling)",
            "pass": all_of(lines["glaring"]),
        },
        {
            "name": f"correlation flip detected in >= {JOINT_MIN:.0%} of windows "
            "(its null cell <= 5 %)",
            "pass": all_of(lines["joint"]),
        },
        {
            "name": f"power >= {POWER_01_MIN:.0%} at a 0.1σ shift (normal column)",
            "pass": all_of(lines["power_01"]),
        },
        {
            "name": f"fk.drift at {rows} x 25 in <= {TIME_MAX_S:g} s",
            "pass": time_ok,
        },
        {
            "name": f">= {SPEED_MIN:g}x Evidently's speed at {rows} x 25",
            "pass": speed_ok,
        },
    ]
    print("\n  Done when:")
    for v in verdicts:
        verdict = {True: "PASS", False: "MISS"}.get(v["pass"], "n/a")
        print(f"    {v['name']:<80}{verdict}")
    return verdicts


if __name__ == "__main__":
    sys.exit(main())
