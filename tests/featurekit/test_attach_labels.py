"""Labels attached to served rows when an id was labelled more than once.

`fk.evaluate` hands `featurekit.outcomes.joining.attach` every label in the order it
was received, repeats included: each served row must get its id's latest label, and
the count of labelled ids never served must count ids, not label rows. The expected
values here come from a plain dict walk, not from the code under test.
"""

from __future__ import annotations

import random

import pyarrow as pa

from featurekit.outcomes.joining import attach


def _labels(rows: list[tuple[str, str, int]]) -> pa.Table:
    return pa.table(
        {
            "row_id": pa.array([r[0] for r in rows], pa.string()),
            "label": pa.array([r[1] for r in rows], pa.string()),
            "label_timestamp": pa.array([None] * len(rows), pa.timestamp("us", "UTC")),
            "received_at": pa.array([r[2] for r in rows], pa.int64()).cast(
                pa.timestamp("us", "UTC")
            ),
        }
    )


def _expected(served: list[str], rows: list[tuple[str, str, int]]):
    latest: dict[str, str] = {}
    for row_id, label, _ in rows:  # received order: the last one wins
        latest[row_id] = label
    return [latest.get(i) for i in served], len(set(latest) - set(served))


def test_each_row_gets_its_ids_latest_label_and_unknown_ids_count_once():
    served = ["a", "b", "c", "d"]
    rows = [
        ("a", "0", 1),
        ("b", "1", 2),
        ("a", "1", 3),  # a correction: a's label is now 1
        ("zz", "0", 4),  # never served, labelled twice
        ("zz", "1", 5),
        ("c", "1", 6),
        ("c", "0", 7),
        ("c", "1", 8),
        ("yy", "0", 9),
    ]
    table = pa.table({"row_id": pa.chunked_array([["a", "b"], ["c", "d"]])})
    got, unmatched = attach(table, _labels(rows), ["label", "received_at"])
    assert got["label"].to_pylist() == ["1", "1", "1", None]
    assert [
        None if t is None else t.microsecond for t in got["received_at"].to_pylist()
    ] == [3, 2, 8, None]
    assert unmatched == 2  # zz and yy, whatever the number of their labels
    assert (got["label"].to_pylist(), unmatched) == _expected(served, rows)


def test_random_repeats_match_a_plain_walk():
    rng = random.Random(7)
    served = [f"r{i}" for i in range(500)]
    pool = served + [f"x{i}" for i in range(100)]
    rows = [(rng.choice(pool), rng.choice("01"), t) for t in range(2000)]
    table = pa.table({"row_id": pa.array(served)})
    got, unmatched = attach(table, _labels(rows), ["label"])
    assert (got["label"].to_pylist(), unmatched) == _expected(served, rows)


def test_no_labels_and_no_rows():
    table = pa.table({"row_id": pa.array([], pa.string())})
    got, unmatched = attach(table, _labels([("a", "1", 1), ("a", "0", 2)]), ["label"])
    assert got["label"].to_pylist() == [] and unmatched == 1
    got, unmatched = attach(pa.table({"row_id": ["a"]}), None, ["label"])
    assert got["label"].to_pylist() == [None] and unmatched == 0
