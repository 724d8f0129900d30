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

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

import featurekit as fk
from bench._parity_cases import CASES as _CASES
from bench._parity_cases import (
    CATEGORICAL,
    CLASSIFICATION_SETS,
    REGRESSION_SETS,
    Dataset,
    _na,
    adversarial_rows,
    dataset,
    fit,
)
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


# the datasets, models and adversarial rows are defined once, in bench/_parity_cases.py,
# which bench/parity_matrix.py measures independently
CASES = [pytest.param(family, data, id=f"{family}-{data}") for family, data in _CASES]


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
            ds, pipe = fit(family, data)
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
    case.assert_same_answers(adversarial_rows(case.ds, case.pipe), "adversarial rows")


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
    ds, pipe = fit(family, "breast_cancer")
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
        fk.export(bad, tmp_path / "a", reference=train, overwrite=True)

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
