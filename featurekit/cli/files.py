"""Read data files (.csv, .parquet, .jsonl) as the records an artifact would be served.

CSV has no types, so the artifact's declarations decide how each column is read;
Parquet and JSON lines keep their own types. `read_chunks` reads a file larger than
memory chunk by chunk, with a progress bar on stderr for large files.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from featurekit.declare.columns import Numeric
from featurekit.declare.featureset import FeatureSet

__all__ = ["CHUNK_ROWS", "FORMATS", "UsageError", "read_chunks", "read_data"]

FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}
CHUNK_ROWS = 100_000  # rows per chunk that `featurekit drift` reads and counts
PROGRESS_BYTES = 5 * 2**20  # larger files get a progress bar on stderr


class UsageError(Exception):
    """A problem with the command line or its files: exit 2 with a one-line message."""


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
    UsageError
        The file is missing, of another format, unreadable or empty.
    """
    import pandas as pd

    p, fmt = _located(path)
    try:
        if fmt == "csv":
            frame = _read_csv(p, features)
        elif fmt == "parquet":
            frame = pd.read_parquet(p)
        else:
            # dtype=False: JSON types are the record's types; "01" must stay a string
            frame = pd.read_json(p, lines=True, dtype=False)
    except ImportError as exc:
        raise UsageError(
            f"Reading {str(p)!r} needs pyarrow, which is not installed: "
            "pip install pyarrow"
        ) from exc
    except (OSError, ValueError, TypeError) as exc:  # includes pandas' ParserError
        raise UsageError(f"Cannot read {str(p)!r} as {fmt}: {exc}") from exc
    if not len(frame):
        raise UsageError(f"{str(p)!r} has no rows; there is nothing to check.")
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
    UsageError
        The file is missing, of another format or unreadable.
    """
    p, fmt = _located(path)
    try:
        if fmt == "parquet":
            yield from _parquet_chunks(p, chunk_rows)
        else:
            yield from _text_chunks(p, fmt, features, chunk_rows)
    except ImportError as exc:
        raise UsageError(
            f"Reading {str(p)!r} needs pyarrow, which is not installed: "
            "pip install pyarrow"
        ) from exc
    except (OSError, ValueError, TypeError) as exc:  # includes pandas' ParserError
        raise UsageError(f"Cannot read {str(p)!r} as {fmt}: {exc}") from exc


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


def _located(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The data file and its format; a UsageError if either is unknown or missing."""
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"Cannot tell the format of {str(p)!r}: expected a .csv, .parquet or "
            ".jsonl file."
        )
    if not (p.is_file() or (fmt == "parquet" and p.is_dir())):  # a parquet dataset
        raise UsageError(f"No data file at {str(p)!r}.")
    return p, fmt
