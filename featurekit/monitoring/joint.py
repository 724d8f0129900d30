"""The multivariate drift signal: PCA reconstruction error of the inputs, jointly.

Per-feature tests cannot see a change in how features move together (a correlation
that flips, a new cluster in the joint space) while every marginal stays put. This
signal can: at export, the model's inputs are encoded as one standardised vector per
row (numbers as z-scores, missing at the mean; each categorical as indicators of its
most common categories), and principal components that hold `VARIANCE` of the
variance are fitted on the reference rows. A row's *reconstruction error* is the
squared length of what those components leave out; its null distribution comes from
2-fold cross-fitting on the reference (each half scored by components fitted on the
other), unbiased by the fit.

A window is summarised by three sums (rows, error, squared error), so its state is
constant-size and adds up across replicas like the other counters. Its effect is the
relative rise of the mean error over the reference's; the p-value comes from a
bootstrap of window means drawn from the held-out errors (plus the reference mean's
own noise), and the effect threshold is that null's `quantile` at each calibrated
window size, as for the features. Light core: numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from featurekit.missing import MISSING
from featurekit.monitoring.sizes import threshold_at

__all__ = [
    "JOINT",
    "VARIANCE",
    "JointSums",
    "build_joint",
    "encode",
    "errors",
    "joint_test",
    "observe",
]

#: The row's name in verdicts, reports and metrics.
JOINT = "(multivariate)"
#: Share of the standardised inputs' variance the kept components hold.
VARIANCE = 0.9
#: Directions with less than this share of the variance are exact constraints.
DEGENERATE = 1e-3
#: Indicator columns per categorical input (its most common categories).
TOP_CATEGORIES = 10
#: Held-out errors stored in the profile (a random subset beyond this).
STORED_ERRORS = 2000
#: z-scores are clipped here: one absurd value must not swamp a window's mean.
CLIP = 20.0
#: Rows encoded at a time (bounds memory on large frames).
CHUNK = 65536
#: Above this many rows a window's mean error is normal enough: no resampling.
RESAMPLE_MAX = 2000


class JointSums:
    """Rows, summed error and summed squared error of a window: they add up.

    Examples
    --------
    >>> s = JointSums()
    >>> s.add(np.array([1.0, 3.0]))
    >>> s.rows, s.total, s.sumsq
    (2, 4.0, 10.0)
    """

    __slots__ = ("rows", "sumsq", "total")

    def __init__(self, rows: int = 0, total: float = 0.0, sumsq: float = 0.0) -> None:
        self.rows, self.total, self.sumsq = rows, total, sumsq

    def add(self, err: np.ndarray) -> None:
        self.rows += len(err)
        self.total += float(err.sum())
        self.sumsq += float(err @ err)

    def plus(self, other: JointSums) -> JointSums:
        return JointSums(
            self.rows + other.rows, self.total + other.total, self.sumsq + other.sumsq
        )

    def minus(self, other: JointSums) -> JointSums:
        return JointSums(
            self.rows - other.rows, self.total - other.total, self.sumsq - other.sumsq
        )

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "total": self.total, "sumsq": self.sumsq}


# -- building ---------------------------------------------------------------------------
def build_joint(
    numeric: Mapping[str, np.ndarray],
    categorical: Mapping[str, Any],
    features: Mapping[str, dict[str, Any]],
    settings: dict[str, Any],
    rng: np.random.Generator,
) -> dict[str, Any] | None:
    """The profile's ``joint`` entry, or None with fewer than two encoded inputs.

    `features` are the per-feature profiles already built (means, scales,
    categories); `numeric` and `categorical` the reference rows, aligned.
    """
    spec: dict[str, Any] = {"numeric": [], "categorical": []}
    for name in numeric:
        f = features[name]
        spec["numeric"].append([name, f["mean"], f["scale"]])
    for name in categorical:
        f = features[name]
        present = max(f["rows"] - f["missing"], 1)
        kept: list[list[Any]] = []
        for cat, n in zip(f["categories"], f["counts"], strict=True):
            p = n / present
            if 0 < p < 1 and len(kept) < TOP_CATEGORIES:
                kept.append([cat, p, math.sqrt(p * (1 - p))])
        if kept:
            spec["categorical"].append([name, kept])
    rows = len(next(iter(numeric.values()))) if numeric else 0
    if not rows and categorical:
        rows = len(np.asarray(next(iter(categorical.values()))))
    inputs = len(spec["numeric"]) + len(spec["categorical"])
    if inputs < 2 or rows < 40:  # one input: its own tests already see it all
        return None
    columns = {**numeric, **{k: np.asarray(v) for k, v in categorical.items()}}
    z = encode(spec, columns, rows)
    out: dict[str, Any] = {**spec, **_fit(z, None)}
    if not out["residual"]:  # the kept components hold every live direction
        return None
    # held-out errors by 2-fold cross-fitting: components fitted on one half score
    # the other, so no row's error is shrunk by a fit that saw it
    order = rng.permutation(rows)
    halves = order[: rows // 2], order[rows // 2 :]
    err = np.concatenate(
        [
            errors(
                {**spec, **_fit(z[fit], out["kept"])},
                {k: np.asarray(v)[held] for k, v in columns.items()},
                len(held),
            )
            for fit, held in (halves, halves[::-1])
        ]
    )
    if err.mean() <= 0:  # nothing left out: nothing to test
        return None
    out.update(
        holdout_rows=len(err),
        mean=float(err.mean()),
        std=float(err.std()),
        errors=np.sort(rng.permutation(err)[:STORED_ERRORS]).tolist(),
    )
    out["thresholds"] = [
        float(np.quantile(_null_effects(out, n, rng, settings), settings["quantile"]))
        for n in settings["sizes"]
    ]
    return out


def _fit(z: np.ndarray, kept: int | None) -> dict[str, Any]:
    """Centre and residual directions of `z`, past `kept` components (or VARIANCE).

    Directions without variance (exact constraints: indicators that sum to one, a
    column that is the difference of two others) are left out of the residual too:
    their errors would be rounding noise, and any change in them a ratio of noises.
    """
    centre = z.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(z - centre, rowvar=False))
    values, vectors = values[::-1], vectors[:, ::-1]
    total = max(float(values.clip(0).sum()), 1e-300)
    share = np.cumsum(np.maximum(values, 0)) / total
    live = int(np.count_nonzero(values > DEGENERATE * total))
    if kept is None:  # at least one live direction is left out to watch
        kept = max(min(int(np.searchsorted(share, VARIANCE)) + 1, live - 1), 1)
    return {
        "centre": centre.tolist(),
        "kept": kept,
        "residual": vectors[:, kept:live].T.tolist(),
        "variance_kept": float(share[kept - 1]),
    }


# -- rows to errors --------------------------------------------------------------------
def encode(joint: Mapping[str, Any], columns: Mapping[str, Any], n: int) -> np.ndarray:
    """`n` rows as standardised vectors: numeric z-scores, then category indicators.

    A missing or non-finite number sits at the mean (zero); a column absent from
    `columns` is missing on every row.
    """
    width = len(joint["numeric"]) + sum(len(k) for _, k in joint["categorical"])
    z = np.zeros((n, width))
    j = 0
    for name, mean, scale in joint["numeric"]:
        col = columns.get(name)
        if col is not None:
            x = (np.asarray(col, dtype=np.float64).reshape(-1) - mean) / scale
            z[:, j] = np.clip(np.where(np.isfinite(x), x, 0.0), -CLIP, CLIP)
        j += 1
    for name, kept in joint["categorical"]:
        col = columns.get(name)
        if col is None:
            j += len(kept)
            continue
        codes = _codes(col, [cat for cat, _, _ in kept])
        for i, (_, p, sd) in enumerate(kept):
            z[:, j + i] = ((codes == i) - p) / sd
        j += len(kept)
    return z


class CodedStrings:
    """A string column as codes into its distinct words (`featurekit.contract` read it).

    Row i reads ``words[codes[i]]``; code -1 reads the last word, the missing value.
    Looking the few words up in a category list and taking the rows by code costs an
    integer pass, where hashing the column again costs a string pass.
    """

    def __init__(self, codes: np.ndarray, words: np.ndarray) -> None:
        self.codes, self.words = codes, words

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, rows: slice) -> CodedStrings:
        return CodedStrings(self.codes[rows], self.words)

    def positions(self, categories: list[str], index: dict[str, int] | None) -> Any:
        """Each row's position in `categories`, -1 elsewhere (missing included)."""
        index = index or {c: i for i, c in enumerate(categories)}
        found = [
            index.get(w, -1) if isinstance(w, str) and w != MISSING else -1
            for w in self.words.tolist()
        ]
        return np.asarray(found, dtype=np.int64)[self.codes]


