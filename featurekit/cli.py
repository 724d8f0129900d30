"""The ``featurekit`` command: ``check`` and ``drift ARTIFACT DATA`` for CI, ``serve``.

``check`` reads a data file, checks it against the artifact's contract with the
reference (pandera) check, then, when the artifact carries ``pipeline.joblib``, scores
the rows that pass with scikit-learn and with `serving.Predictor` and compares them
with the certificate's tolerance.

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
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from featurekit._version import __version__
from featurekit.declare.columns import Numeric
from featurekit.declare.featureset import FeatureSet
from featurekit.errors import ArtifactError, SpecError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main", "read_chunks", "read_data"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}
CHUNK_ROWS = 100_000  # rows per chunk that `featurekit drift` reads and counts
PROGRESS_BYTES = 5 * 2**20  # larger files get a progress bar on stderr


class _UsageError(Exception):
    """A problem with the command line or its files: exit 2 with a one-line message."""


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
            "Check DATA against the contract of ARTIFACT, then re-run parity "
            "(scikit-learn against serving) on the rows that pass, if the artifact "
            "carries pipeline.joblib. Exit status: 0 all holds, 1 the contract or "
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
    from serving.server import add_arguments, run

    add_arguments(serve)
    serve.set_defaults(run=run)
    return parser


def _check(args: argparse.Namespace) -> int:
    from featurekit.testing import check_contract, check_parity

    try:
        artifact = _load(args.artifact)
        frame, fmt = read_data(args.data, artifact.features)
        contract = check_contract(artifact, frame)
        parity = check_parity(artifact, frame, contract=contract)
    except (ArtifactError, _UsageError) as exc:
        print(f"featurekit check: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    passed = contract.ok and parity.ok
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
        "parity": parity.to_dict(),
    }
    if args.json:
        print(json.dumps(_jsonable(report), indent=2, allow_nan=False))
    else:
        failed = [
            name
            for name, ok in (("contract", contract.ok), ("parity", parity.ok))
            if not ok
        ]
        print(
            f"artifact: {artifact.features.name!r} v{artifact.features.version} "
            f"({artifact.manifest['kind']}) at {str(artifact.path)!r}\n"
            f"data: {str(args.data)!r} ({fmt}), {len(frame)} rows, numbered from 0 "
            f"in file order\n{contract}\n{parity}\n"
            + ("result: passed" if passed else f"result: FAILED ({', '.join(failed)})")
        )
    return EXIT_OK if passed else EXIT_FAILED


def _drift(args: argparse.Namespace) -> int:
    from featurekit.detection import Drift

    try:
        if args.chunk_rows < 1:
            raise _UsageError(
                f"--chunk-rows must be at least 1, got {args.chunk_rows}."
            )
        artifact = _load(args.artifact)
        monitor = Drift(artifact, outputs=args.outputs)
        fmt = FORMATS.get(Path(args.data).suffix.lower())
        for chunk in read_chunks(args.data, artifact.features, args.chunk_rows):
            monitor.add(chunk)
        if monitor.counts.rows == 0:
            raise _UsageError(f"{args.data!r} has no rows; there is nothing to test.")
        report = monitor.report()
        if args.html:
            try:
                report.to_html(args.html)
            except OSError as exc:
                raise _UsageError(f"Cannot write {args.html!r}: {exc}") from exc
    except (ArtifactError, _UsageError) as exc:
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
    from featurekit.exporting.exporter import load

    try:
        return load(path)
    except (SpecError, ValueError, KeyError, TypeError) as exc:  # hashes matched
        raise ArtifactError(
            f"Artifact {path!r} has an invalid features.json: {exc}. Re-export it."
        ) from exc


# -- reading data files ---------------------------------------------------------------
def read_data(path: str | Path, features: FeatureSet) -> tuple[Any, str]:
    """Read a .csv, .parquet or .jsonl file as the records an artifact would be served.

    CSV has no types, so the declarations decide: a categorical column is read as
    strings (``"01"`` stays ``"01"``, ``"NA"`` stays ``"NA"``), a numeric column as
    numbers, keeping any cell that is not one as its text so that the contract
    reports that cell. Only empty cells are missing. Parquet and JSON lines carry
    their own types, which are kept as they are (a JSON ``"3.5"`` stays a string).

    Parameters
    ----------
    path : str or Path
    features : FeatureSet
        The artifact's declarations.

    Returns
    -------
    frame : DataFrame
        Rows labelled from 0 in file order.
    format : {"csv", "parquet", "jsonl"}

    Raises
    ------
    _UsageError
        The file is missing, of another format, unreadable or empty.
    """
    import pandas as pd

    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise _UsageError(
            f"Cannot tell the format of {str(p)!r}: expected a .csv, .parquet or "
            ".jsonl file."
        )
    if not (p.is_file() or (fmt == "parquet" and p.is_dir())):  # a parquet dataset
        raise _UsageError(f"No data file at {str(p)!r}.")
    try:
        if fmt == "csv":
            frame = _read_csv(p, features)
        elif fmt == "parquet":
            frame = pd.read_parquet(p)
        else:
            # dtype=False: JSON types are the record's types; "01" must stay a string
            frame = pd.read_json(p, lines=True, dtype=False)
    except ImportError as exc:
        raise _UsageError(
            f"Reading {str(p)!r} needs pyarrow, which is not installed: "
            "pip install pyarrow"
        ) from exc
    except (OSError, ValueError, TypeError) as exc:  # includes pandas' ParserError
        raise _UsageError(f"Cannot read {str(p)!r} as {fmt}: {exc}") from exc
    if not len(frame):
        raise _UsageError(f"{str(p)!r} has no rows; there is nothing to check.")
    return frame.reset_index(drop=True), fmt


def _read_csv(path: Path, features: FeatureSet) -> Any:
    import pandas as pd

    strings = [
        f.name for f in features.inputs if f.kind in ("categorical", "text", "datetime")
    ]
    frame = pd.read_csv(
        path,
        dtype=dict.fromkeys(strings, str),
        keep_default_na=False,  # "NA", "None" and "null" are categories too
        na_values=[""],
        low_memory=False,  # one type per column, not one per chunk
    )
    for f in features.inputs:
        if isinstance(f, Numeric) and f.name in frame.columns:
            frame[f.name] = _numbers(frame[f.name])
    return frame


def read_chunks(
    path: str | Path, features: FeatureSet, chunk_rows: int = CHUNK_ROWS
) -> Iterator[Any]:
    """Read a data file chunk by chunk, each typed as `read_data` types a whole file.

    Parameters
    ----------
    path : str or Path
        A .csv, .jsonl or .parquet file, or a directory of parquet files.
    features : FeatureSet
        The artifact's declarations: CSV categorical columns are read as strings.
    chunk_rows : int
        At most this many rows per chunk.

    Yields
    ------
    DataFrame
        The next rows of the file. A progress bar goes to stderr meanwhile when the
        file is larger than `PROGRESS_BYTES` or stderr is a terminal.

    Raises
    ------
    _UsageError
        The file is missing, of another format or unreadable.
    """
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise _UsageError(
            f"Cannot tell the format of {str(p)!r}: expected a .csv, .parquet or "
            ".jsonl file."
        )
    if not (p.is_file() or (fmt == "parquet" and p.is_dir())):  # a parquet dataset
        raise _UsageError(f"No data file at {str(p)!r}.")
    try:
        if fmt == "parquet":
            yield from _parquet_chunks(p, chunk_rows)
        else:
            yield from _text_chunks(p, fmt, features, chunk_rows)
    except ImportError as exc:
        raise _UsageError(
            f"Reading {str(p)!r} needs pyarrow, which is not installed: "
            "pip install pyarrow"
        ) from exc
    except (OSError, ValueError, TypeError) as exc:  # includes pandas' ParserError
        raise _UsageError(f"Cannot read {str(p)!r} as {fmt}: {exc}") from exc


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[Any]:
    import pyarrow.dataset as ds

    # a dataset reads one file or a directory of them (as pandas does), batch by batch
    dataset = ds.dataset(str(path), format="parquet")
    size = path.stat().st_size if path.is_file() else 0
    with _Progress(dataset.count_rows(), "rows", size) as progress:
        for batch in dataset.to_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
            progress.update(progress.done + batch.num_rows)


def _text_chunks(
    path: Path, fmt: str, features: FeatureSet, chunk_rows: int
) -> Iterator[Any]:
    import pandas as pd

    numbers = [f.name for f in features.inputs if isinstance(f, Numeric)]
    strings = [
        f.name for f in features.inputs if f.kind in ("categorical", "text", "datetime")
    ]
    size = path.stat().st_size
    with open(path, "rb") as fh, _Progress(size, "bytes", size) as progress:
        if fmt == "csv":
            # the options of _read_csv: codes stay strings ("01", "NA"), and only
            # empty cells are missing
            reader = pd.read_csv(
                fh,
                chunksize=chunk_rows,
                dtype=dict.fromkeys(strings, str),
                keep_default_na=False,
                na_values=[""],
            )
        else:
            numbers = []  # JSON types are the record's types, as in read_data
            reader = pd.read_json(fh, lines=True, dtype=False, chunksize=chunk_rows)
        with reader:
            for chunk in reader:
                for name in numbers:
                    if name in chunk.columns:
                        chunk[name] = _numbers(chunk[name])
                yield chunk
                progress.update(fh.tell())


class _Progress:
    """A one-line progress bar on stderr, for a large file or when stderr is a terminal."""

    def __init__(self, total: int, unit: str, size: int) -> None:
        self.total, self.unit, self.done = total, unit, 0
        self.shown = size > PROGRESS_BYTES or sys.stderr.isatty()
        self._drawn = 0.0

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._drawn:
            print(file=sys.stderr)

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if not self.shown or (now - self._drawn < 0.2 and done < self.total):
            return
        self._drawn = now
        part = min(done / self.total, 1.0) if self.total else 1.0
        if self.unit == "bytes":
            amount = f"{done / 2**20:.1f} of {self.total / 2**20:.1f} MB"
        else:
            amount = f"{done:,} of {self.total:,} rows"
        bar = "#" * round(part * 30)
        print(f"\rreading [{bar:<30}] {part:4.0%} {amount}", end="", file=sys.stderr)


def _numbers(column: Any) -> Any:
    """Read each text cell of a numeric CSV column as a number when it is one."""
    import pandas as pd

    if column.dtype.kind in "iufb":
        return column

    def cell(v: Any) -> Any:
        if not isinstance(v, str) or "_" in v:  # Python reads "1_000"; CSV does not
            return v
        for parse in (int, float):
            try:
                return parse(v)
            except ValueError:
                pass
        return v

    return pd.Series([cell(v) for v in column], index=column.index, dtype=object)


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
