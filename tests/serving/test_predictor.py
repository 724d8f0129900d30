"""`serving.Predictor` answers exactly what the scikit-learn pipeline answers."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

import featurekit as fk
import featurekit.runtime
from featurekit.runtime import CHUNK_ROWS, Session
from serving import Predictor

# Probabilities may differ from scikit-learn's in the last bits (the certificate's
# default tolerance is 1e-5); labels must agree exactly.
ATOL = 1e-9

FEATURES = fk.FeatureSet(
    "credit",
    [
        fk.Numeric("x", impute="mean", scale="standard", bounds=(-10, 10)),
        fk.Numeric("k", dtype="int", clip=(0, 10), scale="minmax"),
        fk.Categorical("c", impute="most_frequent"),  # unknown="error"
        fk.Categorical("d", impute="most_frequent", unknown="ignore"),
    ],
)


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 12, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.2, 0.5, 0.3]),
            "d": rng.choice(["u", "v", "w"], n, p=[0.6, 0.2, 0.2]),
        }
    )
    frame.loc[::7, "x"] = np.nan
    frame.loc[::11, "c"] = None
    return frame


def _records(frame: pd.DataFrame) -> list[dict]:
    """Plain JSON-like records: Python scalars, None for missing."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@pytest.fixture(scope="module")
def train() -> tuple[pd.DataFrame, np.ndarray]:
    frame = _frame(80)
    hit = (frame["x"].fillna(0) > 0) ^ (frame["c"] == "a") ^ (frame["d"] == "u")
    return frame, np.where(hit, "yes", "no")


@pytest.fixture(scope="module")
def classifier(train, tmp_path_factory):
    frame, y = train
    pipe = fk.make_pipeline(FEATURES, LogisticRegression()).fit(frame, y)
    path = tmp_path_factory.mktemp("classifier") / "credit"
    fk.export(pipe, path, frame)
    return pipe, path


@pytest.fixture(scope="module")
def regressor(train, tmp_path_factory):
    frame, _ = train
    pipe = fk.make_pipeline(FEATURES, Ridge()).fit(
        frame, frame["x"].fillna(0) + frame["k"]
    )
    path = tmp_path_factory.mktemp("regressor") / "credit"
    fk.export(pipe, path, frame)
    return pipe, path


@pytest.fixture(scope="module")
def predictor(classifier) -> Predictor:
    return Predictor.load(classifier[1])


@pytest.fixture(scope="module")
def pipe(classifier):
    return classifier[0]


# -- input shapes ----------------------------------------------------------------------


def test_dataframe_answers_equal_the_pipeline(predictor, pipe):
    frame = _frame(30, seed=1)
    np.testing.assert_array_equal(predictor.predict(frame), pipe.predict(frame))
    np.testing.assert_allclose(
        predictor.predict_proba(frame), pipe.predict_proba(frame), rtol=0, atol=ATOL
    )


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_list_of_dicts_gives_the_same_answers_as_a_dataframe(predictor, method):
    frame = _frame(30, seed=1)
    expected = getattr(predictor, method)(frame)
    np.testing.assert_array_equal(getattr(predictor, method)(_records(frame)), expected)


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_single_dict_gives_the_same_answer_as_a_one_row_dataframe(predictor, method):
    frame = _frame(30, seed=1)
    for i in (0, 7, 11):  # a complete row, a missing number, a missing category
        expected = getattr(predictor, method)(frame.iloc[[i]])
        got = getattr(predictor, method)(_records(frame)[i])
        np.testing.assert_array_equal(got, expected)


def test_single_dict_answer_equals_the_pipeline(predictor, pipe):
    record = {"x": 0.3, "k": 4, "c": "b", "d": "w"}
    np.testing.assert_array_equal(
        predictor.predict(record), pipe.predict(pd.DataFrame([record]))
    )
    np.testing.assert_allclose(
        predictor.predict_proba(record),
        pipe.predict_proba(pd.DataFrame([record])),
        rtol=0,
        atol=ATOL,
    )


