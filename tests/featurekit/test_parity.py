"""The parity matrix: every supported model family against every transform.

Each case fits a pipeline on a dataset, exports it, and checks two things:

- the certificate ``fk.export`` recorded says parity holds within the tolerance;
- independently of the certificate, ``serving.Predictor`` answers like the scikit-learn
  pipeline on the training rows and on a held-out frame with missing values, unseen
  categories and adversarial rows (zero, signed zero, tiny and huge magnitudes, bounds
  and clip ends, and raw values at and beside every tree split, found here by bisection
  through the fitted transforms).

Datasets: three shipped with scikit-learn (breast cancer, wine, diabetes), a regression
on the breast-cancer measurements, and two synthetic ones. Categorical columns are
derived by binning numeric ones into strings; missing values are injected as None,
NaN and pd.NA; columns arrive as float64, pandas Float64, object and pandas 3 ``str``.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_wine,
    make_classification,
    make_friedman1,
)
from sklearn.dummy import DummyClassifier
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
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

import featurekit as fk
from serving import Predictor

# -- tolerances: what "the same answer" means ------------------------------------------
#: Classifiers: every label agrees and no class probability moves by more than this.
PROBA_TOL = 1e-5
#: Regressors: |sklearn - onnx| <= REGRESSION_REL_TOL * std(y) on every row.
REGRESSION_REL_TOL = 1e-5
#: What the certificate must report (fk.export's default tolerance).
CERTIFICATE_TOL = 1e-5


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    # these fits are tiny: starting OpenMP and BLAS thread pools costs more than they do
    with threadpool_limits(1):
        yield


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


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
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
    clean = _typed(train)
    train = _inject_missing(train, features, rng, rate=0.08)
    held = _inject_missing(held, features, rng, rate=0.15)
    held = _inject_unseen(held, features, rng, rate=0.15)
    return Dataset(name, task, features, _typed(train), y_train, _typed(held), clean)


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


_UNSEEN = ("never-seen", "", "naïve ☃", "a0", " A0")


def _inject_unseen(
    frame: pd.DataFrame, features: fk.FeatureSet, rng: Any, rate: float
) -> pd.DataFrame:
    out = frame.copy()
    for f in features.features:
        if isinstance(f, fk.Categorical) and f.unknown != "error":
            j = out.columns.get_loc(f.name)
            for k, i in enumerate(np.flatnonzero(rng.random(len(out)) < rate)):
                out.iat[i, j] = _UNSEEN[k % len(_UNSEEN)]
    return out


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
CASES = [
    pytest.param(family, data, id=f"{family}-{data}")
    for family in CLASSIFIERS
    for data in CLASSIFICATION_SETS
] + [
    pytest.param(family, data, id=f"{family}-{data}")
    for family in REGRESSORS
    for data in REGRESSION_SETS
]


def _model(family: str, task: str) -> Any:
    return (REGRESSORS if task == "regression" else CLASSIFIERS)[family]()


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


def _adversarial_rows(ds: Dataset, pipe: Any) -> pd.DataFrame:
    """Base rows with one column at a time set to an adversarial value."""
    bases = ds.clean.iloc[[0, len(ds.clean) // 2, len(ds.clean) - 1]].to_dict("records")
    adversarial = _adversarial_values(ds, pipe)
    records = []
    for base in bases:
        for col, values in adversarial.items():
            records += [{**base, col: v} for v in values]
        for f in ds.features.features:
            if isinstance(f, fk.Categorical) and f.unknown != "error":
                records += [{**base, f.name: u} for u in _UNSEEN]
        records.append(
            {
                **base,
                **{f.name: None for f in ds.features.features if f.accepts_missing},
            }
        )
    return _typed(pd.DataFrame(records, columns=NUMERIC + CATEGORICAL))


# -- comparing answers ---------------------------------------------------------------
def _assert_same_answers(
    predictor: Predictor,
    pipe: Any,
    frame: pd.DataFrame,
    what: str,
    *,
    std_y: float | None = None,
) -> None:
    """Classifiers (``std_y`` None): same labels, probabilities within PROBA_TOL.

    Regressors: predictions within REGRESSION_REL_TOL * std_y.
    """
    if std_y is not None:
        sk = np.asarray(pipe.predict(frame), dtype=np.float64)
        onx = predictor.predict(frame)
        diff = np.abs(sk - onx)
        tol = REGRESSION_REL_TOL * std_y
        i = int(np.argmax(np.where(np.isnan(diff), np.inf, diff)))
        assert diff[i] <= tol, (
            f"{what}: |Δ|={diff[i]:.3g} > {tol:.3g} on row {frame.iloc[i].to_dict()!r}: "
            f"sklearn={sk[i]!r} onnx={onx[i]!r}"
        )
        return
    sk_labels = np.asarray(pipe.predict(frame), dtype=object)
    onx_labels = np.asarray(predictor.predict(frame), dtype=object)
    flipped = np.flatnonzero(sk_labels != onx_labels)
    assert len(flipped) == 0, (
        f"{what}: {len(flipped)} of {len(frame)} labels differ, first row "
        f"{frame.iloc[flipped[0]].to_dict()!r}: sklearn={sk_labels[flipped[0]]!r} "
        f"onnx={onx_labels[flipped[0]]!r}"
    )
    sk_proba = pipe.predict_proba(frame)
    onx_proba = predictor.predict_proba(frame)
    assert onx_proba.shape == sk_proba.shape
    diff = np.max(np.abs(sk_proba - onx_proba), axis=1)
    i = int(np.argmax(np.where(np.isnan(diff), np.inf, diff)))
    assert diff[i] <= PROBA_TOL, (
        f"{what}: max |Δp|={diff[i]:.3g} > {PROBA_TOL} on row {frame.iloc[i].to_dict()!r}: "
        f"sklearn={sk_proba[i].tolist()!r} onnx={onx_proba[i].tolist()!r}"
    )


def _fit(family: str, name: str) -> tuple[Dataset, Any]:
    ds = dataset(name)
    return ds, fk.make_pipeline(ds.features, _model(family, ds.task)).fit(
        ds.train, ds.y
    )


@dataclass(frozen=True)
class Exported:
    ds: Dataset
    pipe: Any
    artifact: Any
    predictor: Predictor

    def assert_same_answers(self, frame: pd.DataFrame, what: str) -> None:
        std_y = self.ds.std_y if self.ds.task == "regression" else None
        _assert_same_answers(self.predictor, self.pipe, frame, what, std_y=std_y)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Fit and export each case once; the tests below check different things about it."""
    done: dict[tuple[str, str], Exported | Exception] = {}

    def get(family: str, data: str) -> Exported:
        if (family, data) not in done:
            ds, pipe = _fit(family, data)
            path = tmp_path_factory.mktemp(f"{family}-{data}") / "artifact"
            try:
                artifact = fk.export(pipe, path, reference=ds.train)
            except fk.ExportError as exc:
                # remembered: every test of this case fails with it, exporting once
                done[family, data] = exc
            else:
                done[family, data] = Exported(ds, pipe, artifact, Predictor.load(path))
        result = done[family, data]
        if isinstance(result, Exception):
            raise result
        return result

    return get