def _codes(
    values: Any, categories: list[str], index: dict[str, int] | None = None
) -> np.ndarray:
    """Each value's position in `categories`, -1 elsewhere (non-strings included)."""
    if isinstance(values, CodedStrings):
        return values.positions(categories, index)  # type: ignore[no-any-return]
    codes = _arrow_codes(values, categories)
    if codes is not None:
        return codes
    values = np.asarray(values, dtype=object).reshape(-1)
    if len(values) <= 512:  # the live path's batches: dictionary lookups beat pandas
        index = index or {c: i for i, c in enumerate(categories)}
        return np.fromiter(
            (index.get(v, -1) if isinstance(v, str) else -1 for v in values.tolist()),
            np.int64,
            len(values),
        )
    import pandas as pd

    # hash the values once (pandas' factorize on the objects themselves), then look
    # up their few distinct ones: Index.get_indexer would first convert 100k strings
    # to an Arrow string array (about 40x slower). A missing value is code -1, and
    # categories are strings, so a number never matches one.
    found, uniques = pd.factorize(values)
    index = index or {c: i for i, c in enumerate(categories)}
    lookup = [index.get(u, -1) if isinstance(u, str) else -1 for u in uniques.tolist()]
    by_value: np.ndarray = np.asarray([*lookup, -1], dtype=np.int64)[found]
    return by_value


