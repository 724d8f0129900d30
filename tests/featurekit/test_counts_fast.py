"""The fast counting paths against a plain reference count, value by value.

Large batches bin numbers by one comparison per edge, count categories by the codes
the contract read from Arrow, and take the top class by elementwise passes; each must
give exactly the counters a plain Python count gives, on data full of edge cases:
values exactly on bin edges and one ulp either side, NaN, +-inf, unseen categories,
the missing sentinel, empty strings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import featurekit as fk
from featurekit.contract.columns import Columns
from featurekit.missing import MISSING
from featurekit.monitoring.batched import top_class
from featurekit.monitoring.counts import Counts
from featurekit.monitoring.profile import build_profile

KNOWN = ["a", "b", "c", "d", "e"]
_REFERENCE = np.random.default_rng(7)
PROFILE = build_profile(
    {"x": _REFERENCE.normal(size=3000)},
    {"c": _REFERENCE.choice(KNOWN, 3000)},
    {"label": np.zeros(3000, int), "probabilities": np.full((3000, 2), 0.5)},
    classes=[0, 1],
)
EDGES = PROFILE["features"]["x"]["edges"]
CATEGORIES = PROFILE["features"]["c"]["categories"]


def reference_numeric(values: list[float]) -> dict[str, Any]:
    """One value at a time: its bin is how many edges are at or below it."""
    counts = [0] * (len(EDGES) + 1)
    missing = valid = 0
    total = sumsq = 0.0
    for v in values:
        if math.isnan(v):
            missing += 1
            continue
        counts[sum(1 for e in EDGES if e <= v)] += 1
        if math.isfinite(v):
            valid += 1
            total += v
            sumsq += v * v
    return {"counts": counts, "missing": missing, "valid": valid, "total": total,
            "sumsq": sumsq}  # fmt: skip


def reference_categorical(values: list[Any]) -> dict[str, Any]:
    counts = [0] * len(CATEGORIES)
    missing = unseen = 0
    for v in values:
        if v is None or v == MISSING:
            missing += 1
        elif v in CATEGORIES:
            counts[CATEGORIES.index(v)] += 1
        else:
            unseen += 1
    return {"counts": counts, "missing": missing, "unseen": unseen}


def numbers(seed: int, n: int) -> np.ndarray:
    """Edges, their neighbours one ulp away, NaN, +-inf and ordinary draws, mixed."""
    rng = np.random.default_rng(seed)
    edges = np.asarray(EDGES)
    pool = np.concatenate(
        [
            edges,
            np.nextafter(edges, np.inf),
            np.nextafter(edges, -np.inf),
            [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e6, -1e6],
        ]
    )
    x = rng.normal(scale=rng.choice([0.5, 1.0, 5.0]), size=n)
    special = rng.random(n) < rng.uniform(0.0, 0.9)
    x[special] = rng.choice(pool, int(special.sum()))
    return x


def words(seed: int, n: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    pool = [*KNOWN, "f", "unseen", "", "A", " a", "ä", MISSING, None]
    return [pool[i] for i in rng.integers(0, len(pool), n)]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.sampled_from([2, 17, 300, 2500, 20_000, 140_000]),
)
def test_numbers_are_binned_as_one_value_at_a_time(seed: int, n: int) -> None:
    x = numbers(seed, n)
    counts = Counts.empty(PROFILE)
    counts.observe({"x": x.reshape(-1, 1)})
    got = counts.bins["x"].to_dict()
    want = reference_numeric(x.tolist())
    for key in ("counts", "missing", "valid"):
        assert got[key] == want[key], key
    assert got["rows"] == n and got["unseen"] == 0
    finite = x[np.isfinite(x)]
    scale = {"total": np.abs(finite).sum(), "sumsq": (finite * finite).sum()}
    for key in ("total", "sumsq"):  # float sums: up to summation order
        assert got[key] == pytest.approx(want[key], abs=1e-12 * scale[key]), key


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([65, 300, 5000]))
def test_categories_counted_by_code_match_a_plain_count(seed: int, n: int) -> None:
    values = words(seed, n)
    column = pd.array(values, dtype="string[pyarrow]")
    cols = Columns(fk.FeatureSet("t", [fk.Categorical("c", impute="missing")]))
    feeds, rows = cols.coerce(pd.DataFrame({"c": column}), check_categories=False)
    assert "c" in feeds.codes  # the path under test: codes from Arrow
    by_code = Counts.empty(PROFILE)
    by_code.observe(feeds)
    by_object = Counts.empty(PROFILE)  # a plain dict: the objects hashed
    by_object.observe(dict(feeds))
    got = by_code.bins["c"].to_dict()
    want = reference_categorical(values)
    for key in ("counts", "missing", "unseen"):
        assert got[key] == want[key], key
    assert got == by_object.bins["c"].to_dict()
    # the multivariate signal reads the Arrow column: the same codes, the same sums
    assert by_code.joint.to_dict() == by_object.joint.to_dict()
    assert by_code.joint.rows == rows


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400))
def test_the_top_class_is_max_and_argmax(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    proba = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, np.nan, np.inf], (n, 2))
    best, picked = top_class(proba)
    for row, t, p in zip(proba.tolist(), best.tolist(), picked.tolist(), strict=True):
        first = next((i for i, v in enumerate(row) if v != v), None)
        if first is None:  # no NaN: the first largest
            first = row.index(max(row))
            assert t == max(row)
        else:
            assert t != t
        assert p == first


def test_outputs_of_a_large_batch_count_as_single_rows_do() -> None:
    rng = np.random.default_rng(3)
    p1 = rng.choice([0.1, 0.5, 0.9, 0.3], 3000)
    proba = np.column_stack([1 - p1, p1])
    feeds = {"x": rng.normal(size=(3000, 1))}
    batch, single = Counts.empty(PROFILE), Counts.empty(PROFILE)
    batch.observe(feeds, {"probabilities": proba})
    for i in range(300):  # the single-row path, plain Python
        single.observe(
            {"x": feeds["x"][i : i + 1]}, {"probabilities": proba[i : i + 1]}
        )
    small = Counts.empty(PROFILE)
    small.observe({"x": feeds["x"][:300]}, {"probabilities": proba[:300]})
    for name in ("output:label", "output:score"):
        a, b = single.bins[name].to_dict(), small.bins[name].to_dict()
        assert a["counts"] == b["counts"] and a["rows"] == b["rows"] == 300
    label = batch.bins["output:label"].counts
    assert label == [int((p1 <= 0.5).sum()), int((p1 > 0.5).sum())]


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_one_blas_thread_holds_on_the_main_thread_then_restores() -> None:
    import threading

    from featurekit.monitoring.batched import ONE_BLAS_THREAD

    before = _blas_threads()
    assert before, "numpy's BLAS is visible to threadpoolctl"
    seen: list[list[int]] = []
    with ONE_BLAS_THREAD:
        with ONE_BLAS_THREAD:  # nested: the inner one leaving keeps the limit
            pass
        seen.append(_blas_threads())
        # another thread's section neither limits nor restores anything
        worker = threading.Thread(
            target=lambda: ONE_BLAS_THREAD.__exit__(None, None, None)
        )
        worker.start()
        worker.join(10)
        seen.append(_blas_threads())
    assert seen == [[1] * len(before)] * 2
    assert _blas_threads() == before


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_large_batches_bin_as_a_binary_search_for_any_edges(seed: int) -> None:
    """Spread, clustered, repeated or heavy-tailed edges; 70,000 values."""
    from featurekit.monitoring.batched import binned

    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 70))
    shapes = [
        lambda: rng.normal(size=m),
        lambda: rng.choice([0.0, 1.0, 1e-9, 5.0], m),  # repeats: a crowded cell
        lambda: np.cumsum(rng.exponential(size=m)) ** 4,  # a long tail
        lambda: rng.normal(size=m) * 10.0 ** rng.integers(-300, 300, size=m),
    ]
    edges = np.sort(shapes[int(rng.integers(0, len(shapes)))]())
    odd = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e308]
    near = [np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)]
    pool = np.concatenate([edges, *near, odd])
    x = rng.normal(scale=float(np.abs(edges).max()) or 1.0, size=70_000)
    special = rng.random(len(x)) < 0.5
    x[special] = rng.choice(pool, int(special.sum()))
    nan = np.isnan(x)
    want = np.bincount(edges.searchsorted(x[~nan], side="right"), minlength=m + 1)
    got = binned(x, x[~nan], int(nan.sum()), edges, m + 1)
    assert got.tolist() == want.tolist()
