"""The parity matrix's cases: every model family against six datasets, with their data.

The same datasets and models as the test suite's parity matrix
(``tests/featurekit/test_parity.py``), kept here so that ``bench/parity_matrix.py``
imports no test module. Datasets: three shipped with scikit-learn (breast cancer, wine,
diabetes), a regression on the breast-cancer measurements, and two synthetic ones.
Categorical columns are derived by binning numeric ones into strings; missing values
are injected as None, NaN and pd.NA; columns arrive as float64, pandas Float64, object
and pandas 3 ``str``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_wine,
    make_classification,
    make_friedman1,
)
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import featurekit as fk

# -- the columns every dataset has ---------------------------------------------------
# -- the columns every dataset has ---------------------------------------------------
NUMERIC = ["n_std", "n_raw", "n_log", "n_mm", "n_int"]


CATEGORICAL = ["c_a", "c_b", "c_c", "c_d"]


#: How each column reaches the pipeline: pandas dtype, and so the missing marker it holds.
DTYPES = {
    "n_std": "float64",  # NaN
    "n_raw": "Float64",  # pd.NA
    "n_log": "object",  # None, NaN and pd.NA mixed
    "n_mm": "float64",
    "n_int": "int64",  # never missing
    "c_a": "str",  # pandas 3 string dtype, NaN
    "c_b": "object",  # None, NaN and pd.NA mixed
    "c_c": "object",
    "c_d": "str",
}


def _variant_a(src: pd.DataFrame) -> list[Any]:
    """Standard / robust / minmax scalers, log1p, clips, int bounds; unknown ignore / other / error."""
    return [
        fk.Numeric("n_std", impute="median", scale="standard"),
        fk.Numeric("n_raw", impute="mean"),  # unscaled: tree thresholds are raw values
        fk.Numeric(
            "n_log", impute="median", clip=(0, None), log1p=True, scale="robust"
        ),
        fk.Numeric(
            "n_mm",
            impute=float(src["n_mm"].median()),
            clip=(float(src["n_mm"].quantile(0.05)), float(src["n_mm"].quantile(0.95))),
            scale="minmax",
        ),
        fk.Numeric("n_int", dtype="int", bounds=(0, 200), clip=(None, 150)),
        fk.Categorical("c_a", impute="missing", unknown="ignore"),
        fk.Categorical(
            "c_b", encode="ordinal", unknown="other", min_frequency=5, nullable=True
        ),
        fk.Categorical(
            "c_c", impute="most_frequent", unknown="error", max_categories=4
        ),
        fk.Categorical("c_d", encode="ordinal", unknown="ignore", impute="missing"),
    ]


def _variant_b(src: pd.DataFrame) -> list[Any]:
    """The other combinations: onehot+other, ordinal+error, missing as its own category."""
    return [
        fk.Numeric("n_std", impute="mean", scale="robust"),
        fk.Numeric(
            "n_raw", impute="median", clip=(float(src["n_raw"].quantile(0.02)), None)
        ),
        fk.Numeric("n_log", impute=0.0, bounds=(0, None), log1p=True, scale="minmax"),
        fk.Numeric(
            "n_mm",
            impute="median",
            clip=(None, float(src["n_mm"].quantile(0.95))),
            scale="standard",
        ),
        fk.Numeric("n_int", dtype="int", bounds=(0, 200), scale="standard"),
        fk.Categorical("c_a", impute="missing", unknown="other", max_categories=4),
        fk.Categorical(
            "c_b",
            encode="ordinal",
            unknown="error",
            impute="most_frequent",
            min_frequency=0.05,
        ),
        fk.Categorical("c_c", unknown="ignore", min_frequency=5, nullable=True),
        fk.Categorical(
            "c_d", encode="ordinal", unknown="other", impute="missing", max_categories=3
        ),
    ]


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str  # "binary", "multiclass" or "regression"
    features: fk.FeatureSet
    train: pd.DataFrame
    y: np.ndarray
    holdout: (
        pd.DataFrame
    )  # rows never trained on, plus missing values and unseen categories
    clean: (
        pd.DataFrame
    )  # training rows without missing values: bases for adversarial rows

    @property
    def std_y(self) -> float:
        return float(np.std(self.y))


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Give each column its input dtype; missing markers become what that dtype holds."""
    out = {}
    for col in frame.columns:
        values = frame[col].tolist()
        dtype = DTYPES[col]
        if dtype == "float64":
            column: Any = [np.nan if _na(v) else float(v) for v in values]
        elif dtype == "Float64":
            column = pd.array(
                [pd.NA if _na(v) else float(v) for v in values], dtype="Float64"
            )
        elif dtype == "int64":
            column = [int(v) for v in values]
        else:
            column = values
        out[col] = pd.Series(column, index=frame.index, dtype=dtype)
    return pd.DataFrame(out, index=frame.index)