# -- the matrix ----------------------------------------------------------------------
@pytest.mark.parametrize(("family", "data"), CASES)
def test_certificate_records_parity_within_tolerance(
    family: str, data: str, exported: Any
) -> None:
    case = exported(family, data)

    cert = case.artifact.certificate

    assert cert["passed"] is True
    assert cert["tolerance"] == CERTIFICATE_TOL
    assert cert["max_abs_diff"] <= CERTIFICATE_TOL
    assert cert["reference_rows"] == len(case.ds.train)
    assert cert["rows"] > len(case.ds.train)  # plus the generated edge cases
    assert cert["label_agreement"] == (None if case.ds.task == "regression" else 1.0)


@pytest.mark.parametrize(("family", "data"), CASES)
def test_predictor_answers_like_sklearn_on_training_rows(
    family: str, data: str, exported: Any
) -> None:
    case = exported(family, data)
    if case.ds.task != "regression":
        assert case.predictor.classes_.tolist() == case.pipe.classes_.tolist()
    case.assert_same_answers(case.ds.train, "training rows")


@pytest.mark.parametrize(("family", "data"), CASES)
def test_predictor_answers_like_sklearn_on_held_out_rows_with_missing_and_unseen(
    family: str, data: str, exported: Any
) -> None:
    case = exported(family, data)
    case.assert_same_answers(case.ds.holdout, "held-out rows")