@pytest.mark.parametrize("dtype", ["str", object])
def test_string_column_dtype_does_not_change_answers(predictor, dtype):
    frame = _frame(30, seed=1)
    other = frame.astype({"c": dtype, "d": dtype})
    np.testing.assert_array_equal(
        predictor.predict_proba(other), predictor.predict_proba(frame)
    )


def test_extra_columns_are_ignored(predictor):
    frame = _frame(5, seed=1)
    np.testing.assert_array_equal(
        predictor.predict_proba(frame.assign(unused="z")),
        predictor.predict_proba(frame),
    )


# -- classes and shapes ----------------------------------------------------------------


def test_classes_order_matches_predict_proba_columns(predictor, pipe):
    frame = _frame(30, seed=1)
    assert predictor.classes_.tolist() == pipe.classes_.tolist() == ["no", "yes"]
    proba = predictor.predict_proba(frame)
    assert proba.shape == (30, 2)
    np.testing.assert_array_equal(
        predictor.classes_[proba.argmax(axis=1)], predictor.predict(frame)
    )


@pytest.mark.parametrize("empty", [[], "frame"], ids=["list", "frame"])
def test_empty_batch_gives_empty_arrays_of_the_right_shape(predictor, empty):
    batch = _frame(5).iloc[:0] if empty == "frame" else empty
    assert predictor.predict(batch).shape == (0,)
    assert predictor.predict_proba(batch).shape == (0, 2)


def test_empty_batch_on_a_regressor_gives_an_empty_prediction(regressor):
    predictor = Predictor.load(regressor[1])
    assert predictor.predict([]).shape == (0,)


def test_regressor_predictions_equal_the_pipeline(regressor):
    pipe, path = regressor
    frame = _frame(30, seed=1)
    np.testing.assert_allclose(
        Predictor.load(path).predict(frame), pipe.predict(frame), rtol=1e-12, atol=ATOL
    )


def test_predict_proba_on_a_regressor_raises_attribute_error(regressor):
    predictor = Predictor.load(regressor[1])
    with pytest.raises(
        AttributeError, match=r"'credit' is a regressor; it has predict but no"
    ):
        predictor.predict_proba(_frame(3))


# -- bad input -------------------------------------------------------------------------


@pytest.fixture
def run_calls(monkeypatch) -> list:
    """Records every call into onnxruntime made through featurekit's Session."""
    calls = []
    real = Session.run

    def run(self, *args, **kwargs):
        calls.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Session, "run", run)
    return calls


@pytest.mark.parametrize(
    ("bad", "check"),
    [
        ({"x": "0.5"}, "dtype('float64')"),
        ({"x": True}, "dtype('float64')"),
        ({"x": 11.0}, "in_range(-10, 10)"),
        ({"x": np.inf}, "less_than(inf)"),
        ({"k": 2.5}, "dtype('Int64')"),
        ({"k": None}, "not_nullable"),
        ({"c": "zz"}, "isin(["),
        ({"c": 3}, "dtype('str')"),
    ],
)
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_bad_input_raises_contract_error_and_nothing_is_scored(
    predictor, run_calls, bad, check, method
):
    records = _records(_frame(4, seed=1))
    records[2] = {**records[2], **bad}
    with pytest.raises(
        fk.ContractError, match=r"^1 of 4 rows failed the contract of 'credit' v1"
    ) as info:
        getattr(predictor, method)(records)
    assert isinstance(info.value, ValueError)
    failures = info.value.failures
    assert set(failures["index"]) == {2}
    assert any(c.startswith(check) for c in failures["check"]), failures
    assert run_calls == []


def test_missing_column_raises_contract_error_and_nothing_is_scored(
    predictor, run_calls
):
    with pytest.raises(fk.ContractError, match=r"'d'"):
        predictor.predict(_frame(3).drop(columns="d"))
    assert run_calls == []


def test_good_input_is_scored(predictor, run_calls):
    predictor.predict(_frame(3))
    assert len(run_calls) == 1