def _na(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def _bands(x: pd.Series, how: str, prefix: str) -> pd.Series:
    """A categorical column from a numeric one: equal-width bins leave rare tail bands."""
    q = (
        pd.qcut(x, 6, labels=False, duplicates="drop")
        if how == "quantile"
        else pd.cut(x, 8, labels=False)
    )
    return q.map(lambda k: f"{prefix}{int(k)}").astype(object)


def _source(name: str) -> tuple[pd.DataFrame, np.ndarray, str, Any]:
    """Nine numeric source columns, the target, the task and the feature variant."""
    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        cols = [
            "mean radius",
            "mean texture",
            "mean area",
            "mean smoothness",
            "mean perimeter",
            "worst concavity",
            "mean symmetry",
            "worst texture",
            "mean fractal dimension",
        ]
        return X[cols], y.to_numpy(), "binary", _variant_a
    if name == "wine":
        data = load_wine(as_frame=True)
        cols = [
            "alcohol",
            "flavanoids",
            "proline",
            "color_intensity",
            "magnesium",
            "hue",
            "malic_acid",
            "alcalinity_of_ash",
            "total_phenols",
        ]
        labels = np.asarray(data.target_names)[data.target.to_numpy()]  # string classes
        return data.data[cols], labels, "multiclass", _variant_b
    if name == "synthetic_binary":
        X, y = make_classification(
            n_samples=800, n_features=9, n_informative=6, flip_y=0.05, random_state=3
        )
        # two decimals: many tied values, so many rows sit right beside a split threshold
        frame = pd.DataFrame(np.round(X, 2), columns=[f"f{i}" for i in range(9)])
        return frame, np.where(y == 1, "yes", "no"), "binary", _variant_a
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        cols = ["bmi", "bp", "s5", "s1", "age", "sex", "s3", "s4", "s6"]
        return X[cols], y.to_numpy(), "regression", _variant_a
    if name == "breast_cancer_area":
        X, _ = load_breast_cancer(return_X_y=True, as_frame=True)
        cols = [
            "mean texture",
            "mean concavity",
            "mean compactness",
            "mean smoothness",
            "mean symmetry",
            "worst smoothness",
            "mean concave points",
            "worst symmetry",
            "mean fractal dimension",
        ]
        return X[cols], X["worst area"].to_numpy(), "regression", _variant_b
    if name == "friedman":
        X, y = make_friedman1(n_samples=600, n_features=9, noise=1.0, random_state=4)
        return (
            pd.DataFrame(X, columns=[f"f{i}" for i in range(9)]),
            y,
            "regression",
            _variant_b,
        )
    raise KeyError(name)


@functools.cache
def dataset(name: str) -> Dataset:
    src, y, task, variant = _source(name)
    s = [src.iloc[:, i].astype(np.float64).reset_index(drop=True) for i in range(9)]
    frame = pd.DataFrame(
        {
            "n_std": s[0],
            "n_raw": s[1],
            "n_log": s[2]
            - s[2].min(),  # log1p's column is non-negative (variant B bounds it)
            "n_mm": s[3],
            "n_int": np.round(
                (s[4] - s[4].min()) / (s[4].max() - s[4].min()) * 200
            ).astype(int),
            "c_a": _bands(s[5], "quantile", "A"),
            "c_b": _bands(s[6], "width", "B"),
            "c_c": _bands(s[7], "quantile", "C"),
            "c_d": _bands(s[8], "width", "D"),
        }
    )
    features = fk.FeatureSet(name, variant(frame))
    rng = np.random.default_rng(sum(map(ord, name)))
    order = rng.permutation(len(frame))
    cut = int(len(frame) * 0.75)
    train, held = frame.iloc[order[:cut]].copy(), frame.iloc[order[cut:]].copy()
    y_train = np.asarray(y)[order[:cut]]
    for f in features.features:
        if isinstance(f, fk.Categorical) and f.unknown == "error":
            # a held-out band the training rows never saw would break the contract
            seen = set(train[f.name])
            held.loc[~held[f.name].isin(seen), f.name] = train[f.name].mode().iloc[0]
    clean = typed(train)
    train = _inject_missing(train, features, rng, rate=0.08)
    held = _inject_missing(held, features, rng, rate=0.15)
    held = _inject_unseen(held, features, rng, rate=0.15)
    return Dataset(name, task, features, typed(train), y_train, typed(held), clean)


_MARKERS = (None, np.nan, pd.NA)


def _inject_missing(
    frame: pd.DataFrame, features: fk.FeatureSet, rng: Any, rate: float
) -> pd.DataFrame:
    out = frame.astype(object)
    for f in features.features:
        if f.accepts_missing:
            j = out.columns.get_loc(f.name)
            for k, i in enumerate(np.flatnonzero(rng.random(len(out)) < rate)):
                out.iat[i, j] = _MARKERS[k % 3]
    return out


UNSEEN = ("never-seen", "", "naïve ☃", "a0", " A0")


def _inject_unseen(
    frame: pd.DataFrame, features: fk.FeatureSet, rng: Any, rate: float
) -> pd.DataFrame:
    out = frame.copy()
    for f in features.features:
        if isinstance(f, fk.Categorical) and f.unknown != "error":
            j = out.columns.get_loc(f.name)
            for k, i in enumerate(np.flatnonzero(rng.random(len(out)) < rate)):
                out.iat[i, j] = UNSEEN[k % len(UNSEEN)]
    return out


# -- the models ----------------------------------------------------------------------
# -- the models ----------------------------------------------------------------------
CLASSIFIERS = {
    "logistic_regression": lambda: LogisticRegression(max_iter=5000),
    "decision_tree": lambda: DecisionTreeClassifier(random_state=0),
    "random_forest": lambda: RandomForestClassifier(
        n_estimators=10, max_leaf_nodes=64, random_state=0
    ),
    "extra_trees": lambda: ExtraTreesClassifier(
        n_estimators=10, max_leaf_nodes=64, random_state=0
    ),
    "gradient_boosting": lambda: GradientBoostingClassifier(
        n_estimators=15, random_state=0
    ),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(
        max_iter=15, random_state=0
    ),
}


REGRESSORS = {
    "linear_regression": LinearRegression,
    "ridge": Ridge,
    "decision_tree": lambda: DecisionTreeRegressor(random_state=0),
    "random_forest": lambda: RandomForestRegressor(
        n_estimators=10, max_leaf_nodes=64, random_state=0
    ),
    "extra_trees": lambda: ExtraTreesRegressor(
        n_estimators=10, max_leaf_nodes=64, random_state=0
    ),
    "gradient_boosting": lambda: GradientBoostingRegressor(
        n_estimators=15, random_state=0
    ),
    "hist_gradient_boosting": lambda: HistGradientBoostingRegressor(
        max_iter=15, random_state=0
    ),
}


CLASSIFICATION_SETS = ["breast_cancer", "wine", "synthetic_binary"]


REGRESSION_SETS = ["diabetes", "breast_cancer_area", "friedman"]


#: (family, dataset) in table order: every classifier on every classification set,
#: then every regressor on every regression set.
CASES = [(family, data) for family in CLASSIFIERS for data in CLASSIFICATION_SETS] + [
    (family, data) for family in REGRESSORS for data in REGRESSION_SETS
]


def _model(family: str, task: str) -> Any:
    return (REGRESSORS if task == "regression" else CLASSIFIERS)[family]()


# -- adversarial rows ----------------------------------------------------------------
def fit(family: str, name: str) -> tuple[Dataset, Any]:
    ds = dataset(name)
    return ds, fk.make_pipeline(ds.features, _model(family, ds.task)).fit(
        ds.train, ds.y
    )


# -- adversarial rows ----------------------------------------------------------------
def _is_hist(model: Any) -> bool:
    return isinstance(
        model, HistGradientBoostingClassifier | HistGradientBoostingRegressor
    )


def _tree_splits(model: Any) -> list[tuple[int, float]]:
    """(feature index, threshold) of every numeric split, read from the fitted trees."""
    out: list[tuple[int, float]] = []
    if _is_hist(model):
        for iteration in model._predictors:
            for predictor in iteration:
                nodes = predictor.nodes[~predictor.nodes["is_leaf"].astype(bool)]
                out += zip(
                    nodes["feature_idx"].tolist(),
                    nodes["num_threshold"].tolist(),
                    strict=True,
                )
        return out
    if hasattr(model, "tree_"):
        trees = [model]
    elif hasattr(model, "estimators_"):
        trees = list(np.ravel(model.estimators_))
    else:
        return out
    for est in trees:
        t = est.tree_
        inner = t.children_left != -1
        out += zip(t.feature[inner].tolist(), t.threshold[inner].tolist(), strict=True)
    return out


def _ordered(x: np.ndarray) -> np.ndarray:
    """Doubles as int64 whose integer order is the float order (-0.0 and 0.0 meet at 0)."""
    bits = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, -(bits & np.int64(0x7FFFFFFFFFFFFFFF)), bits)


