"""Print the transform matrix: every featurekit transform under several model families.

Run: python bench/transform_matrix.py [--quick] [--only TRANSFORM,...] [--models
FAMILY,...] [--json [PATH]] (default PATH: bench/results/transform_matrix.json). Each row declares one transform (plus the raw columns it
reads) on a synthetic orders table with numbers, counts, categories, a high-cardinality
merchant, date-times as datetime64 and as ISO-8601 text, and free text; fits it with one
model, exports it, and reports the certificate (rows scored, max |Δ|) plus an
independent check: `Predictor` against the scikit-learn pipeline on held-out rows with
missing values and unseen categories, and on adversarial rows (zero, signed zero, tiny
and huge magnitudes, calendar edges, odd text, unseen and separator-laden categories,
and raw values at and beside every split the fitted model reports, found by bisecting
each raw column through the fitted transforms). A combination the certificate refuses
(`ExportError` / `ParityError`) is a result: it is reported as "refused" with the
reason. ``--quick`` runs two small rows (the smoke test uses it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import Run, add_json_option, budget, print_budgets, versions
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import PolynomialFeatures
from threadpoolctl import threadpool_limits

import featurekit as fk
from serving import Predictor

#: Classifiers: |Δp| of every class probability; regressors: |Δ| / max(std(y), |ŷ|),
#: as the certificate measures. fk.export's default tolerance.

TOLERANCE = 1e-5

# -- the data --------------------------------------------------------------------------
WORDS = "great fast slow broken refund love hate ok späť naïve 好 ☃".split()
COUNTRIES = ["DE", "FR", "NL", "US"]
DEVICES = ["ios", "android", "web"]


def orders(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """An orders table with missing values, and a binary and a regression target."""
    rng = np.random.default_rng(seed)
    signup = pd.Timestamp("2019-01-01") + pd.to_timedelta(
        rng.integers(0, 4 * 365 * 86400, n), unit="s"
    )
    ordered = signup + pd.to_timedelta(rng.integers(0, 900 * 86400, n), unit="s")
    amount = rng.lognormal(4, 1, n).round(2)
    amount[rng.random(n) < 0.03] = 0.0
    items = rng.integers(0, 12, n).astype(float)  # zero items: ratios divide by zero
    a = rng.normal(0, 1, n).round(2)  # two decimals: many rows tie at a split
    b = rng.normal(5, 2, n).round(2)
    region = np.array([f"r{int(v)}" for v in rng.integers(0, 30, n)])
    merchant = np.array([f"m{int(v)}" for v in rng.zipf(1.6, n) % 5000])
    review = [
        " ".join(rng.choice(WORDS, rng.integers(0, 6))).upper()
        if rng.random() < 0.2
        else " ".join(rng.choice(WORDS, rng.integers(0, 6)))
        for _ in range(n)
    ]
    frame = pd.DataFrame(
        {
            "amount": amount,
            "items": items,
            "a": a,
            "b": b,
            "country": pd.Series(rng.choice(COUNTRIES, n), dtype="str"),
            "device": pd.Series(rng.choice(DEVICES, n), dtype=object),
            "region": pd.Series(region, dtype="str"),
            "merchant": pd.Series(merchant, dtype=object),
            "signup": signup,  # datetime64
            "ordered": [t.isoformat() for t in ordered],  # as a JSON client sends it
            "review": pd.Series(review, dtype=object),
        }
    )
    weekend = np.asarray(ordered.day_of_week >= 5)
    tenure = np.asarray((ordered - signup).days) / 365
    score = (
        (amount > 100) * 1.0
        + 0.3 * (frame["device"] == "web").to_numpy()
        + (np.char.find(np.array(review, dtype=str), "refund") >= 0) * 1.5
        + 0.5 * weekend
        + 0.4 * (a * b > 0)
        + 0.3 * np.isin(region, ["r1", "r2", "r3"])
        - 0.3 * tenure
        + rng.normal(0, 0.5, n)
    )
    targets = {
        "binary": (score > np.quantile(score, 0.6)).astype(int),
        "regression": score + np.log1p(amount) * 0.5 + 0.05 * items,
    }
    return frame, targets


#: The raw columns that may be missing, and with which markers.
NULLABLE = ("items", "a", "country", "review", "signup")
_MARKERS = (None, np.nan, pd.NA)


def _inject_missing(frame: pd.DataFrame, rng: Any, rate: float) -> pd.DataFrame:
    out = frame.copy()
    for name in NULLABLE:
        rows = np.flatnonzero(rng.random(len(out)) < rate)
        if name == "signup":
            out.loc[out.index[rows], name] = pd.NaT
            continue
        if out[name].dtype == object:
            for k, i in enumerate(rows):
                out.iat[i, out.columns.get_loc(name)] = _MARKERS[k % 3]
        else:  # float64 / str columns hold NaN
            out.loc[out.index[rows], name] = np.nan
    return out


#: Categories, texts and dates a fresh request may carry.
UNSEEN = ("never-seen", "", "naïve ☃", "de", " DE", "DE\x1fios", "\x1f")
TEXTS = (
    "",
    " ,.!? ",
    "REFUND refund Refund",
    "great fast great fast great fast",
    "naïve café ÉCOLE straße İstanbul ΣΟΦΟΣ",
    "好 ☃ 😀 späť\tand\nnewlines",
    "unknownword another",
    "refund " * 300,
)
DATES = (
    "1970-01-01T00:00:00",
    "1969-12-31T23:59:59",
    "2000-02-29T23:59:59",
    "2000-03-01T00:00:00",
    "1900-03-01T00:00:00",
    "2024-12-31T23:59:59",
    "2025-01-01T00:00:00",
    "2100-02-28T12:00:00",
    "2020-06-15",  # a date without a time
    "2020-06-15 08:30:00",  # a space instead of the T
    "2020-06-15T08:30:00.999999",
)


@dataclass(frozen=True)
class Data:
    train: pd.DataFrame
    y: dict[str, np.ndarray]
    holdout: pd.DataFrame
    #: training rows without missing values: the bases of adversarial rows
    clean: pd.DataFrame


def make_data(n_train: int, n_holdout: int) -> Data:
    train, y = orders(n_train, seed=0)
    clean = train.copy()
    rng = np.random.default_rng(1)
    train = _inject_missing(train, rng, rate=0.05)
    fresh, _ = orders(n_holdout, seed=7)
    fresh = _inject_missing(fresh, rng, rate=0.12)
    for name in ("country", "device", "region", "merchant"):
        rows = np.flatnonzero(rng.random(len(fresh)) < 0.1)
        for k, i in enumerate(rows):
            fresh.iat[i, fresh.columns.get_loc(name)] = UNSEEN[k % len(UNSEEN)]
    rows = np.flatnonzero(rng.random(len(fresh)) < 0.1)
    for k, i in enumerate(rows):
        fresh.iat[i, fresh.columns.get_loc("review")] = TEXTS[k % len(TEXTS)]
    return Data(train, y, fresh, clean)


# -- the transforms --------------------------------------------------------------------
c = fk.col

#: Raw columns as the transforms read them: missing where the data has it, and bounds
#: that keep squares, exponentials and products within float32, which trees compare in.
RAW: dict[str, Any] = {
    "amount": fk.Numeric("amount", bounds=(0, 1e7), input_only=True),
    # a count: a float would admit 1e-300, and amount / 1e-300 overflows float32,
    # which scikit-learn's forests refuse (the certificate reports it: ExportError)
    "items": fk.Numeric(
        "items", dtype="int", bounds=(0, 1000), nullable=True, input_only=True
    ),
    "a": fk.Numeric("a", bounds=(-100, 100), nullable=True, input_only=True),
    "b": fk.Numeric("b", bounds=(-100, 100), input_only=True),
    "country": fk.Categorical("country", nullable=True, input_only=True),
    "device": fk.Categorical("device", input_only=True),
    "signup": fk.Datetime("signup", nullable=True),
    "ordered": fk.Datetime("ordered"),
}


def _raw(*names: str) -> list[Any]:
    return [RAW[n] for n in names]


@dataclass(frozen=True)
class Transform:
    what: str  # the README's words for it
    declare: Callable[[], list[Any]]


TRANSFORMS: dict[str, Transform] = {
    "numeric_basics": Transform(
        "impute (median, mean, constant), clip, log1p, standard/robust/minmax scaling",
        lambda: [
            fk.Numeric("amount", bounds=(0, 1e7), clip=(0, None), log1p=True),
            fk.Numeric(
                "items",
                dtype="int",
                impute="median",
                bounds=(0, 1000),
                clip=(None, 10),
                scale="standard",
            ),
            fk.Numeric("a", impute=0.0, scale="robust"),
            fk.Numeric("b", impute="mean", clip=(0, 10), scale="minmax"),
        ],
    ),
    "categorical_basics": Transform(
        "one-hot, ordinal, folding (min_frequency, max_categories, unknown='other')",
        lambda: [
            fk.Numeric("a", impute="median"),
            fk.Categorical("country", impute="missing", unknown="ignore"),
            fk.Categorical("device", encode="ordinal", unknown="other"),
            fk.Categorical("region", min_frequency=30, unknown="other"),
            fk.Categorical(
                "merchant", encode="ordinal", max_categories=6, unknown="other"
            ),
        ],
    ),
    "arithmetic_ratio": Transform(
        "derived arithmetic and ratios (+ - * / **, abs, minimum/maximum, clip)",
        lambda: [
            *_raw("amount", "items", "a", "b"),
            fk.Derived(
                "per_item", c("amount") / c("items"), impute=0.0, scale="robust"
            ),
            fk.Derived("mix", c("a") * c("b") - c("b") ** 2 / 10, impute=0.0),
            fk.Derived("rel", c("b") / (c("a").abs() + 1), impute=0.0),
            fk.Derived(
                "capped",
                fk.minimum(c("amount"), 500) - fk.maximum(c("b"), 0),
            ),
            fk.Derived("a_clip", c("a").clip(-1, 1), impute=0.0),
        ],
    ),
    "log_exp_sqrt": Transform(
        "derived log, log1p, exp, sqrt",
        lambda: [
            *_raw("amount", "a", "b"),
            fk.Derived("log_amount", (c("amount") + 1).log()),
            fk.Derived("log1p_amount", c("amount").log1p(), scale="standard"),
            fk.Derived("sqrt_amount", c("amount").sqrt()),
            fk.Derived("exp_a", (c("a") / 2).exp(), impute=0.0),
            fk.Derived("log_b", c("b").log(), impute=0.0),  # b <= 0: missing
        ],
    ),
    "flags_conditions": Transform(
        "flags: where, comparisons, & \\| ~, isin",
        lambda: [
            *_raw("amount", "a", "b", "country", "device"),
            fk.Derived("big", fk.where(c("amount") > 100, 1, 0)),
            fk.Derived("quadrant", (c("a") >= 0) & (c("b") < 5)),
            fk.Derived("mobile", c("device").isin(["ios", "android"])),
            fk.Derived("not_de", ~(c("country") == "DE") | (c("a") != 0)),
            fk.Derived("signed", fk.where(c("a") < 0, -c("b"), c("b")), impute=0.0),
        ],
    ),
    "fillna_isnull": Transform(
        "fillna, isnull (numbers and categories)",
        lambda: [
            *_raw("items", "a", "country"),
            fk.Derived("items0", c("items").fillna(0)),
            fk.Derived("items_missing", c("items").isnull()),
            fk.Derived("a_missing", c("a").isnull()),
            fk.Derived("country_filled", c("country").fillna("none"), unknown="ignore"),
        ],
    ),
    "crossed_categories": Transform(
        "crossed categories (fk.cross), one-hot and hashed",
        lambda: [
            fk.Categorical("country", impute="missing", unknown="ignore"),
            *_raw("device"),
            fk.Derived(
                "country_device", fk.cross(c("country"), c("device")), unknown="ignore"
            ),
            fk.Derived(
                "device_region",
                fk.cross(c("device"), c("region")),
                encode="hash",
                n_buckets=32,
            ),
        ],
    ),
    "dates_iso_text": Transform(
        "date parts (year, month, day, day_of_week, day_of_year, hour) of ISO-8601 text",
        lambda: [
            *_raw("ordered"),
            fk.Derived("o_year", c("ordered").dt.year, scale="standard"),
            fk.Derived("o_month", c("ordered").dt.month),
            fk.Derived("o_day", c("ordered").dt.day),
            fk.Derived("o_dow", c("ordered").dt.day_of_week),
            fk.Derived("o_doy", c("ordered").dt.day_of_year),
            fk.Derived("o_hour", c("ordered").dt.hour, scale="minmax"),
            fk.Derived("weekend", c("ordered").dt.day_of_week >= 5),
        ],
    ),
    "dates_datetime64": Transform(
        "date parts of datetime64 and fk.days_between",
        lambda: [
            *_raw("signup", "ordered"),
            fk.Derived("s_year", c("signup").dt.year, impute="median"),
            fk.Derived("s_month", c("signup").dt.month, impute="median"),
            fk.Derived("s_dow", c("signup").dt.day_of_week, impute=-1.0),
            fk.Derived("s_hour", c("signup").dt.hour, impute=-1.0),
            fk.Derived(
                "tenure_days",
                fk.days_between(c("signup"), c("ordered")),
                impute="median",
                scale="standard",
            ),
        ],
    ),
    "bucket_quantile": Transform(
        "Bucketized: quantile bins, one-hot",
        lambda: [
            *_raw("amount", "a"),
            fk.Bucketized("amount_band", "amount", bins=5, strategy="quantile"),
            fk.Bucketized("a_band", "a", bins=4, strategy="quantile"),
        ],
    ),
    "bucket_uniform": Transform(
        "Bucketized: uniform bins, ordinal",
        lambda: [
            *_raw("b", "a"),
            fk.Bucketized("b_band", "b", bins=6, strategy="uniform", encode="ordinal"),
            fk.Bucketized(
                "ab_band", c("a") * c("b"), bins=5, strategy="uniform", encode="ordinal"
            ),
        ],
    ),
    "bucket_edges": Transform(
        "Bucketized: explicit edges, one-hot and ordinal",
        lambda: [
            *_raw("items", "amount"),
            fk.Bucketized("items_band", c("items").fillna(0), edges=[1, 3, 6]),
            fk.Bucketized(
                "amount_band",
                "amount",
                edges=[0.0, 10, 50.5, 100, 1000],
                encode="ordinal",
            ),
        ],
    ),
    "hash_encoding": Transform(
        "Categorical(encode='hash')",
        lambda: [
            fk.Numeric("a", impute="median"),
            fk.Categorical("merchant", encode="hash", n_buckets=64),
            fk.Categorical("country", impute="missing", encode="hash", n_buckets=8),
        ],
    ),
    "target_encoding": Transform(
        "Categorical(encode='target'), out-of-fold while fitting",
        lambda: [
            fk.Numeric("a", impute="median"),
            fk.Categorical("region", encode="target", unknown="ignore"),
            fk.Categorical("merchant", encode="target", unknown="ignore"),
        ],
    ),
    "tfidf_text": Transform(
        "fk.Text: TF-IDF, n-grams 1-2",
        lambda: [
            fk.Numeric("a", impute="median"),
            fk.Text("review", ngram_range=(1, 2), max_features=40),
        ],
    ),
    "custom_polynomial": Transform(
        "fk.Custom(PolynomialFeatures(2))",
        lambda: [
            *_raw("b"),
            fk.Numeric("amount", bounds=(0, 1e7), input_only=True),
            fk.Custom("poly", PolynomialFeatures(2), inputs=["amount", "b"]),
        ],
    ),
    "custom_pca": Transform(
        "fk.Custom(PCA(2))",
        lambda: [
            *_raw("b"),
            fk.Numeric("amount", bounds=(0, 1e7), input_only=True),
            fk.Custom("pca", PCA(2), inputs=["amount", "b"]),
        ],
    ),
}


# -- the models ------------------------------------------------------------------------
def _lgbm(task: str) -> Any:
    import lightgbm as lgb

    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    return cls(n_estimators=15, num_leaves=8, n_jobs=1, verbose=-1, random_state=0)


def _xgb(task: str) -> Any:
    import xgboost as xgb

    cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
    return cls(n_estimators=15, max_depth=3, n_jobs=1, random_state=0)


MODELS: dict[str, Callable[[str], Any]] = {
    "linear": lambda task: (
        Ridge() if task == "regression" else LogisticRegression(max_iter=5000)
    ),
    "random_forest": lambda task: (
        RandomForestRegressor if task == "regression" else RandomForestClassifier
    )(n_estimators=10, max_leaf_nodes=64, random_state=0, n_jobs=1),
    "hist_gradient_boosting": lambda task: (
        HistGradientBoostingRegressor
        if task == "regression"
        else HistGradientBoostingClassifier
    )(max_iter=15, random_state=0),
    "lightgbm": _lgbm,
    "xgboost": _xgb,
}


def _model_name(family: str, task: str) -> str:
    return type(MODELS[family](task)).__name__


def cases(transforms: list[str], families: list[str]) -> list[tuple[str, str, str]]:
    """(transform, family, task) in table order.

    Every transform with every family on the binary task, then on the regression task
    with Ridge and LightGBM.
    """
    out = [(t, f, "binary") for t in transforms for f in families]
    out += [
        (t, f, "regression")
        for t in transforms
        for f in families
        if f in ("linear", "lightgbm")
    ]
    return out


QUICK = [
    ("arithmetic_ratio", "linear", "binary"),
    ("dates_iso_text", "xgboost", "binary"),
]


# -- adversarial rows ------------------------------------------------------------------
def _splits(model: Any) -> list[tuple[int, float]]:
    """(model feature index, threshold) of every numeric split of the fitted model."""
    out: list[tuple[int, float]] = []
    if isinstance(
        model, HistGradientBoostingClassifier | HistGradientBoostingRegressor
    ):
        for iteration in model._predictors:
            for predictor in iteration:
                nodes = predictor.nodes[~predictor.nodes["is_leaf"].astype(bool)]
                out += zip(
                    nodes["feature_idx"].tolist(),
                    nodes["num_threshold"].tolist(),
                    strict=True,
                )
        return out
    if hasattr(model, "estimators_"):
        for est in np.ravel(model.estimators_):
            t = est.tree_
            inner = t.children_left != -1
            out += zip(
                t.feature[inner].tolist(), t.threshold[inner].tolist(), strict=True
            )
        return out
    booster = getattr(model, "booster_", None)
    if booster is None and hasattr(model, "get_booster"):
        booster = model.get_booster()
    if booster is None:
        return out
    trees = booster.trees_to_dataframe()
    if "split_feature" in trees:  # LightGBM: Column_<i>
        inner = trees[trees["decision_type"] == "<="]
        cols = inner["split_feature"].str.removeprefix("Column_").astype(int)
        return list(zip(cols, inner["threshold"].astype(float), strict=True))
    inner = trees[trees["Feature"] != "Leaf"]  # XGBoost: f<i>
    cols = inner["Feature"].str.removeprefix("f").astype(int)
    return list(zip(cols, inner["Split"].astype(float), strict=True))


def _goes_left(model: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """How the fitted model compares a feature value with a split threshold."""
    name = type(model).__name__
    if name.startswith("XGB"):  # float32 values, strictly below a float32 split
        return lambda v, t: v.astype(np.float32) < t.astype(np.float32)
    if name.startswith(("HistGradient", "LGBM")):  # doubles
        return lambda v, t: v <= t
    return lambda v, t: v.astype(np.float32) <= t  # scikit-learn's trees round first


def _ordered(x: np.ndarray) -> np.ndarray:
    """Doubles as int64 whose integer order is the float order."""
    bits = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, -(bits & np.int64(0x7FFFFFFFFFFFFFFF)), bits)


def _unordered(i: np.ndarray) -> np.ndarray:
    bits = np.where(i < 0, (-i) | np.int64(-0x8000000000000000), i).astype(np.int64)
    return bits.view(np.float64)


def _raw_numbers(f: Any) -> list[str]:
    """The raw numeric and date-time columns a model feature reads."""
    if isinstance(f, fk.Numeric):
        return [f.name]
    if isinstance(f, fk.Derived):
        cols = f.expression.columns()
    elif isinstance(f, fk.Bucketized):
        cols = f.source.columns()  # type: ignore[union-attr]
    elif isinstance(f, fk.Custom):
        return list(f.inputs)
    else:
        return []
    return [
        k
        for k, kind in cols.items()
        if kind in ("number", "condition", "any", "datetime")
    ]


def _split_values(
    pipe: Any, features: fk.FeatureSet, data: Data, bases: list[dict[str, Any]]
) -> dict[str, list[Any]]:
    """Per raw column, the last value going left and the first going right at each split.

    Bisects each raw column, from each base row, through the fitted transforms
    (``pipe[:-1].transform``) against each threshold of each feature that reads it:
    over the doubles' integer order for numbers, over whole seconds for date-times.
    All bisections advance together, one transform call per step. A feature need not
    be monotone in its column: the bisection keeps one end on each side of the split,
    so it ends on a crossing between the two neighbouring values it returns.
    """
    model = pipe.named_steps["model"]
    splits = _splits(model)
    if not splits:
        return {}
    left = _goes_left(model)
    names = list(pipe[:-1].get_feature_names_out())
    owner = {i: n.split("__", 1)[0] for i, n in enumerate(names)}
    per_col: dict[str, list[tuple[int, float]]] = {}
    for f in features.model_features:
        mine = sorted({(i, t) for i, t in splits if owner[i] == f.name})
        if len(mine) > 30:  # at most 30 per feature, spread over its thresholds
            keep = np.unique(np.linspace(0, len(mine) - 1, 30).astype(int))
            mine = [mine[k] for k in keep]
        for col in _raw_numbers(f):
            per_col.setdefault(col, []).extend(mine)
    per_col = {col: pairs for col, pairs in per_col.items() if pairs}
    if not per_col:
        return {}
    ranges = {col: _search_range(features[col], data.clean) for col in per_col}
    job_col, job_base, feat, thr = [], [], [], []
    for col, pairs in per_col.items():
        for k in range(len(bases)):
            for i, t in pairs:
                job_col.append(col)
                job_base.append(k)
                feat.append(i)
                thr.append(t)
    job_col_a = np.array(job_col, dtype=object)
    feat_a, thr_a = np.array(feat), np.array(thr, dtype=np.float64)
    template = pd.DataFrame(bases, columns=data.clean.columns).astype(
        data.clean.dtypes.to_dict()
    )
    template = template.iloc[job_base].reset_index(drop=True)
    masks = {col: job_col_a == col for col in per_col}

    def goes_left(codes: np.ndarray, repeat: int) -> np.ndarray:
        """Per code (``repeat`` consecutive codes per job), whether its row goes left."""
        frame = template.iloc[np.repeat(np.arange(len(template)), repeat)]
        frame = frame.reset_index(drop=True)
        for col, m in masks.items():
            rows = np.flatnonzero(np.repeat(m, repeat))
            values = frame[col].tolist()
            for j, v in zip(rows, _decode(features[col], codes[rows]), strict=True):
                values[j] = v
            frame[col] = pd.Series(values, dtype=data.clean[col].dtype)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(pipe[:-1].transform(frame), dtype=np.float64)
            return left(
                out[np.arange(len(frame)), np.repeat(feat_a, repeat)],
                np.repeat(thr_a, repeat),
            )

    a = np.array([ranges[c][0] for c in job_col], dtype=np.int64)
    b = np.array([ranges[c][1] for c in job_col], dtype=np.int64)
    at_a = goes_left(a, 1)
    ok = at_a != goes_left(b, 1)
    # a 16-way search: one transform call costs about the same for 1 row or 10,000,
    # so 15 probes per job per call take 16 calls instead of bisection's 64
    probes = 15
    while True:
        width = b.view(np.uint64) - a.view(np.uint64)  # exact: wraps like the ints
        active = ok & (width > 1)
        if not active.any():
            break
        step = np.maximum(width // np.uint64(probes + 1), np.uint64(1))
        j = np.arange(1, probes + 1, dtype=np.uint64)
        offset = np.minimum(step[:, None] * j[None, :], width[:, None])
        points = (a.view(np.uint64)[:, None] + offset).view(np.int64)
        same = goes_left(points.ravel(), probes).reshape(points.shape) == at_a[:, None]
        # the first probe on the other side; b when every probe stays on a's side
        first = np.argmin(same, axis=1)
        moved = ~same.all(axis=1)
        new_b = np.where(moved, points[np.arange(len(a)), first], b)
        prev = np.where(first > 0, points[np.arange(len(a)), first - 1], a)
        new_a = np.where(moved, prev, points[:, -1])
        a = np.where(active, new_a, a)
        b = np.where(active, new_b, b)
    out: dict[str, list[Any]] = {}
    for col, m in masks.items():
        lo, hi = ranges[col]
        # the two neighbours, and one step beyond each
        codes = np.concatenate([a[m & ok], b[m & ok], a[m & ok] - 1, b[m & ok] + 1])
        codes = codes[(codes >= lo) & (codes <= hi)]
        out[col] = _decode(features[col], np.unique(codes))
    return out


def _search_range(f: Any, clean: pd.DataFrame) -> tuple[int, int]:
    """Where to search a raw column, as int64 codes (see `_decode`)."""
    if isinstance(f, fk.Datetime):
        return -(2**31), 2**32  # 1901 .. 2106, in seconds
    x = clean[f.name].to_numpy(dtype=np.float64)
    span = max(abs(x.min()), abs(x.max()), 1.0)
    lo, hi = x.min() - span, x.max() + span
    if f.bounds is not None:
        lo = lo if f.bounds[0] is None else max(lo, f.bounds[0])
        hi = hi if f.bounds[1] is None else min(hi, f.bounds[1])
    if f.dtype == "int":
        return int(np.ceil(lo)), int(np.floor(hi))
    return int(_ordered(np.array([lo]))[0]), int(_ordered(np.array([hi]))[0])


def _decode(f: Any, codes: np.ndarray) -> list[Any]:
    """Raw values from int64 codes: seconds for date-times, the integer itself for
    integer columns, and doubles in their integer order otherwise."""
    if isinstance(f, fk.Datetime):
        if f.name == "signup":  # datetime64 in the data
            return [pd.Timestamp(int(s), unit="s") for s in codes]
        epoch = dt.datetime(1970, 1, 1)  # ISO-8601 text in the data
        return [(epoch + dt.timedelta(seconds=int(s))).isoformat() for s in codes]
    if f.dtype == "int":
        return [float(int(v)) for v in codes]
    return [float(v) for v in _unordered(np.asarray(codes, dtype=np.int64))]


def _magnitudes(f: Any, x: np.ndarray, bounded_output: bool) -> list[float]:
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    span = max(abs(lo), abs(hi), 1.0)
    values = [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1.0, -1.0, 0.5, -0.5, lo, hi]
    values += [float(np.nextafter(lo, -np.inf)), float(np.nextafter(hi, np.inf))]
    values += [span * 1e6, -span * 1e6]
    if bounded_output:  # a linear regressor's answer grows with its input
        values += [1e15, -1e15, 1e30, -1e30]
    for interval in (f.bounds, f.clip):
        for end in interval or ():
            if end is not None:
                values += [
                    float(end),
                    float(np.nextafter(end, np.inf)),
                    float(np.nextafter(end, -np.inf)),
                ]
    return [v for v in values if _admissible(f, v)]


def _admissible(f: Any, v: float) -> bool:
    """Whether the contract accepts `v` in `f`'s column."""
    if not np.isfinite(v):
        return False
    if f.bounds is not None:
        lo, hi = f.bounds
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    return f.dtype != "int" or v == np.floor(v)


