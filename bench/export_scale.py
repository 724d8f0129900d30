"""Export at scale: a big forest's export against its fit, its artifact against skl2onnx.

Budgets, on the demo's credit data (``examples/credit_data.py``: 7 raw columns,
``examples/credit_features.yaml``), generated at scale:

- a ``RandomForestClassifier`` of 200 trees at the default depth, fitted on 40,000
  rows, exports (certificate included) in at most 3x its fit time: the median of the
  per-repeat export/fit ratios, fit and export alternating;
- its artifact (every file) is at most 1.5x skl2onnx's graph of the bare forest
  (``convert_sklearn`` with ZipMap off and float inputs, its smallest);
- the 300-tree forest on 50,000 rows exports in under 2 GiB resident (the peak RSS of
  the process that loads the fitted pipeline and exports it).

Each fit and each export runs in a fresh process: the fit pickles the pipeline to a
temporary file, the export loads it, so the export's peak RSS is its own. Both time
wall clock; the machine's load at the start and end is recorded, and the paired
ratio (fit and export of one repeat ran back to back) cancels most of it.

Run: python bench/export_scale.py [--quick] [--repeats N] [--json [PATH]]
(default PATH: bench/results/export_scale.json). ``--quick`` runs small forests once,
indicative only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, Run, add_json_option, budget, paired, print_budgets, versions

EXAMPLES = ROOT / "examples"
GIB = 2**30
#: (name, trees, training rows, budgets checked on it)
CASES = {
    "rf200": (200, 40_000, ("ratio", "size")),
    "rf300": (300, 50_000, ("memory",)),
}
QUICK = {"rf200": (40, 8_000), "rf300": (60, 10_000)}


# -- the children: one fit, one export, one skl2onnx conversion per process ----------
def _data(rows: int) -> tuple[Any, Any]:
    make_credit = runpy.run_path(str(EXAMPLES / "credit_data.py"))["make_credit"]
    return make_credit(rows, seed=0)


def _fit(trees: int, rows: int, out: Path) -> dict[str, Any]:
    import joblib
    from sklearn.ensemble import RandomForestClassifier

    import featurekit as fk

    frame, y = _data(rows)
    features = fk.FeatureSet.from_yaml((EXAMPLES / "credit_features.yaml").read_text())
    pipe = fk.make_pipeline(
        features, RandomForestClassifier(n_estimators=trees, random_state=0)
    )
    start = time.perf_counter()
    pipe.fit(frame, y)
    seconds = time.perf_counter() - start
    joblib.dump(pipe, out / "pipeline.joblib")
    model = pipe.named_steps["model"]
    return {
        "seconds": seconds,
        "nodes": int(sum(e.tree_.node_count for e in model.estimators_)),
        "features": int(model.n_features_in_),
    }


def _export(rows: int, out: Path) -> dict[str, Any]:
    import joblib

    import featurekit as fk

    pipe = joblib.load(out / "pipeline.joblib")
    frame, _ = _data(rows)
    phases: dict[str, float] = {}

    def progress(event: Any) -> None:
        if event.done == 0:
            phases[event.phase] = event.elapsed

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    shutil.rmtree(out / "artifact", ignore_errors=True)  # the previous repeat's
    art = fk.export(pipe, out / "artifact", reference=frame, progress=progress)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    files = {p.name: p.stat().st_size for p in sorted(art.path.iterdir())}
    starts = sorted(phases.items(), key=lambda kv: kv[1])
    return {
        "seconds": seconds,
        "phases": {
            name: round(end - begin, 3)
            for (name, begin), (_, end) in zip(
                starts, [*starts[1:], ("end", seconds)], strict=True
            )
        },
        "peak_rss_bytes": peak * 1024,
        "rss_before_export_bytes": before * 1024,
        "files": files,
        "artifact_bytes": sum(files.values()),
        "certificate": art.certificate,
    }


def _skl2onnx(out: Path) -> dict[str, Any]:
    import joblib
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model = joblib.load(out / "pipeline.joblib").named_steps["model"]
    start = time.perf_counter()
    onx = convert_sklearn(
        model,
        initial_types=[("X", FloatTensorType([None, model.n_features_in_]))],
        options={id(model): {"zipmap": False}},
    )
    return {
        "bytes": len(onx.SerializeToString()),
        "seconds": time.perf_counter() - start,
    }


def _child(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    if args.child == "fit":
        result = _fit(args.trees, args.rows, out)
    elif args.child == "export":
        result = _export(args.rows, out)
    else:
        result = _skl2onnx(out)
    print(json.dumps(result))
    return 0


def _run_child(kind: str, trees: int, rows: int, tmp: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--trees",
            str(trees),
            "--rows",
            str(rows),
            "--dir",
            str(tmp),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{proc.stdout}\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- the parent: repeats, budgets, the record ----------------------------------------
def _case(name: str, trees: int, rows: int, repeats: int) -> dict[str, Any]:
    fits, exports = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            fit = _run_child("fit", trees, rows, Path(tmp))
            exported = _run_child("export", trees, rows, Path(tmp))
            fits.append(fit)
            exports.append(exported)
            print(
                f"  {name} repeat {r + 1}: fit {fit['seconds']:.1f} s, export "
                f"{exported['seconds']:.1f} s ({exported['seconds'] / fit['seconds']:.2f}"
                f"x), peak RSS {exported['peak_rss_bytes'] / GIB:.2f} GiB, phases "
                + ", ".join(f"{k} {v:.1f} s" for k, v in exported["phases"].items())
            )
        converted = _run_child("skl2onnx", trees, rows, Path(tmp))
    last = exports[-1]
    cert = last["certificate"]
    return {
        "trees": trees,
        "rows": rows,
        "nodes": fits[-1]["nodes"],
        "fit_s": [f["seconds"] for f in fits],
        "export_s": [e["seconds"] for e in exports],
        "export_over_fit": paired(
            [e["seconds"] for e in exports], [f["seconds"] for f in fits]
        ),
        "phases_s": {
            k: statistics.median(e["phases"][k] for e in exports)
            for k in last["phases"]
        },
        "peak_rss_bytes": max(e["peak_rss_bytes"] for e in exports),
        "files_bytes": last["files"],
        "artifact_bytes": last["artifact_bytes"],
        "skl2onnx_bytes": converted["bytes"],
        "skl2onnx_s": converted["seconds"],
        "artifact_over_skl2onnx": last["artifact_bytes"] / converted["bytes"],
        "certificate": {
            k: cert[k]
            for k in (
                "rows",
                "reference_rows",
                "edge_rows",
                "splits_covered",
                "method",
                "checks",
                "seconds",
                "max_abs_diff",
                "label_agreement",
            )
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small forests, once")
    parser.add_argument("--repeats", type=int, help="fit/export pairs (default 3)")
    add_json_option(parser, "export_scale")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--trees", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    run = Run("export_scale")
    repeats = args.repeats or (1 if args.quick else 3)
    results: dict[str, Any] = {}
    budgets: list[dict[str, Any]] = []
    for name, (trees, rows, checks) in CASES.items():
        if args.quick:
            trees, rows = QUICK[name]
        label = f"RandomForest {trees} trees, {rows:,} rows"
        print(f"{label}:")
        res = _case(name, trees, rows, repeats)
        results[name] = res
        mine = []
        if "ratio" in checks:
            mine.append(
                budget("export time / fit time", res["export_over_fit"], "x", at_most=3)
            )
        if "size" in checks:
            mine.append(
                budget(
                    "artifact / skl2onnx graph of the forest",
                    res["artifact_over_skl2onnx"],
                    "x",
                    at_most=1.5,
                )
            )
        if "memory" in checks:
            mine.append(
                budget("export peak RSS", res["peak_rss_bytes"] / GIB, "GiB", at_most=2)
            )
        print_budgets(mine)
        print(
            f"    artifact {res['artifact_bytes'] / 1e6:.1f} MB (model.onnx "
            f"{res['files_bytes']['model.onnx'] / 1e6:.1f} MB), skl2onnx "
            f"{res['skl2onnx_bytes'] / 1e6:.1f} MB; certificate: "
            f"{res['certificate']['rows']:,} rows, "
            f"{res['certificate']['splits_covered']:,} splits, "
            f"{res['certificate']['seconds']:.1f} s"
        )
        budgets += [{**b, "case": label} for b in mine]
    if args.json:
        run.write(
            args.json,
            config={
                "quick": args.quick,
                "repeats": repeats,
                "data": "examples/credit_data.py, examples/credit_features.yaml",
                "model": "RandomForestClassifier(random_state=0), default depth",
                "clock": "wall clock, fit and export each in a fresh process",
            },
            budgets=budgets,
            results=results,
            versions=versions(
                "numpy",
                "scikit-learn",
                "onnx",
                "onnxruntime",
                "skl2onnx",
                "featurekit",
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