def _unordered(i: np.ndarray) -> np.ndarray:
    bits = np.where(i < 0, (-i) | np.int64(-0x8000000000000000), i).astype(np.int64)
    return bits.view(np.float64)


def _present_value_transform(ct: Any, col: str) -> Any:
    """The fitted steps of one numeric column, as a function of non-missing raw values."""
    fitted = ct.named_transformers_[col]
    # the imputer is the identity on present values (and slow on tiny frames): skip it
    steps = [
        s
        for _, s in getattr(fitted, "steps", [("", fitted)])
        if not isinstance(s, SimpleImputer)
    ]

    def transform(x: np.ndarray) -> np.ndarray:
        v: Any = x.reshape(-1, 1)
        with np.errstate(all="ignore"):
            for step in steps:
                if hasattr(step, "feature_names_in_"):
                    v = pd.DataFrame(np.asarray(v), columns=step.feature_names_in_)
                v = step.transform(v)
        return np.asarray(v, dtype=np.float64).ravel()

    return transform


def _split_boundaries(
    transform: Any, thresholds: np.ndarray, lo: float, hi: float, float32: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Bisect raw inputs: per threshold, the last double going left and the first going right.

    A split goes left when ``T(x) <= t``, with ``T`` the column's fitted transforms and,
    for scikit-learn's own trees, ``T(x)`` rounded to float32 first. Bisecting over the
    doubles' integer order ends on two neighbouring doubles in at most 64 steps.
    """

    def left(i: np.ndarray) -> np.ndarray:
        v = transform(_unordered(i))
        if float32:
            v = v.astype(np.float32).astype(np.float64)
        return v <= thresholds

    a = np.full(len(thresholds), _ordered(np.array([lo]))[0])
    b = np.full(len(thresholds), _ordered(np.array([hi]))[0])
    ok = left(a) & ~left(b)
    while True:
        mid = (a >> 1) + (b >> 1) + (a & b & 1)  # floor of the mean, without overflow
        active = mid != a
        if not active.any():
            break
        go = left(mid)
        a = np.where(active & go, mid, a)
        b = np.where(active & ~go, mid, b)
    return _unordered(a[ok]), _unordered(b[ok])


def _admissible(f: fk.Numeric, v: float) -> bool:
    """Whether the contract accepts `v` in `f`'s column."""
    if not np.isfinite(v):
        return False
    if f.bounds is not None:
        lo, hi = f.bounds
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    return f.dtype != "int" or v == np.floor(v)


def _adversarial_values(ds: Dataset, pipe: Any) -> dict[str, list[float]]:
    model = pipe.named_steps["model"]
    ct = pipe.named_steps["features"]
    names = list(ct.get_feature_names_out())
    bounded_output = ds.task != "regression" or bool(_tree_splits(model))
    splits = _tree_splits(model)
    out: dict[str, list[float]] = {}
    for col in NUMERIC:
        f = ds.features[col]
        data = ds.clean[col].to_numpy(dtype=np.float64)
        lo, hi = float(data.min()), float(data.max())
        span = max(abs(lo), abs(hi), 1.0)
        values = [
            0.0,
            -0.0,
            1e-300,
            -1e-300,
            5e-324,
            1.0,
            -1.0,
            span * 1e6,
            -span * 1e6,
            lo,
            hi,
            float(np.nextafter(lo, -np.inf)),
            float(np.nextafter(hi, np.inf)),
        ]
        if bounded_output:
            # a linear regressor's answer grows with its input: at 1e15 float64 rounding
            # alone exceeds any std(y)-relative tolerance, so only bounded outputs get these
            values += [1e15, -1e15, 1e30, -1e30]
        for interval in (f.bounds, f.clip):
            for end in interval or ():
                if end is not None:
                    values += [
                        float(end),
                        float(np.nextafter(end, np.inf)),
                        float(np.nextafter(end, -np.inf)),
                    ]
        ts = np.unique([t for i, t in splits if names[i] == f"{col}__{col}"])
        if len(ts):
            ts = ts[
                np.unique(np.linspace(0, len(ts) - 1, 40).astype(int))
            ]  # at most 40
            floor = 0.0 if f.bounds and f.bounds[0] is not None else lo - 1.0 - abs(lo)
            left, right = _split_boundaries(
                _present_value_transform(ct, col),
                ts,
                floor,
                hi + 1.0 + abs(hi),
                not _is_hist(model),
            )
            for a, b in zip(left, right, strict=True):
                if f.dtype == "int":
                    values += [float(np.floor(a)), float(np.floor(a) + 1)]
                else:
                    values += [
                        a,
                        b,
                        float(np.nextafter(a, -np.inf)),
                        float(np.nextafter(b, np.inf)),
                    ]
            if (
                col == "n_raw"
            ):  # untransformed: the thresholds themselves, in both precisions
                for t in ts:
                    t32 = np.float32(t)
                    values += [
                        t,
                        float(np.nextafter(t, np.inf)),
                        float(np.nextafter(t, -np.inf)),
                        float(t32),
                        float(np.nextafter(t32, np.float32(np.inf))),
                        float(np.nextafter(t32, np.float32(-np.inf))),
                    ]
        out[col] = [
            float(v) if f.dtype != "int" else int(v)
            for v in values
            if _admissible(f, float(v))
        ]
    return out


def adversarial_rows(ds: Dataset, pipe: Any) -> pd.DataFrame:
    """Base rows with one column at a time set to an adversarial value."""
    bases = ds.clean.iloc[[0, len(ds.clean) // 2, len(ds.clean) - 1]].to_dict("records")
    adversarial = _adversarial_values(ds, pipe)
    records = []
    for base in bases:
        for col, values in adversarial.items():
            records += [{**base, col: v} for v in values]
        for f in ds.features.features:
            if isinstance(f, fk.Categorical) and f.unknown != "error":
                records += [{**base, f.name: u} for u in UNSEEN]
        records.append(
            {
                **base,
                **{f.name: None for f in ds.features.features if f.accepts_missing},
            }
        )
    return typed(pd.DataFrame(records, columns=NUMERIC + CATEGORICAL))


# -- the matrix ----------------------------------------------------------------------