# -- missing values --------------------------------------------------------------------


@pytest.mark.parametrize("marker", [None, np.nan, pd.NA], ids=repr)
@pytest.mark.parametrize("column", ["c", "d"])
def test_missing_category_is_imputed_like_the_pipeline(predictor, pipe, marker, column):
    record = {"x": 0.3, "k": 4, "c": "a", "d": "v", column: marker}
    expected = pipe.predict_proba(pd.DataFrame([record], dtype=object))
    np.testing.assert_allclose(
        predictor.predict_proba(record), expected, rtol=0, atol=ATOL
    )


def test_missing_category_is_not_read_as_an_unknown_category(predictor, pipe):
    # in "d" (unknown="ignore") an unseen category encodes as all zeros, while a missing
    # value must become the most frequent category, "u"
    base = {"x": 0.3, "k": 4, "c": "a"}
    missing = predictor.predict_proba({**base, "d": None})
    np.testing.assert_array_equal(missing, predictor.predict_proba({**base, "d": "u"}))
    assert not np.allclose(
        missing, predictor.predict_proba({**base, "d": "never-seen"})
    )


def test_missing_number_is_imputed_like_the_pipeline(predictor, pipe):
    record = {"x": None, "k": 4, "c": "a", "d": "v"}
    expected = pipe.predict_proba(pd.DataFrame([record], dtype=object))
    np.testing.assert_allclose(
        predictor.predict_proba(record), expected, rtol=0, atol=ATOL
    )


# -- threads and large batches -----------------------------------------------------------


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    return _frame(2 * CHUNK_ROWS + 123, seed=2)


@pytest.fixture(scope="module")
def large_expected(pipe, large) -> tuple[np.ndarray, np.ndarray]:
    return pipe.predict(large), pipe.predict_proba(large)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_batch_larger_than_a_chunk_gives_the_pipeline_answers(
    classifier, large, large_expected, threads, monkeypatch
):
    pools = []
    real_pool = featurekit.runtime.ThreadPoolExecutor

    def pool(workers, *args, **kwargs):
        pools.append(workers)
        return real_pool(workers, *args, **kwargs)

    monkeypatch.setattr(featurekit.runtime, "ThreadPoolExecutor", pool)
    predictor = Predictor.load(classifier[1], threads=threads)
    labels, proba = large_expected
    np.testing.assert_array_equal(predictor.predict(large), labels)
    np.testing.assert_allclose(predictor.predict_proba(large), proba, rtol=0, atol=ATOL)
    # the batch really was split across a pool of `threads` workers (none for one thread)
    assert pools == ([] if threads == 1 else [threads])


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_threads_must_be_a_positive_int(classifier, threads):
    with pytest.raises(ValueError, match=r"threads must be a positive int"):
        Predictor.load(classifier[1], threads=threads)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(classes=["a"]), "names 1 classes but the graph answers"),
        (lambda m: m.update(outputs=[*m["outputs"], "extra"]), "'extra'"),
        (lambda m: m.update(kind="regressor"), "kind 'regressor' does not fit"),
    ],
    ids=["classes", "outputs", "kind"],
)
def test_a_manifest_that_does_not_describe_its_graph_is_refused(
    http_artifact, tmp_path, edit, match
):
    import json
    import shutil

    path = tmp_path / "a"
    shutil.copytree(http_artifact, path)
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(fk.ArtifactError, match=match):
        Predictor.load(path, verify="off")


def test_a_graph_onnxruntime_cannot_load_is_an_artifact_error(http_artifact, tmp_path):
    import hashlib
    import json
    import shutil

    path = tmp_path / "a"
    shutil.copytree(http_artifact, path)
    graph = b"\x08\x07 not a graph"  # its hash rewritten: only onnxruntime can tell
    (path / "model.onnx").write_bytes(graph)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["model.onnx"] = hashlib.sha256(graph).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(fk.ArtifactError, match=r"onnxruntime .* cannot load model.onnx"):
        Predictor.load(path)
