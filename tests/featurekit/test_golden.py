"""Golden rows: stored at export, re-run by `Predictor.load` on this machine's runtime."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from tampering import alter_model, change_initializer, move_root_split, replace_file

import featurekit as fk
from featurekit.errors import ParityWarning
from featurekit.golden import GoldenRows
from serving import Predictor

FEATURES = fk.FeatureSet(
    "golden",
    [
        fk.Numeric("x", impute="median", scale="standard", bounds=(-10, 10)),
        fk.Numeric("k", dtype="int", clip=(0, 10)),
        fk.Numeric("amount", impute=0.0, clip=(0, None), log1p=True),
        fk.Categorical("c", impute="most_frequent", unknown="ignore"),
    ],
    version=2,
)


def _frame(n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 12, n),
            "amount": rng.lognormal(3, 1, n).round(2),
            "c": rng.choice(["a", "b", "c"], n),
        }
    )
    frame.loc[::9, "x"] = np.nan
    frame.loc[::7, "amount"] = np.nan
    return frame


def _export(model, path: Path, y_kind: str = "label") -> Path:
    frame = _frame()
    hit = (frame["x"].fillna(0) > 0) ^ (frame["c"] == "a")
    y = (
        hit.astype(int)
        if y_kind == "label"
        else frame["x"].fillna(0) * 2 + np.log1p(frame["amount"].fillna(0))
    )
    pipe = fk.make_pipeline(FEATURES, model).fit(frame, y)
    fk.export(pipe, path, frame, save_pipeline=True)  # the tests replay its pipeline
    return path


@pytest.fixture(scope="module")
def linear(tmp_path_factory) -> Path:
    return _export(LogisticRegression(), tmp_path_factory.mktemp("g") / "linear")


@pytest.fixture(scope="module")
def forest(tmp_path_factory) -> Path:
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
    return _export(model, tmp_path_factory.mktemp("g") / "forest")


@pytest.fixture(scope="module")
def forest_regressor(tmp_path_factory) -> Path:
    model = RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0)
    return _export(model, tmp_path_factory.mktemp("g") / "amounts", "prediction")


def _copy(path: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(path, tmp_path / path.name))


def _coefficient(coef: np.ndarray) -> np.ndarray:
    coef[0] += 0.25
    return coef


def _one_ulp(mean: np.ndarray) -> np.ndarray:
    return np.nextafter(mean, np.inf)


ALTERATIONS = {
    "linear-coefficient": (
        "linear",
        change_initializer("coef", _coefficient),  # featurekit.onnx.linear
    ),
    "tree-threshold": ("forest", move_root_split),
    # a last-bit change of a feature: the trees may still answer alike, but a row at a
    # split value would not, so the features must be bit-identical
    "feature-by-one-ulp": ("forest", change_initializer("x_scale_mean", _one_ulp)),
}


@pytest.fixture(params=ALTERATIONS.values(), ids=ALTERATIONS.keys())
def altered(request, tmp_path) -> Path:
    source, edit = request.param
    path = _copy(request.getfixturevalue(source), tmp_path)
    alter_model(path, edit)
    return path


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


# -- what export stores ---------------------------------------------------------------
@pytest.mark.parametrize("artifact", ["linear", "forest", "forest_regressor"])
def test_golden_rows_are_written_and_hashed_in_the_manifest(request, artifact):
    path = request.getfixturevalue(artifact)
    digest = _manifest(path)["files"]["golden.json"]
    assert hashlib.sha256((path / "golden.json").read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("artifact", ["linear", "forest"])
def test_golden_rows_span_reference_rows_and_edge_cases(request, artifact):
    golden = fk.load(request.getfixturevalue(artifact)).golden
    assert 60 <= len(golden) <= 320
    assert sum(n.startswith("reference row ") for n in golden.names) == 64
    assert "base row" in golden.names
    assert "x missing (None)" in golden.names
    assert "every nullable column missing" in golden.names


def test_a_tree_models_golden_rows_include_values_beside_splits(forest):
    names = fk.load(forest).golden.names
    assert sum(n.startswith("split value ") for n in names) > 20


def test_golden_answers_are_the_pipelines(linear):
    art = fk.load(linear)
    golden = art.golden
    pipe = art.pipeline
    assert golden.expected["label"] == pipe.predict(golden.records).tolist()
    np.testing.assert_array_equal(
        golden.expected["probabilities"], pipe.predict_proba(golden.records)
    )
    assert golden.features is None  # a linear model's features are not compared


def test_a_tree_models_golden_features_are_the_pipelines_bit_for_bit(forest):
    art = fk.load(forest)
    golden = art.golden
    sk = art.pipeline[:-1].transform(golden.records).astype(np.float64)
    assert golden.features.shape == sk.shape
    pushed = [i for i, n in enumerate(golden.feature_names) if n == "amount__amount"]
    keep = [i for i in range(sk.shape[1]) if i not in pushed]
    # log1p columns reach the trees raw (their splits moved to raw space) by design
    np.testing.assert_array_equal(
        golden.features[:, keep].view(np.uint64), sk[:, keep].view(np.uint64)
    )


def test_golden_json_is_plain_json_and_round_trips(forest):
    text = (forest / "golden.json").read_text()
    json.loads(text)  # standard JSON: no NaN or Infinity literals
    assert "NaN" not in text and "Infinity" not in text
    golden = GoldenRows.from_json(text)
    again = GoldenRows.from_json(golden.to_json())
    assert again.records == golden.records
    assert again.names == golden.names
    np.testing.assert_array_equal(
        again.features.view(np.uint64), golden.features.view(np.uint64)
    )


def test_non_finite_values_and_signed_zero_round_trip_exactly():
    golden = GoldenRows(
        [{"x": float("inf"), "y": -0.0}, {"x": float("-inf"), "y": None}],
        ["a", "b"],
        {"prediction": [float("nan"), 1.5]},
    )
    again = GoldenRows.from_json(golden.to_json())
    assert again.records[0]["x"] == float("inf")
    assert again.records[1]["x"] == float("-inf")
    assert str(again.records[0]["y"]) == "-0.0"
    assert np.isnan(again.expected["prediction"][0])


# -- loading ---------------------------------------------------------------------------
@pytest.mark.parametrize("artifact", ["linear", "forest", "forest_regressor"])
def test_an_intact_artifact_passes_its_golden_rows_at_load(request, artifact):
    path = request.getfixturevalue(artifact)
    predictor = Predictor.load(path)
    v = predictor.verification
    assert (v.status, v.ok, v.failing) == ("passed", True, 0)
    assert v.rows == len(fk.load(path).golden)


def test_golden_rows_are_not_counted_as_traffic(forest):
    predictor = Predictor.load(forest)
    assert predictor.tally.rows == 0
    assert predictor.monitor is not None and predictor.monitor.open_rows == 0


def test_serving_outputs_are_unchanged_by_the_features_output(forest):
    predictor = Predictor.load(forest)
    assert predictor.outputs == ["label", "probabilities"]
    assert set(predictor.score(_frame(5))) == {"label", "probabilities"}


def test_an_altered_model_is_refused_at_load_naming_row_runtime_and_cpu(altered):
    with pytest.raises(fk.ArtifactError) as info:
        Predictor.load(altered)
    message = str(info.value)
    assert re.search(r"fails its golden rows on this machine: \d+ of \d+", message)
    assert re.search(r"First: golden row \d+ \(", message)
    assert f"onnxruntime {ort.__version__}" in message
    assert f"CPU {platform.machine()}" in message
    assert "numpy SIMD " in message
    assert "verify='warn'" in message


def test_the_row_named_first_really_answers_otherwise(altered):
    with pytest.warns(ParityWarning):
        predictor = Predictor.load(altered, verify="warn", monitor=False)
    first = predictor.verification.first
    art = fk.load(altered)
    assert first["index"] == min(
        i for i in range(len(art.golden)) if _differs(predictor, art, i)
    )
    assert first["name"] == art.golden.names[first["index"]]
    assert f"golden row {first['index']} ({first['name']})" in (
        predictor.verification.message
    )


def _differs(predictor: Predictor, art, i: int) -> bool:
    """Row i's answer from the altered graph against the untouched pipeline's."""
    record = art.golden.records[i]
    pipe = art.pipeline
    if art.golden.features is not None:
        name = art.golden.features_output
        got = predictor._session.run(*_feeds(predictor, record), [name])[0]
        want = art.golden.features[i : i + 1]
        if not np.array_equal(got.view(np.uint64), want.view(np.uint64)):
            return True
    label = predictor.predict(record)[0]
    proba = predictor.predict_proba(record)[0]
    return bool(
        label != pipe.predict([record])[0]
        or np.max(np.abs(proba - pipe.predict_proba([record])[0])) > 1e-5
    )


def _feeds(predictor: Predictor, record: dict) -> tuple[dict, int]:
    return predictor._columns.coerce([record])


def test_a_tree_feature_one_ulp_off_is_named_bit_for_bit(forest, tmp_path):
    path = _copy(forest, tmp_path)
    alter_model(path, change_initializer("x_scale_mean", _one_ulp))
    with pytest.raises(fk.ArtifactError, match=r"feature 'x__x' is .* bit for bit"):
        Predictor.load(path)


def test_verify_warn_loads_with_a_parity_warning_and_records_the_failure(altered):
    with pytest.warns(ParityWarning, match=r"fails its golden rows on this machine"):
        predictor = Predictor.load(altered, verify="warn")
    v = predictor.verification
    assert (v.status, v.ok) == ("failed", False)
    assert 0 < v.failing <= v.rows
    assert predictor.predict(_frame(3)).shape == (3,)


def test_verify_off_runs_no_golden_rows(altered):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predictor = Predictor.load(altered, verify="off")
    assert predictor.verification.status == "off"
    # and they can still be run on demand
    assert predictor.verify().status == "failed"


def test_an_unknown_verify_mode_is_refused(linear):
    with pytest.raises(ValueError, match=r"verify must be one of \['strict', 'warn'"):
        Predictor.load(linear, verify="yes")


def test_an_artifact_exported_before_golden_rows_loads_with_nothing_to_verify(
    forest, tmp_path
):
    path = _copy(forest, tmp_path)
    (path / "golden.json").unlink()
    manifest = _manifest(path)
    del manifest["files"]["golden.json"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    predictor = Predictor.load(path)  # no warning: the suite turns warnings into errors
    assert predictor.verification.status == "absent"
    assert predictor.verification.ok
    assert "no golden rows" in predictor.verification.message
    assert fk.load(path).golden is None
    assert predictor.predict(_frame(4)).shape == (4,)


def test_golden_rows_a_contract_now_refuses_fail_verification(linear, tmp_path):
    path = _copy(linear, tmp_path)
    golden = json.loads((path / "golden.json").read_text())
    golden["records"][0]["x"] = 99.0  # outside bounds=(-10, 10)
    replace_file(path, "golden.json", json.dumps(golden).encode())
    with pytest.raises(fk.ArtifactError, match=r"this featurekit refuses them"):
        Predictor.load(path)