def adversarial_rows(
    pipe: Any, features: fk.FeatureSet, data: Data, task: str
) -> pd.DataFrame:
    """Base rows with one raw column at a time set to an adversarial value.

    Values the contract refuses (beyond bounds, for instance) are dropped when scored.
    """
    clean = data.clean
    bases = clean.iloc[[0, len(clean) // 2, len(clean) - 1]].to_dict("records")
    model = pipe.named_steps["model"]
    bounded_output = task != "regression" or bool(_splits(model))
    per_col = _split_values(pipe, features, data, bases)
    for f in features.inputs:
        if isinstance(f, fk.Numeric):
            x = clean[f.name].to_numpy(dtype=np.float64)
            per_col.setdefault(f.name, []).extend(_magnitudes(f, x, bounded_output))
        elif isinstance(f, fk.Categorical):
            per_col.setdefault(f.name, []).extend(UNSEEN)
        elif isinstance(f, fk.Text):
            per_col.setdefault(f.name, []).extend(TEXTS)
        elif isinstance(f, fk.Datetime):
            dates = [d for d in DATES if f.name == "ordered" or len(d) > 10]
            per_col.setdefault(f.name, []).extend(
                pd.Timestamp(d) if f.name == "signup" else d for d in dates
            )
    records = []
    for base in bases:
        for col, values in per_col.items():
            records += [{**base, col: v} for v in values]
        records.append(
            {**base, **{f.name: None for f in features.inputs if f.accepts_missing}}
        )
    frame = pd.DataFrame(records, columns=clean.columns)
    for col in clean.columns:
        if col in ("amount", "items", "a", "b"):
            frame[col] = frame[col].astype(np.float64)
    frame["signup"] = pd.to_datetime(frame["signup"])
    return frame


# -- one row of the matrix -------------------------------------------------------------
@dataclass
class Row:
    transform: str
    family: str
    model: str
    task: str
    status: str  # "certified" or "refused"
    reason: str = ""
    certificate_rows: int = 0
    certificate_splits_covered: int = 0
    certificate_max_abs_diff: float = float("nan")
    independent_rows: int = 0
    contract_rejected_rows: int = 0
    independent_max_abs_diff: float = float("nan")
    flipped_labels: int = 0
    seconds: float = 0.0

    @property
    def within_tolerance(self) -> bool:
        return (
            self.status == "certified"
            and self.independent_max_abs_diff <= TOLERANCE
            and self.flipped_labels == 0
        )


def _compare(
    pred: Predictor, pipe: Any, frame: pd.DataFrame, std_y: float | None
) -> tuple[float, int, int, int]:
    """max |Δ|, flipped labels, rows compared, rows the contract refused.

    Classifiers: |Δp| of every class probability. Regressors: |Δ| / max(std(y), |ŷ|).
    """
    split = pred.score(frame, on_error="split")
    kept = frame[split.passed]
    refused = int((~split.passed).sum())
    if len(kept) == 0:
        return 0.0, 0, 0, refused
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sk_pred = pipe.predict(kept)
        sk_proba = pipe.predict_proba(kept) if std_y is None else None
    if std_y is not None:
        onx = split.scores["prediction"]
        sk = np.asarray(sk_pred, dtype=np.float64)
        # relative to the prediction where an extreme input drives it far beyond
        # std(y), as the certificate measures: float64 rounding alone grows with it
        d = np.abs(sk - onx) / np.maximum(std_y, np.abs(sk))
        return float(np.max(d)), 0, len(kept), refused
    flips = int(
        np.sum(
            np.asarray(sk_pred, dtype=object) != split.scores["label"].astype(object)
        )
    )
    dp = np.abs(sk_proba - split.scores["probabilities"])
    return float(np.max(dp)), flips, len(kept), refused


def run(transform: str, family: str, task: str, data: Data) -> Row:
    t0 = time.perf_counter()
    row = Row(transform, family, _model_name(family, task), task, "refused")
    features = fk.FeatureSet(transform, TRANSFORMS[transform].declare())
    y = data.y[task]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from tiny fits
        pipe = fk.make_pipeline(features, MODELS[family](task)).fit(data.train, y)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            art = fk.export(pipe, Path(tmp) / "a", reference=data.train)
        except fk.FeaturekitError as exc:  # ExportError and its ParityError
            row.reason = f"{type(exc).__name__}: {_first_line(str(exc))}"
            row.seconds = time.perf_counter() - t0
            return row
        pred = Predictor.load(Path(tmp) / "a")
        std_y = float(np.std(y)) if task == "regression" else None
        d1, f1, n1, r1 = _compare(pred, pipe, data.holdout, std_y)
        adv = adversarial_rows(pipe, features, data, task)
        d2, f2, n2, r2 = _compare(pred, pipe, adv, std_y)
    cert = art.certificate
    row.status = "certified"
    row.certificate_rows = int(cert["rows"])
    row.certificate_splits_covered = int(cert.get("splits_covered", 0))
    row.certificate_max_abs_diff = float(cert["max_abs_diff"])
    row.independent_rows = n1 + n2
    row.contract_rejected_rows = r1 + r2
    row.independent_max_abs_diff = max(d1, d2)
    row.flipped_labels = f1 + f2
    row.seconds = time.perf_counter() - t0
    return row


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = line.removesuffix(" Worst rows:")
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -- the report ------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return "–" if np.isnan(v) else f"{v:.1e}"


def print_rows(rows: list[Row]) -> None:
    print(
        "| transform | model | task | certificate rows | certificate max abs diff | "
        "independent rows (refused by contract) | independent max abs diff | "
        "flipped labels | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r.status == "refused":
            reason = r.reason.replace("|", "\\|")  # |Δ| would end the cell
            print(
                f"| {r.transform} | {r.model} | {r.task} | refused: {reason} "
                f"| | | | | {r.seconds:.1f} |"
            )
            continue
        print(
            f"| {r.transform} | {r.model} | {r.task} | {r.certificate_rows:,} | "
            f"{_fmt(r.certificate_max_abs_diff)} | {r.independent_rows:,} "
            f"({r.contract_rejected_rows:,}) | {_fmt(r.independent_max_abs_diff)} | "
            f"{r.flipped_labels} | {r.seconds:.1f} |"
        )


#: The summary's column heads, per family.
FAMILY_HEADS = {
    "linear": "LogisticRegression / Ridge",
    "random_forest": "RandomForest",
    "hist_gradient_boosting": "HistGradientBoosting",
    "lightgbm": "LightGBM",
    "xgboost": "XGBoost",
}


def _cell(mine: list[Row]) -> str:
    """One family's verdict on one transform, over both tasks."""
    ok = [r for r in mine if r.within_tolerance]
    differs = [r for r in mine if r.status == "certified" and not r.within_tolerance]
    refused = [r for r in mine if r.status == "refused"]
    parts = []
    if ok:
        worst = max(
            max(r.certificate_max_abs_diff, r.independent_max_abs_diff) for r in ok
        )
        parts.append(_fmt(worst) + ("" if len(ok) == len(mine) else f" ({_tasks(ok)})"))
    for r in differs:
        flips = "" if r.task == "regression" else f", {r.flipped_labels} flipped"
        parts.append(
            f"**certified, but differs: {_fmt(r.independent_max_abs_diff)}{flips}** "
            f"({r.task})"
        )
    if refused:
        kinds = sorted({r.reason.split(":", 1)[0] for r in refused})
        parts.append(f"refused: {', '.join(kinds)} ({_tasks(refused)})")
    return "; ".join(parts)


def _tasks(rows: list[Row]) -> str:
    return ", ".join(dict.fromkeys(r.task for r in rows))


def print_summary(rows: list[Row]) -> None:
    """Transform x family: the worst |Δ| of certificate and independent check."""
    families = list(dict.fromkeys(r.family for r in rows))
    heads = [FAMILY_HEADS.get(f, f) for f in families]
    print("\n| transform | tolerance | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(families))
    for t in dict.fromkeys(r.transform for r in rows):
        cells = [
            _cell([r for r in rows if r.transform == t and r.family == fam])
            for fam in families
        ]
        print(f"| {TRANSFORMS[t].what} | {TOLERANCE:g} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small rows")
    parser.add_argument("--only", help="comma-separated transforms")
    parser.add_argument("--models", help="comma-separated model families")
    add_json_option(parser, "transform_matrix")
    args = parser.parse_args(argv)
    record = Run("transform_matrix")
    if args.quick:
        todo = QUICK
        data = make_data(300, 80)
    else:
        transforms = args.only.split(",") if args.only else list(TRANSFORMS)
        families = args.models.split(",") if args.models else list(MODELS)
        for name in transforms:
            if name not in TRANSFORMS:
                parser.error(
                    f"unknown transform {name!r}; pick from {list(TRANSFORMS)}"
                )
        for name in families:
            if name not in MODELS:
                parser.error(f"unknown model family {name!r}; pick from {list(MODELS)}")
        todo = cases(transforms, families)
        data = make_data(1000, 300)
    rows = []
    t0 = time.perf_counter()
    with threadpool_limits(1):  # tiny fits; the machine is shared
        for transform, family, task in todo:
            row = run(transform, family, task, data)
            rows.append(row)
            note = (
                row.reason
                if row.status == "refused"
                else (
                    f"cert {_fmt(row.certificate_max_abs_diff)}, "
                    f"indep {_fmt(row.independent_max_abs_diff)}, {row.flipped_labels} flips"
                )
            )
            print(
                f"{transform:>20} {family:>22} {task:<10} {row.seconds:5.1f}s {note}",
                file=sys.stderr,
            )
    print_rows(rows)
    print_summary(rows)
    certified = [r for r in rows if r.status == "certified"]
    bad = [r for r in certified if not r.within_tolerance]
    print(
        f"\n{len(rows)} rows in {time.perf_counter() - t0:.0f} s: {len(certified)} "
        f"certified, {len(rows) - len(certified)} refused; worst certificate diff "
        f"{max((r.certificate_max_abs_diff for r in certified), default=float('nan')):.2e}; "
        f"worst independent diff "
        f"{max((r.independent_max_abs_diff for r in certified), default=float('nan')):.2e}; "
        f"flipped labels {sum(r.flipped_labels for r in certified)}; tolerance "
        f"{TOLERANCE:g} (classifier diffs are |Δp|, regressor diffs "
        "|Δ| / max(std(y), |ŷ|))"
    )
    for r in bad:
        print(
            f"WARNING: {r.transform} / {r.model} / {r.task} is certified, but "
            f"Predictor and scikit-learn differ on rows outside the certificate: max "
            f"{r.independent_max_abs_diff:.3g}, {r.flipped_labels} flipped labels"
        )
    budgets = [
        budget(
            "certified rows: worst |Δ|, independent check",
            max((r.independent_max_abs_diff for r in certified), default=float("nan")),
            "",
            at_most=TOLERANCE,
        ),
        budget(
            "certified rows: flipped labels, independent check",
            sum(r.flipped_labels for r in certified),
            "",
            at_most=0,
        ),
    ]
    print_budgets(budgets)
    if args.json:
        record.write(
            args.json,
            config={
                "quick": args.quick,
                "transforms": list(dict.fromkeys(r.transform for r in rows)),
                "families": list(dict.fromkeys(r.family for r in rows)),
                "tolerance": TOLERANCE,
            },
            budgets=[
                {**b, "case": f"{len(certified)} certified of {len(rows)} rows"}
                for b in budgets
            ],
            results={
                "rows": [asdict(r) for r in rows],
                "what": {t: TRANSFORMS[t].what for t in TRANSFORMS},
                "family_heads": FAMILY_HEADS,
            },
            versions=versions(
                "numpy",
                "pandas",
                "scikit-learn",
                "onnxruntime",
                "lightgbm",
                "xgboost",
                "featurekit",
            ),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
