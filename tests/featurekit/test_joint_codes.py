"""featurekit.monitoring.joint._codes on large batches: the same codes as one lookup per value."""

from __future__ import annotations

import math

import numpy as np

from featurekit.monitoring.joint import _codes


def _lookup(values: list[object], categories: list[str]) -> list[int]:
    """The definition, one value at a time: a string's position, else -1."""
    index = {c: i for i, c in enumerate(categories)}
    return [index.get(v, -1) if isinstance(v, str) else -1 for v in values]


def test_large_batches_give_each_value_its_category_position() -> None:
    rng = np.random.default_rng(0)
    categories = ["web", "app", "branch", "", "é", "__featurekit_missing__"]
    pool: list[object] = [
        *categories,
        "WEB",
        "web ",
        "unseen",
        None,
        math.nan,
        1,
        1.5,
        True,
        b"web",
    ]
    picks = rng.integers(0, len(pool), 20_000)
    values = np.empty(len(picks), dtype=object)
    values[:] = [pool[i] for i in picks]
    got = _codes(values, categories)
    assert got.dtype == np.int64
    assert got.tolist() == _lookup(list(values), categories)
    # graph feeds arrive as (n, 1) object arrays
    assert _codes(values.reshape(-1, 1), categories).tolist() == got.tolist()


def test_a_large_batch_of_nothing_but_unknowns_is_all_minus_one() -> None:
    values = np.array(["x"] * 1000 + [None] * 1000, dtype=object)
    assert set(_codes(values, ["a", "b"]).tolist()) == {-1}


def test_codes_the_contract_read_give_the_same_positions() -> None:
    """A column the contract read as codes of its words (Arrow-backed strings)."""
    import pandas as pd

    from featurekit.contract.values import _strings_arrow
    from featurekit.missing import MISSING
    from featurekit.monitoring.joint import CodedStrings

    rng = np.random.default_rng(1)
    categories = ["web", "app", "branch", "", "é"]
    pool: list[object] = [*categories, "WEB", "unseen", None, MISSING]
    values = [pool[i] for i in rng.integers(0, len(pool), 5000)]
    column = pd.array(values, dtype="string[pyarrow]")
    coded = _strings_arrow(column, None)[3]
    strings = CodedStrings(coded.codes, coded.words)
    expected = _lookup([None if v is MISSING else v for v in values], categories)
    assert _codes(strings, categories).tolist() == expected
    # the joint takes chunks of rows: a slice keeps the rows' codes
    assert _codes(strings[1000:1500], categories).tolist() == expected[1000:1500]