def _arrow_codes(values: Any, categories: list[str]) -> np.ndarray | None:
    """`_codes` of an Arrow-backed string column, hashed by Arrow (10x pandas)."""
    if not hasattr(getattr(values, "array", None), "__arrow_array__"):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    found = pc.index_in(arr, value_set=pa.array(categories, type=arr.type))
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


class _Plan:
    """A profile entry's arrays, built once.

    The live path scores a few hundred rows at a time; rebuilding the arrays from
    JSON lists each time would cost more than the rows.
    """

    def __init__(self, joint: Mapping[str, Any]) -> None:
        width = len(joint["numeric"]) + sum(len(k) for _, k in joint["categorical"])
        residual = np.asarray(joint["residual"], dtype=np.float64).reshape(-1, width)
        offset = -(np.asarray(joint["centre"]) @ residual.T)  # the same for every row
        d = len(joint["numeric"])
        self.tables: list[tuple[str, list[str], dict[str, int], np.ndarray]] = []
        j = d
        for name, kept in joint["categorical"]:
            block = residual[:, j : j + len(kept)]
            p = np.asarray([k[1] for k in kept])
            sd = np.asarray([k[2] for k in kept])
            offset -= (p / sd) @ block.T
            # row i: what category i's indicator adds; the last row (code -1): nothing
            table = np.vstack([(block / sd).T, np.zeros(len(block))])
            cats = [k[0] for k in kept]
            self.tables.append((name, cats, {c: i for i, c in enumerate(cats)}, table))
            j += len(kept)
        self.offset, self.numeric_part = offset, residual[:, :d].T
        self.names = [name for name, _, _ in joint["numeric"]]
        self.means = np.asarray([m for _, m, _ in joint["numeric"]])
        self.scales = np.asarray([s for _, _, s in joint["numeric"]])


#: Plans by profile entry (the entry kept beside its plan, so an id is never reused).
_PLANS: dict[int, tuple[Mapping[str, Any], _Plan]] = {}


def _plan(joint: Mapping[str, Any]) -> _Plan:
    found = _PLANS.get(id(joint))
    if found is not None and found[0] is joint:
        return found[1]
    if len(_PLANS) >= 16:
        _PLANS.clear()
    plan = _Plan(joint)
    _PLANS[id(joint)] = (joint, plan)
    return plan


def errors(joint: Mapping[str, Any], columns: Mapping[str, Any], n: int) -> np.ndarray:
    """Each of `n` rows' squared length along the residual directions.

    Never builds the indicator columns: a numeric block is one matrix product, and
    a categorical input adds its categories' rows of a small table (its indicators'
    projections), looked up by code, so a row costs O(inputs x directions).
    """
    plan = _plan(joint)
    d = len(plan.names)
    if d:
        x = np.column_stack(
            [
                np.full(n, np.nan)
                if columns.get(name) is None
                else np.asarray(columns[name], dtype=np.float64).reshape(-1)
                for name in plan.names
            ]
        )
        z = (x - plan.means) / plan.scales
        z[~np.isfinite(z)] = 0.0  # missing (and infinite) values sit at the mean
        np.clip(z, -CLIP, CLIP, out=z)
        left = z @ plan.numeric_part
        left += plan.offset
    else:
        left = np.tile(plan.offset, (n, 1))
    for name, cats, index, table in plan.tables:
        col = columns.get(name)
        if col is not None:
            left += table[_codes(col, cats, index)]
    return np.einsum("ij,ij->i", left, left)  # type: ignore[no-any-return]


def observe(
    joint: Mapping[str, Any], sums: JointSums, columns: Mapping[str, Any], n: int
) -> None:
    """Add the reconstruction errors of `n` rows of `columns` to `sums`.

    Columns are arrays (or Series) of length `n`, or graph feeds of shape (n, 1);
    large frames are encoded a chunk at a time, so memory stays bounded.
    """
    flat = {k: _flat(v) for k, v in columns.items()}
    for start in range(0, n, CHUNK):
        part = {
            k: v.iloc[start : start + CHUNK]
            if hasattr(v, "iloc")
            else v[start : start + CHUNK]
            for k, v in flat.items()
        }
        sums.add(errors(joint, part, min(CHUNK, n - start)))


