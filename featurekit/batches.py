"""Score Arrow batches on an engine's workers: what `featurekit.spark` and `featurekit.ray` share.

- `ship` reads and verifies an artifact once (on the driver) and returns its files as
  bytes, the only thing sent to workers: never a pickled session or predictor.
- `load_shipped` builds a worker's `serving.Predictor` from those bytes, inside the
  worker, so its golden rows run on the worker's own onnxruntime.
- `score_batch` appends the outputs, ``contract_passed`` and ``contract_failures``
  to an Arrow batch (a ``RecordBatch`` or a ``Table``): the input columns pass
  through as they are, and a refused row stays, with its reason.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "FAILURES",
    "PASSED",
    "added_columns",
    "check_columns",
    "load_shipped",
    "score_batch",
    "ship",
    "worker_threads",
]

#: The columns `score_batch` adds beside the model's outputs.
PASSED, FAILURES = "contract_passed", "contract_failures"


def ship(artifact: Any) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The verified artifact's files as bytes, and its manifest.

    ``pipeline.joblib`` is left out (and out of the shipped manifest): serving never
    reads it.

    Examples
    --------
    >>> ship("no/such/artifact")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """
    from featurekit.artifact import read

    files = read(getattr(artifact, "path", artifact), model=True)  # every sha256
    manifest = json.loads((files.path / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"].pop("pipeline.joblib", None)
    out = {name: (files.path / name).read_bytes() for name in manifest["files"]}
    out["manifest.json"] = json.dumps(manifest).encode()
    return out, manifest


def worker_threads(cpus: Any) -> int:
    """Predictor threads for a worker granted `cpus` cores: at least 1, never 0.

    onnxruntime reads 0 as "every core of the host", which under a container's CPU
    limit oversubscribes it (onnxruntime#10166).

    Examples
    --------
    >>> worker_threads(4), worker_threads(0), worker_threads(None), worker_threads(1.5)
    (4, 1, 1, 1)
    """
    if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1:
        return 1
    return cpus


def load_shipped(files: dict[str, bytes], *, threads: int, verify: str) -> Any:
    """A `serving.Predictor` built from `ship`'s bytes (monitoring off).

    The files are written to a private temporary directory, read and verified as any
    artifact (every sha256, the golden rows), then removed.
    """
    from serving import Predictor

    folder = Path(tempfile.mkdtemp(prefix="featurekit-worker-"))
    try:
        for name, content in files.items():
            (folder / name).write_bytes(content)
        return Predictor.load(folder, threads=threads, monitor=False, verify=verify)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_columns(
    columns: Sequence[str], manifest: dict[str, Any], added: Sequence[str] = ()
) -> list[str]:
    """The artifact's input columns; every one must be in `columns`, none of `added`.

    Raises
    ------
    ValueError
        Naming the absent inputs, or the columns that would be overwritten.

    Examples
    --------
    >>> check_columns(["x", "y"], {"name": "m", "version": 1, "inputs": {"x": {}}})
    ['x']
    """
    names = list(manifest["inputs"])
    missing = [n for n in names if n not in columns]
    if missing:
        raise ValueError(
            f"The data has no column {missing!r}; artifact {manifest['name']!r} "
            f"v{manifest['version']} reads {names!r}. Rename or add them (a missing "
            "value is a null, not an absent column)."
        )
    taken = [n for n in added if n in columns]
    if taken:
        raise ValueError(
            f"The data already has columns {taken!r}, which scoring adds. Rename "
            "them first."
        )
    return names


def added_columns(manifest: dict[str, Any]) -> list[str]:
    """The names `score_batch` appends, in order."""
    return [*manifest["outputs"], PASSED, FAILURES]


def score_batch(
    predictor: Any, batch: Any, inputs: list[str], outputs: list[str]
) -> Any:
    """`batch` (Arrow RecordBatch or Table) with the outputs and the verdict appended."""
    import pyarrow as pa

    got = predictor.score(batch.select(inputs).to_pandas(), outputs, on_error="split")
    passed = got.passed
    columns = [*batch.columns]
    columns += [_scattered(got.scores[name], passed) for name in outputs]
    columns.append(pa.array(passed, type=pa.bool_()))
    columns.append(pa.array(_reasons(got.failures, len(passed)), type=pa.string()))
    names = [*batch.schema.names, *outputs, PASSED, FAILURES]
    return type(batch).from_arrays(columns, names=names)


def _scattered(values: Any, passed: Any) -> Any:
    """An Arrow array with one entry per row: the scored rows' values, else null."""
    import numpy as np
    import pyarrow as pa

    n = len(passed)
    mask = ~passed
    if values.ndim == 2:  # one list per row, from flat values and offsets
        width = values.shape[1]
        flat = np.zeros((n, width), dtype=np.float64)
        flat[passed] = values
        offsets = pa.array(np.arange(n + 1, dtype=np.int32) * width)
        return pa.ListArray.from_arrays(
            offsets, pa.array(flat.ravel()), mask=pa.array(mask) if mask.any() else None
        )
    if values.dtype == object:  # string labels
        full = np.full(n, None, dtype=object)
        full[passed] = values
        return pa.array(full, type=pa.string())
    full = np.zeros(n, dtype=values.dtype)
    full[passed] = values
    kind = {"b": pa.bool_(), "i": pa.int64(), "u": pa.int64()}.get(
        values.dtype.kind, pa.float64()
    )
    return pa.array(full, type=kind, mask=mask if mask.any() else None)


def _reasons(failures: Any, n: int) -> Any:
    """Per row, its contract failures as ``column: check (value)`` joined by "; ".

    An object array, None where the row passed: only failing rows cost Python work
    (a list per row of a 10,000-row batch was an eighth of a Spark task's time).
    """
    import numpy as np

    out = np.full(n, None, dtype=object)
    if failures.empty:
        return out
    by_row: dict[int, list[str]] = {}
    everyone: list[str] = []
    for column, check, case, index in failures.itertuples(index=False, name=None):
        text = f"{column}: {check} ({case!r})"
        if index is None or index != index:  # a column-level failure fails every row
            everyone.append(text)
        else:
            by_row.setdefault(int(index), []).append(text)
    if everyone:
        common = "; ".join(everyone)
        out[:] = common
        for row, texts in by_row.items():
            out[row] = "; ".join([*everyone, *texts])
    else:
        for row, texts in by_row.items():
            out[row] = "; ".join(texts)
    return out