@pytest.mark.parametrize(("family", "data"), CASES)
def test_predictor_answers_like_sklearn_at_splits_and_extremes(
    family: str, data: str, exported: Any
) -> None:
    case = exported(family, data)
    case.assert_same_answers(_adversarial_rows(case.ds, case.pipe), "adversarial rows")


@pytest.mark.parametrize("data", CLASSIFICATION_SETS + REGRESSION_SETS)
def test_matrix_data_holds_missing_values_and_unseen_categories(data: str) -> None:
    ds = dataset(data)
    nullable = [f.name for f in ds.features.features if f.accepts_missing]
    lenient = [
        f.name
        for f in ds.features.features
        if isinstance(f, fk.Categorical) and f.unknown != "error"
    ]

    assert all(
        ds.train[c].isna().any() and ds.holdout[c].isna().any() for c in nullable
    )
    assert all((~ds.holdout[c].isin(set(ds.train[c]))).any() for c in lenient)
    assert {str(ds.train[c].dtype) for c in ds.train} == {
        "float64",
        "Float64",
        "object",
        "int64",
        "str",
    }


# -- input representations -----------------------------------------------------------
def _representations(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The same rows as object columns with None, as pandas 3 str / Float64 with their NA."""
    as_object = frame.astype(object).where(frame.notna(), None)
    as_str = frame.copy()
    for col in CATEGORICAL:
        as_str[col] = frame[col].astype("str")
    for col in ("n_std", "n_raw", "n_log", "n_mm"):
        as_str[col] = pd.array(
            [pd.NA if _na(v) else float(v) for v in frame[col]], dtype="Float64"
        )
    as_nan = frame.copy()
    for col in ("n_std", "n_raw", "n_log", "n_mm"):
        as_nan[col] = [np.nan if _na(v) else float(v) for v in frame[col]]
    for col in CATEGORICAL:
        as_nan[col] = pd.Series(
            [np.nan if _na(v) else v for v in frame[col]],
            index=frame.index,
            dtype=object,
        )
    return {
        "object_none": as_object,
        "str_and_Float64_pd_NA": as_str,
        "float_and_object_nan": as_nan,
    }


@pytest.mark.parametrize("family", ["logistic_regression", "hist_gradient_boosting"])
def test_str_object_and_missing_markers_score_identically(
    family: str, tmp_path: Path
) -> None:
    ds, pipe = _fit(family, "breast_cancer")
    fk.export(pipe, tmp_path / "a", reference=ds.train)
    predictor = Predictor.load(tmp_path / "a")
    answers = {}
    for how, frame in _representations(ds.holdout).items():
        _assert_same_answers(predictor, pipe, frame, f"held-out rows as {how}")
        answers[how] = predictor.predict_proba(frame)
    first = next(iter(answers.values()))
    for how, proba in answers.items():
        np.testing.assert_array_equal(proba, first, err_msg=how)


# -- trees that see missing values themselves ----------------------------------------
NATIVE_MISSING = {
    "decision_tree": lambda: DecisionTreeClassifier(random_state=0),
    "random_forest": lambda: RandomForestClassifier(n_estimators=15, random_state=0),
    "extra_trees": lambda: ExtraTreesClassifier(n_estimators=15, random_state=0),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(
        max_iter=15, random_state=0
    ),
}


@pytest.mark.parametrize("family", list(NATIVE_MISSING))
def test_trees_route_unimputed_missing_values_like_sklearn(
    family: str, tmp_path: Path
) -> None:
    # no imputer: NaN reaches the trees, which send it down their learned missing branch
    ds = dataset("breast_cancer")
    features = fk.FeatureSet(
        "native_missing",
        [
            fk.Numeric("n_std", scale="standard", nullable=True),
            fk.Numeric("n_log", clip=(0, None), log1p=True, nullable=True),
            fk.Categorical("c_a", impute="missing", unknown="ignore"),
        ],
    )
    pipe = fk.make_pipeline(features, NATIVE_MISSING[family]()).fit(ds.train, ds.y)

    art = fk.export(pipe, tmp_path / "a", reference=ds.train)

    assert art.certificate["max_abs_diff"] <= CERTIFICATE_TOL
    predictor = Predictor.load(tmp_path / "a")
    _assert_same_answers(
        predictor, pipe, ds.holdout, "held-out rows with missing values"
    )


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(LogisticRegression(max_iter=5000), id="logistic_regression"),
        pytest.param(DecisionTreeClassifier(random_state=0), id="decision_tree"),
    ],
)
def test_numeric_column_without_transforms_exports(model: Any, tmp_path: Path) -> None:
    ds = dataset("breast_cancer")
    features = fk.FeatureSet(
        "untransformed",
        [
            fk.Numeric("n_raw", nullable=False),
            fk.Numeric("n_int", dtype="int", bounds=(0, 200)),
            fk.Categorical("c_a", impute="missing", unknown="ignore"),
        ],
    )
    train = ds.clean
    pipe = fk.make_pipeline(features, model).fit(train, ds.y)

    art = fk.export(pipe, tmp_path / "a", reference=train)

    assert art.certificate["max_abs_diff"] <= CERTIFICATE_TOL
    predictor = Predictor.load(tmp_path / "a")
    _assert_same_answers(predictor, pipe, train, "training rows")


# -- refusals ------------------------------------------------------------------------
def _tied_knn(ds: Dataset) -> tuple[Any, pd.DataFrame]:
    """A fitted pipeline no graph can match, and its training rows.

    Every row appears twice with opposite labels, so each row's nearest neighbour is a
    tie at distance zero; a kd-tree breaks it in the order it visits its nodes, which
    the graph cannot follow (brute force's earlier row it can).
    """
    train = pd.concat([ds.train, ds.train], ignore_index=True)
    y = np.concatenate([ds.y, 1 - ds.y])
    model = KNeighborsClassifier(n_neighbors=1, algorithm="kd_tree")
    return fk.make_pipeline(ds.features, model).fit(train, y), train


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_model_that_cannot_match_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    pipe, train = _tied_knn(dataset("breast_cancer"))

    with pytest.raises(
        fk.ParityError, match=r"KNeighborsClassifier .* fails parity on \d+ of \d+ rows"
    ) as err:
        fk.export(pipe, tmp_path / "a", reference=train)

    worst = err.value.worst
    assert worst, "the error names the worst rows"
    assert not worst[0]["label_agrees"] or worst[0]["diff"] > PROBA_TOL
    assert "Nothing was written" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no artifact, no temporary directory either


def test_refused_export_leaves_the_previous_artifact_in_place(tmp_path: Path) -> None:
    ds = dataset("breast_cancer")
    good = fk.make_pipeline(ds.features, LogisticRegression(max_iter=5000)).fit(
        ds.train, ds.y
    )
    fk.export(good, tmp_path / "a", reference=ds.train)
    before = _tree_hashes(tmp_path)
    bad, train = _tied_knn(ds)

    with pytest.raises(fk.ParityError):
        fk.export(bad, tmp_path / "a", reference=train)

    assert _tree_hashes(tmp_path) == before
    np.testing.assert_array_equal(
        Predictor.load(tmp_path / "a").predict(ds.holdout), good.predict(ds.holdout)
    )


def test_unconvertible_model_raises_export_error_naming_it(tmp_path: Path) -> None:
    ds = dataset("breast_cancer")
    pipe = fk.make_pipeline(ds.features, DummyClassifier()).fit(ds.train, ds.y)

    with pytest.raises(
        fk.ExportError, match=r"Cannot export DummyClassifier: skl2onnx cannot convert"
    ) as err:
        fk.export(pipe, tmp_path / "a", reference=ds.train)

    assert not isinstance(err.value, fk.ParityError)
    assert list(tmp_path.iterdir()) == []