def _flat(values: Any) -> Any:
    """A column as a 1-d array; a pandas Series of strings stays one (Arrow hashes it)."""
    if isinstance(values, CodedStrings):
        return values
    if hasattr(values, "iloc") and getattr(values.dtype, "kind", "O") not in "biuf":
        return values
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    return arr.reshape(len(arr), -1)[:, 0]


# -- testing ---------------------------------------------------------------------------
def _null_effects(
    joint: Mapping[str, Any], n: int, rng: np.random.Generator, settings: Any
) -> np.ndarray:
    """Relative rises of a window's mean error under no drift, at `n` rows."""
    stored = np.asarray(joint["errors"])
    draws = int(settings["bootstrap"])
    if n > RESAMPLE_MAX:
        centre = float(stored.mean())
        means = centre + rng.normal(0.0, joint["std"] / math.sqrt(n), draws)
    else:  # a small window's mean error is skewed: resample it, in bounded blocks
        means = np.empty(draws)
        step = max(1, 2_000_000 // max(n, 1))
        for a in range(0, draws, step):
            b = min(draws, a + step)
            means[a:b] = stored[rng.integers(0, len(stored), (b - a, n))].mean(axis=1)
    # plus the noise of the reference's own mean (it was estimated on the holdout)
    means -= rng.normal(0.0, joint["std"] / math.sqrt(joint["holdout_rows"]), draws)
    means += joint["mean"] - float(stored.mean())  # the stored subset's own offset
    return means / max(joint["mean"], 1e-300) - 1.0  # type: ignore[no-any-return]


def joint_test(
    joint: Mapping[str, Any], sums: JointSums, settings: Mapping[str, Any]
) -> tuple[float, float, float]:
    """(effect, threshold, p-value) of a window's errors against the reference's.

    The effect is the window's mean error over the reference's, minus one; the
    threshold the calibrated null quantile at the window's size (interpolated between
    calibrated sizes, never below the one at the profile's window). Only a rise counts:
    rows that fit the reference's structure better are no alarm.
    """
    n = sums.rows
    effect = (sums.total / n) / max(joint["mean"], 1e-300) - 1.0 if n else 0.0
    threshold = threshold_at(joint["thresholds"], settings["sizes"], n)
    if n == 0:
        return 0.0, threshold, 1.0
    null = _null_at(joint, n, settings)
    p = (1 + len(null) - int(np.searchsorted(null, effect))) / (1 + len(null))
    return effect, threshold, p


#: Sorted null effects per (profile, window size): a monitor's windows share a size,
#: so each null is drawn once, not per window.
_NULLS: dict[tuple[float, float, int, int, int], np.ndarray] = {}


def _null_at(
    joint: Mapping[str, Any], n: int, settings: Mapping[str, Any]
) -> np.ndarray:
    m = null_size(n, settings["sizes"])
    key = (joint["mean"], joint["std"], joint["holdout_rows"], m, settings["bootstrap"])
    null = _NULLS.get(key)
    if null is None:
        if len(_NULLS) >= 64:
            _NULLS.clear()
        # seeded by the size: one answer per window
        null = np.sort(_null_effects(joint, m, np.random.default_rng(m), settings))
        _NULLS[key] = null
    return null


#: Steps of the sizes the null is drawn at, between the calibrated ones: 2 ** (1/16).
NULL_STEPS_PER_DOUBLING = 16


def null_size(n: int, sizes: Sequence[int]) -> int:
    """The size whose null a window of `n` rows is tested against: at most `n`.

    A calibrated size (`settings["sizes"]`, the profile's window among them), or a
    step of a geometric grid 2 ** (k / 16), whichever is largest under `n`. Windows
    vary in size (a batch is never split across two), and a null drawn at each size
    would cost a bootstrap per window; a null drawn at a few per cent fewer rows is
    a few per cent wider, so the test stays on the safe side.

    Examples
    --------
    >>> null_size(1000, [20, 50, 1000]), null_size(1023, [20, 50, 1000])
    (1000, 1000)
    >>> null_size(1063, [20, 50, 1000]), null_size(37, [20, 50, 1000])
    (1024, 36)
    """
    k = math.floor(math.log2(max(n, 1)) * NULL_STEPS_PER_DOUBLING + 1e-9)
    grid = math.floor(2 ** (k / NULL_STEPS_PER_DOUBLING))
    return max([grid, *(s for s in sizes if s <= n)])
