"""The ``featurekit`` command: ``check`` and ``drift ARTIFACT DATA`` for CI, ``serve``.

``export-triton`` (a Triton model repository) is `featurekit.cli.triton`; ``compare
CHAMPION CHALLENGER DATA`` (the champion/challenger gate, exit 0 promote, 1 keep,
3 inconclusive) is `featurekit.cli.compare`; ``monitor merge URL...`` (one drift
verdict for a fleet of replicas) is `featurekit.cli.monitor`.

Reading the data files is `featurekit.cli.files`.

``check`` reads a data file and checks it against the artifact's contract with the
reference (pandera) check, then runs the artifact's golden rows through
`serving.Predictor` on this machine; neither unpickles anything. Only with
``--trust-pickle`` does it unpickle ``pipeline.joblib`` and also compare scikit-learn
with serving on the rows that pass, with the certificate's tolerance: unpickling runs
any code the file names, and the manifest's sha256 is no protection against a file
whose hash was rewritten along with it.

A check that runs longer than a couple of seconds reports its phases (read,
contract, golden rows, parity) on stderr, as `featurekit.export` does
(`featurekit.exporting.progress`).

``drift`` reads a data file chunk by chunk (it may be larger than memory) and tests it
for drift against the artifact's reference profile with `featurekit.Drift`.

Exit status: 0 when everything holds, 1 when the contract or parity fails or drift is
found, 2 for a usage error (bad path, unreadable file, not an artifact), reported on
one line of stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from featurekit._version import __version__
from featurekit.cli.files import (
    CHUNK_ROWS,
    FORMATS,
    UsageError,
    read_chunks,
    read_data,
)
from featurekit.errors import ArtifactError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main", "read_chunks", "read_data"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``featurekit`` command and return its exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when everything holds, 1 when the contract or parity fails, 2 for a
        usage error.

    Examples
    --------
    >>> main(["check", "no/such/artifact", "data.csv"])
    2
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits itself on --help and on bad arguments
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    status: int = args.run(args)
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="featurekit",
        description="Ship scikit-learn models without training-serving skew.",
    )
    parser.add_argument(
        "--version", action="version", version=f"featurekit {__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="check a data file against an artifact's contract and parity",
        description=(
            "Check DATA against the contract of ARTIFACT, and run the artifact's "
            "golden rows (certified rows and answers stored at export) through this "
            "machine's onnxruntime. Nothing is unpickled unless --trust-pickle is "
            "given. Exit status: 0 all holds, 1 the contract, the golden rows or "
            "parity fails, 2 usage error."
        ),
    )
    check.add_argument("artifact", metavar="ARTIFACT", help="artifact directory")
    check.add_argument(
        "data", metavar="DATA", help="data file: .csv, .parquet or .jsonl"
    )
    check.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object instead of the report",
    )
    check.add_argument(
        "--trust-pickle",
        action="store_true",
        help=(
            "also unpickle ARTIFACT's pipeline.joblib and compare scikit-learn with "
            "serving on the rows of DATA that pass the contract. Unpickling runs any "
            "code the file holds, and its sha256 in manifest.json is no protection: "
            "whoever can change the file can rewrite the manifest. Only for "
            "artifacts you built; never in CI for an artifact from an untrusted pull "
            "request"
        ),
    )
    check.set_defaults(run=_check)
    drift = sub.add_parser(
        "drift",
        help="test a data file for drift against an artifact's reference profile",
        description=(
            "Test DATA for drift against the reference profile that ARTIFACT "
            "recorded at export: every input, and the model's outputs on the rows "
            "that pass the contract. The file is read in chunks, so it may be larger "
            "than memory. Exit status: 0 no drift (or too few rows to tell), 1 drift, "
            "2 usage error."
        ),
    )
    drift.add_argument("artifact", metavar="ARTIFACT", help="artifact directory")
    drift.add_argument(
        "data", metavar="DATA", help="data file: .csv, .parquet or .jsonl"
    )
    drift.add_argument(
        "--html", metavar="PATH", help="also write the HTML report (one page) to PATH"
    )
    drift.add_argument(
        "--json",
        action="store_true",
        help="print the report as one JSON object instead of the table",
    )
    drift.add_argument(
        "--no-outputs",
        dest="outputs",
        action="store_false",
        help="test the inputs only: do not score the rows",
    )
    # rows per chunk; hidden, for tests that need several chunks from a small file
    drift.add_argument(
        "--chunk-rows", type=int, default=CHUNK_ROWS, help=argparse.SUPPRESS
    )
    drift.set_defaults(run=_drift)
    serve = sub.add_parser(
        "serve",
        help="serve an artifact over HTTP (Open Inference Protocol, /predict, /metrics)",
        description=(
            "Serve ARTIFACT with uvicorn: Open Inference Protocol (KServe v2) REST, "
            "POST /predict and Prometheus /metrics. Every request is checked against "
            "the contract before the model runs."
        ),
    )
    from serving.server import add_arguments

    add_arguments(serve)
    serve.set_defaults(run=_serve)
    from featurekit.cli.compare import add_parser as add_compare
    from featurekit.cli.triton import add_export_triton

    add_export_triton(sub)
    add_compare(sub)
    from featurekit.cli.outcomes import add_outcome_commands

    add_outcome_commands(sub)
    from featurekit.cli.monitor import add_monitor

    add_monitor(sub)
    return parser


def _serve(args: argparse.Namespace) -> int:
    """``serve``, with MLflow model URIs (``models:/credit@champion``) resolved first."""
    from featurekit.mlflow_pyfunc import is_model_uri, resolve
    from serving.server import run

    try:
        for name in ("artifact", "shadow"):
            if is_model_uri(getattr(args, name, None)):
                setattr(args, name, str(resolve(getattr(args, name))))
    except ArtifactError as exc:
        print(f"featurekit serve: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    status: int = run(args)
    return status


def _check(args: argparse.Namespace) -> int:
    from featurekit.exporting.progress import Reporter
    from featurekit.reports import ParityReport
    from featurekit.testing import check_contract, check_golden, check_parity

    # a long check (a big file, a big forest) reports its phases on stderr, as export
    progress = Reporter(True)
    try:
        progress.phase("read")
        artifact = _load(args.artifact)
        frame, fmt = read_data(args.data, artifact.features)
        progress.phase("contract")
        contract = check_contract(artifact, frame)
        progress.phase("golden")
        golden = check_golden(artifact)
        if args.trust_pickle:
            progress.phase("parity")
            parity = check_parity(artifact, frame, contract=contract, trust_pickle=True)
        else:
            parity = ParityReport(
                "skipped",
                "DATA is not compared with scikit-learn: pipeline.joblib is unpickled "
                "only with --trust-pickle (unpickling runs code); the golden rows are "
                "the parity check",
                artifact.manifest["kind"],
            )
    except (ArtifactError, UsageError) as exc:
        progress.close()
        print(f"featurekit check: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    progress.finish()
    passed = contract.ok and golden.ok and parity.ok
    report = {
        "passed": passed,
        "artifact": {
            "path": str(artifact.path),
            "name": artifact.features.name,
            "version": artifact.features.version,
            "kind": artifact.manifest["kind"],
        },
        "data": {"path": str(args.data), "format": fmt, "rows": len(frame)},
        "contract": contract.to_dict(),
        "golden": golden.to_dict(),
        "parity": parity.to_dict(),
    }
    if args.json:
        print(json.dumps(_jsonable(report), indent=2, allow_nan=False))
    else:
        failed = [
            name
            for name, ok in (
                ("contract", contract.ok),
                ("golden rows", golden.ok),
                ("parity", parity.ok),
            )
            if not ok
        ]
        print(
            f"artifact: {artifact.features.name!r} v{artifact.features.version} "
            f"({artifact.manifest['kind']}) at {str(artifact.path)!r}\n"
            f"data: {str(args.data)!r} ({fmt}), {len(frame)} rows, numbered from 0 "
            f"in file order\n{contract}\n{golden}\n{parity}\n"
            + ("result: passed" if passed else f"result: FAILED ({', '.join(failed)})")
        )
    return EXIT_OK if passed else EXIT_FAILED


def _drift(args: argparse.Namespace) -> int:
    from featurekit.detection import Drift

    try:
        if args.chunk_rows < 1:
            raise UsageError(f"--chunk-rows must be at least 1, got {args.chunk_rows}.")
        artifact = _load(args.artifact)
        monitor = Drift(artifact, outputs=args.outputs)
        fmt = FORMATS.get(Path(args.data).suffix.lower())
        for chunk in read_chunks(args.data, artifact.features, args.chunk_rows):
            monitor.add(chunk)
        if monitor.counts.rows == 0:
            raise UsageError(f"{args.data!r} has no rows; there is nothing to test.")
        report = monitor.report()
        if args.html:
            try:
                report.to_html(args.html)
            except OSError as exc:
                raise UsageError(f"Cannot write {args.html!r}: {exc}") from exc
    except (ArtifactError, UsageError) as exc:
        print(f"featurekit drift: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(report.to_json())
    else:
        print(_drift_summary(report, args.data, fmt, artifact.path))
    return EXIT_FAILED if report.drifted else EXIT_OK


def _drift_summary(report: Any, data: str, fmt: str | None, artifact: Path) -> str:
    from featurekit.monitoring.report import summary_row

    d = report.to_dict()
    model, features = d["model"], d["features"]
    columns = ["feature", "verdict", "signals", "effect / threshold"]
    columns += ["p / adjusted p", "missing ref -> cur", "unseen"]
    rows = [columns] + [[summary_row(f)[c] for c in columns] for f in features]
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    table = "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    )
    drifted = [f["feature"] for f in features if f["verdict"] == "drift"]
    result = f"result: {d['verdict']}"
    if drifted:
        result += f" in {len(drifted)} of {len(features)} ({', '.join(drifted)})"
    elif d["verdict"] == "insufficient data":
        result += f" (each feature needs {d['settings']['min_rows']} rows)"
    return (
        f"artifact: {model['name']!r} v{model['version']} (sha256 "
        f"{str(model['sha256'])[:12]}) at {str(artifact)!r}\n"
        f"data: {data!r} ({fmt}), {d['rows']} rows against {d['reference_rows']} "
        f"reference rows\n{table}\n{result}"
    )


def _load(path: str) -> Any:
    from featurekit.exporting.loading import load

    return load(path)  # every read failure is an ArtifactError


# -- output ---------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _jsonable(value: Any) -> Any:
    """Plain JSON: numpy scalars unwrapped; NaN and ±inf spelt "nan", "inf", "-inf"."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
