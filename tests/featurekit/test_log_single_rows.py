"""One-row calls in the prediction log: buffered as Python values, written as batches are.

`LogWriter.append` keeps a one-row call as a flat tuple of scalars and the writer turns
a run of them into columns. Whatever the mix of one-row and larger calls, the file must
hold the same rows, in call order, with the same values, types and ids as the calls
that made them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurekit.missing import MISSING
from featurekit.outcomes.log import LogWriter

MODEL = {
    "name": "m",
    "version": 3,
    "sha256": "cd" * 32,
    "kind": "classifier",
    "classes": ["no", "yes"],
    "outputs": ["label", "probabilities"],
}
INPUTS = {"income": "numeric", "age": "numeric", "plan": "categorical"}


def _writer(root: Path) -> LogWriter:
    return LogWriter(
        root, model=MODEL, inputs=INPUTS, flush_seconds=3600, flush_rows=10**6
    )


def _call(rows: list[tuple[float, int, object, str, float]]) -> tuple[dict, dict]:
    feeds = {
        "income": np.array([[r[0]] for r in rows], dtype=np.float64),
        "age": np.array([[r[1]] for r in rows], dtype=np.int64),
        "plan": np.array([[r[2]] for r in rows], dtype=object),
    }
    outputs = {
        "label": np.array([r[3] for r in rows], dtype=object),
        "probabilities": np.array([[1 - r[4], r[4]] for r in rows]),
    }
    return feeds, outputs


def _rows(root: Path) -> list[dict]:
    files = sorted((root / "predictions").rglob("part-*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def test_one_row_calls_mixed_with_batches_keep_order_values_and_ids(tmp_path):
    w = _writer(tmp_path)
    calls = [
        ([(1.5, 30, "gold", "yes", 0.75)], None, "r1"),
        (
            [(2.0, 41, "basic", "no", 0.25), (np.nan, 52, MISSING, "yes", 0.5)],
            None,
            "r2",
        ),
        ([(3.25, 19, "basic", "no", 0.125)], ["loan-7"], "r3"),
        ([(np.nan, 60, MISSING, "no", 0.0)], None, None),
        ([(4.0, 22, "gold", "yes", 1.0)], None, "r5"),
    ]
    for rows, ids, rid in calls:
        feeds, outputs = _call(rows)
        w.append(feeds, outputs, ids=ids, request_id=rid)
    w.close()
    got = _rows(tmp_path)
    expected = [row for rows, _, _ in calls for row in rows]
    assert len(got) == len(expected) == 6
    for g, e in zip(got, expected, strict=True):
        income = g["inputs"]["income"]
        assert (income is None) if np.isnan(e[0]) else income == e[0]
        assert g["inputs"]["age"] == e[1]
        assert g["inputs"]["plan"] == (None if e[2] is MISSING else e[2])
        assert g["label"] == e[3]
        assert g["probabilities"] == [1 - e[4], e[4]]
        assert g["model_version"] == 3
    assert [g["row_id"] for g in got[:5]] == [
        "r1-0",
        "r2-0",
        "r2-1",
        "loan-7",
        got[4]["request_id"] + "-0",
    ]
    assert [g["request_id"] for g in got[:4]] == ["r1", "r2", "r2", "r3"]
    assert got[5]["row_id"] == "r5-0"
    # the writer made a request id for the call without one, distinct from the others
    assert got[4]["request_id"] not in {"r1", "r2", "r3", "r5"}
    stamps = [g["timestamp"] for g in got]
    assert stamps == sorted(stamps)


def test_one_row_files_have_the_schema_of_batch_files(tmp_path):
    single, batch = tmp_path / "single", tmp_path / "batch"
    rows = [(1.5, 30, "gold", "yes", 0.75), (2.5, 31, MISSING, "no", 0.5)]
    w = _writer(single)
    for row in rows:
        w.append(*_call([row]))
    w.close()
    w = _writer(batch)
    w.append(*_call(rows))
    w.close()
    schemas = [
        pq.read_schema(next((d / "predictions").rglob("part-*.parquet")))
        for d in (single, batch)
    ]
    assert schemas[0].equals(schemas[1], check_metadata=True)
    assert schemas[0].field("inputs").type == pa.struct(
        [("income", pa.float64()), ("age", pa.int64()), ("plan", pa.string())]
    )
    assert _strip(_rows(single)) == _strip(_rows(batch))


def test_integer_labels_of_one_row_calls_are_written_as_text(tmp_path):
    model = {**MODEL, "classes": [0, 1]}
    w = LogWriter(tmp_path, model=model, inputs={"x": "numeric"}, flush_rows=10**6)
    for label in (1, 0, 1):
        w.append(
            {"x": np.array([[float(label)]])},
            {"label": np.array([label]), "probabilities": np.array([[0.5, 0.5]])},
        )
    w.close()
    assert [g["label"] for g in _rows(tmp_path)] == ["1", "0", "1"]
    # every id was made by the writer: the file says so, so readers skip the repeat check
    meta = pq.read_schema(next((tmp_path / "predictions").rglob("part-*.parquet")))
    assert b'"made_ids": true' in meta.metadata[b"featurekit.log"]


def _strip(rows: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k not in ("row_id", "request_id", "timestamp")}
        for r in rows
    ]


def test_personal_data_and_notes_of_one_row_calls(tmp_path):
    from featurekit.outcomes.schema import contract_notes

    w = LogWriter(
        tmp_path,
        model=MODEL,
        inputs={**INPUTS, "customer": "categorical", "email": "text"},
        pii={"customer": "hash", "email": "drop"},
        salt="pepper",
        notes=contract_notes({"plan": ["gold", "basic"]}, {"income": (0.0, 10.0)}),
        flush_rows=10**6,
    )
    for income, plan, customer in ((1.5, "gold", "c1"), (99.0, "new", "c2")):
        feeds, outputs = _call([(income, 30, plan, "yes", 0.5)])
        feeds["customer"] = np.array([[customer]], dtype=object)
        feeds["email"] = np.array([["x@example.com"]], dtype=object)
        w.append(feeds, outputs)
    w.close()
    got = _rows(tmp_path)
    assert [g["inputs"]["customer"] for g in got] == [
        hashlib.sha256(b"pepperc1").hexdigest(),
        hashlib.sha256(b"pepperc2").hexdigest(),
    ]
    assert all("email" not in g["inputs"] for g in got)
    assert got[0]["notes"] == []
    assert sorted(got[1]["notes"]) == ["out_of_range:income", "unseen:plan"]


def test_ids_the_writer_makes_for_one_row_calls(tmp_path):
    w = _writer(tmp_path)
    for _ in range(300):
        w.append(*_call([(1.0, 1, "gold", "yes", 0.5)]))
    w.close()
    got = _rows(tmp_path)
    requests = [g["request_id"] for g in got]
    assert len(set(requests)) == 300
    prefix = requests[0][:-8]
    # a process prefix, then a counter in 8 hex digits: consecutive calls, in order
    assert requests == [
        f"{prefix}{int(requests[0][-8:], 16) + i:08x}" for i in range(300)
    ]
    assert [g["row_id"] for g in got] == [r + "-0" for r in requests]
