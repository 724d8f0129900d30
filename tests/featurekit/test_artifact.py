"""Export to an artifact directory, then load, verify and refuse damaged artifacts."""

import hashlib
import json
import os
import shutil
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from onnx import TensorProto
from sklearn.linear_model import LogisticRegression, Ridge

import featurekit as fk
import featurekit.atomic
from featurekit.artifact import FORMAT_VERSION
from featurekit.contract.columns import Columns
from serving import Predictor

FEATURES = fk.FeatureSet(
    "credit",
    [
        # bounded: see test_export_accepts_a_linear_regressor_on_unbounded_columns
        fk.Numeric("x", impute="mean", scale="standard", bounds=(-10, 10)),
        fk.Numeric("k", dtype="int", clip=(0, 10), scale="minmax"),
        fk.Numeric("m", dtype="int", impute="median", scale="robust", bounds=(0, 100)),
        fk.Categorical("c", impute="most_frequent"),
        fk.Categorical("d", unknown="ignore", encode="ordinal"),
    ],
    version=4,
)
EXPECTED_INPUT_TYPES = {
    "x": ("double", TensorProto.DOUBLE),
    "k": ("int64", TensorProto.INT64),
    "m": ("double", TensorProto.DOUBLE),  # nullable ints travel as double (NaN)
    "c": ("string", TensorProto.STRING),
    "d": ("string", TensorProto.STRING),
}
LOADERS = [fk.load, Predictor.load]


def _frame(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 12, n),
            "m": rng.integers(0, 5, n).astype(float),
            "c": rng.choice(["a", "b", "c"], n, p=[0.2, 0.5, 0.3]),
            "d": rng.choice(["u", "v"], n),
        }
    )
    frame.loc[::7, "x"] = np.nan
    frame.loc[::9, "m"] = np.nan
    frame.loc[::11, "c"] = None
    return frame


def _target(frame: pd.DataFrame) -> np.ndarray:
    return ((frame["x"].fillna(0) > 0) ^ (frame["c"] == "a")).to_numpy()


def _fit(model, y_kind: str = "int"):
    frame = _frame()
    hit = _target(frame)
    y = {
        "int": hit.astype(int),
        "str": np.where(hit, "yes", "no"),
        "float": frame["x"].fillna(0) * 2 + frame["k"],
    }[y_kind]
    return fk.make_pipeline(FEATURES, model).fit(frame, y), frame


@pytest.fixture(scope="module")
def classifier():
    return _fit(LogisticRegression())


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory) -> Path:
    """One exported artifact; tests that damage it work on a copy."""
    pipe, frame = classifier
    path = tmp_path_factory.mktemp("exported") / "credit"
    fk.export(pipe, path, frame, save_pipeline=True)
    return path


@pytest.fixture
def copy(exported, tmp_path) -> Path:
    return Path(shutil.copytree(exported, tmp_path / "credit"))


@pytest.fixture(scope="module")
def string_labels(tmp_path_factory) -> Path:
    pipe, frame = _fit(LogisticRegression(), "str")
    path = tmp_path_factory.mktemp("strings") / "credit"
    fk.export(pipe, path, frame)
    return path


@pytest.fixture(scope="module")
def regressor(tmp_path_factory) -> Path:
    pipe, frame = _fit(Ridge(), "float")
    path = tmp_path_factory.mktemp("regressor") / "credit"
    fk.export(pipe, path, frame)
    return path


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def _write_manifest(path: Path, manifest) -> None:
    (path / "manifest.json").write_text(json.dumps(manifest))


def _siblings(path: Path) -> list[str]:
    """Everything in the target's parent directory, hidden temporaries included."""
    return sorted(p.name for p in path.parent.iterdir())


# -- loading --------------------------------------------------------------------------


def test_fk_load_reads_back_the_feature_set_and_certificate(exported):
    artifact = fk.load(exported)
    assert artifact.features == FEATURES
    assert artifact.certificate["passed"] is True
    assert artifact.manifest["kind"] == "classifier"


def test_fk_load_gives_back_the_fitted_pipeline(exported, classifier):
    pipe, frame = classifier
    again = fk.load(exported).pipeline
    np.testing.assert_array_equal(again.predict_proba(frame), pipe.predict_proba(frame))


def test_predictor_load_scores_like_the_pipeline(exported, classifier):
    pipe, frame = classifier
    predictor = Predictor.load(exported)
    np.testing.assert_array_equal(predictor.predict(frame), pipe.predict(frame))
    np.testing.assert_allclose(
        predictor.predict_proba(frame), pipe.predict_proba(frame), rtol=0, atol=1e-9
    )


def test_artifact_holds_no_pipeline_by_default_and_loads_for_serving(
    classifier, tmp_path
):
    pipe, frame = classifier
    artifact = fk.export(pipe, tmp_path / "credit", frame)  # save_pipeline=False
    assert set(artifact.manifest["files"]) == {
        "model.onnx",
        "features.json",
        "contract.json",
        "profile.json",
        "golden.json",
    }
    assert Predictor.load(tmp_path / "credit").predict(frame).shape == (len(frame),)
    with pytest.raises(fk.ArtifactError, match=r"exported without pipeline\.joblib"):
        _ = artifact.pipeline


# -- damaged artifacts -----------------------------------------------------------------


def _flip_one_byte(name: str):
    def damage(path: Path) -> None:
        data = bytearray((path / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (path / name).write_bytes(bytes(data))

    return damage


def _delete(name: str):
    def damage(path: Path) -> None:
        (path / name).unlink()

    return damage


def _edit_manifest(**changes):
    def damage(path: Path) -> None:
        _write_manifest(path, {**_manifest(path), **changes})

    return damage


def _replace_manifest(content: str | bytes):
    def damage(path: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (path / "manifest.json").write_bytes(data)

    return damage


def _rewrite(name: str, content: str):
    """Replace a file and record its new sha256: only parsing can tell."""

    def damage(path: Path) -> None:
        (path / name).write_text(content)
        manifest = _manifest(path)
        manifest["files"][name] = hashlib.sha256(content.encode()).hexdigest()
        _write_manifest(path, manifest)

    return damage


def _drop_from_manifest(key: str):
    def damage(path: Path) -> None:
        manifest = _manifest(path)
        del manifest[key]
        _write_manifest(path, manifest)

    return damage


def _list_extra_file(name: str):
    def damage(path: Path) -> None:
        manifest = _manifest(path)
        manifest["files"][name] = "0" * 64
        _write_manifest(path, manifest)

    return damage


DAMAGES = {
    "tampered-model": (
        _flip_one_byte("model.onnx"),
        "model.onnx",
        r"was modified: sha256 of 'model\.onnx'",
    ),
    "tampered-features": (
        _flip_one_byte("features.json"),
        "features.json",
        r"was modified: sha256 of 'features\.json'",
    ),
    "tampered-pipeline": (
        _flip_one_byte("pipeline.joblib"),
        "pipeline.joblib",
        r"was modified: sha256 of 'pipeline\.joblib'",
    ),
    "deleted-model": (
        _delete("model.onnx"),
        "model.onnx",
        r"is partial: 'model\.onnx' is missing",
    ),
    "deleted-features": (
        _delete("features.json"),
        "features.json",
        r"is partial: 'features\.json' is missing",
    ),
    "deleted-pipeline": (
        _delete("pipeline.joblib"),
        "pipeline.joblib",
        r"is partial: 'pipeline\.joblib' is missing",
    ),
    "missing-manifest": (
        _delete("manifest.json"),
        "manifest.json",
        r"has no manifest\.json",
    ),
    "other-format-version": (
        _edit_manifest(format_version=FORMAT_VERSION + 1),
        "manifest.json",
        rf"format version {FORMAT_VERSION + 1}",
    ),
    "format-version-missing": (
        _edit_manifest(format_version=None),
        "manifest.json",
        r"format version None",
    ),
    "manifest-not-json": (
        _replace_manifest('{"format_version": 1,'),
        "manifest.json",
        r"manifest\.json' is not valid JSON",
    ),
    "manifest-not-utf8": (
        _replace_manifest(b"\xff\xfe{}"),
        "manifest.json",
        r"manifest\.json' is not valid JSON",
    ),
    "manifest-not-an-object": (
        _replace_manifest("[1, 2]"),
        "manifest.json",
        r"manifest\.json' is not a JSON object",
    ),
    "manifest-without-files": (
        _edit_manifest(files=None),
        "manifest.json",
        r"manifest\.json' lists no files",
    ),
    "tampered-golden-rows": (
        _flip_one_byte("golden.json"),
        "golden.json",
        r"was modified: sha256 of 'golden\.json'",
    ),
    # hashes rewritten to match: the one reader turns every parse failure into
    # ArtifactError, for fk.load as for Predictor.load
    "features-not-json": (
        _rewrite("features.json", "{"),
        "features.json",
        r"has an invalid features\.json: FeatureSet JSON is malformed",
    ),
    "features-not-a-feature-set": (
        _rewrite("features.json", '{"name": "credit", "features": [{"kind": "?"}]}'),
        "features.json",
        r"invalid features\.json: Unknown feature kind '\?'; .*\]\. Its hash matches",
    ),
    "contract-not-json": (
        _rewrite("contract.json", "[]"),
        "contract.json",
        r"has an invalid contract\.json",
    ),
    "profile-without-features": (
        _rewrite("profile.json", "{}"),
        "profile.json",
        r"has an invalid profile\.json",
    ),
    "golden-rows-not-json": (
        _rewrite("golden.json", "{"),
        "golden.json",
        r"has an invalid golden\.json",
    ),
    "golden-rows-of-another-format": (
        _rewrite("golden.json", '{"golden_format": 99}'),
        "golden.json",
        r"has an invalid golden\.json: golden_format is 99; this featurekit reads 1",
    ),
    "manifest-without-kind": (
        _drop_from_manifest("kind"),
        "manifest.json",
        r"manifest\.json lacks or mistypes 'kind' \('classifier' or 'regressor'\)",
    ),
    "manifest-without-certificate": (
        _drop_from_manifest("certificate"),
        "manifest.json",
        r"lacks or mistypes 'certificate'",
    ),
    "manifest-lists-a-path-outside": (
        _list_extra_file("../outside"),
        "../outside",
        r"suspicious file name '\.\./outside'",
    ),
}


@pytest.mark.parametrize("loader", LOADERS, ids=["fk.load", "Predictor.load"])
@pytest.mark.parametrize(
    ("damage", "file", "match"), DAMAGES.values(), ids=DAMAGES.keys()
)
def test_damaged_artifact_is_refused_with_a_message_naming_the_file(
    copy, loader, damage, file, match
):
    damage(copy)
    with pytest.raises(fk.ArtifactError, match=match) as info:
        loader(copy)
    assert file in str(info.value)


@pytest.mark.parametrize("loader", LOADERS, ids=["fk.load", "Predictor.load"])
def test_missing_directory_is_refused(loader, tmp_path):
    with pytest.raises(fk.ArtifactError, match=r"No artifact at .*: not a directory"):
        loader(tmp_path / "nothing-here")


# -- atomic export ---------------------------------------------------------------------


def _broken_reference(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame.copy()
    bad.loc[3, "x"] = 11.0  # outside bounds=(-10, 10)
    return bad


def test_export_with_reference_rows_that_break_the_contract_writes_nothing(
    classifier, tmp_path
):
    pipe, frame = classifier
    target = tmp_path / "credit"
    with pytest.raises(fk.ExportError, match=r"reference rows break the contract"):
        fk.export(pipe, target, _broken_reference(frame))
    assert _siblings(target) == []


def test_export_that_fails_parity_writes_nothing(classifier, tmp_path):
    pipe, frame = classifier
    target = tmp_path / "credit"
    # a tolerance of exactly zero is a real parity failure: float64 sums in another order
    with pytest.raises(
        fk.ParityError, match=r"(?s)fails parity .*Nothing was written\.$"
    ):
        fk.export(pipe, target, frame, tolerance=0.0)
    assert _siblings(target) == []


def _failing_rename(target: Path):
    """os.rename that fails once: when it first moves the new artifact into place."""
    real = os.rename
    failed = []

    def rename(src, dst, *args, **kwargs):
        if Path(dst) == target and not failed:
            failed.append(src)
            raise OSError(28, "No space left on device")
        return real(src, dst, *args, **kwargs)

    return rename


def test_export_that_fails_while_writing_leaves_no_temporary_directory(
    classifier, tmp_path, monkeypatch
):
    pipe, frame = classifier
    target = tmp_path / "credit"
    monkeypatch.setattr(os, "rename", _failing_rename(target))
    with pytest.raises(OSError, match=r"No space left"):
        fk.export(pipe, target, frame)
    assert _siblings(target) == []


def _hashes(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in path.iterdir()}


def test_failed_re_export_leaves_the_old_artifact_untouched(classifier, copy):
    pipe, frame = classifier
    before = _hashes(copy)
    with pytest.raises(fk.ParityError, match=r"Nothing was written"):
        fk.export(pipe, copy, frame, tolerance=0.0, overwrite=True)
    assert _hashes(copy) == before
    assert _siblings(copy) == ["credit"]


def test_re_export_that_fails_while_replacing_keeps_the_old_artifact(
    classifier, copy, monkeypatch
):
    pipe, frame = classifier
    before = _hashes(copy)
    monkeypatch.setattr(os, "rename", _failing_rename(copy))  # the two-rename path

    def failing_exchange(a, b):  # the atomic swap (Linux)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(featurekit.atomic, "exchange", failing_exchange)
    with pytest.raises(OSError, match=r"No space left"):
        fk.export(pipe, copy, frame, overwrite=True)
    monkeypatch.undo()
    assert _siblings(copy) == ["credit"]
    assert _hashes(copy) == before
    fk.load(copy)


def test_re_export_replaces_the_existing_artifact(copy):
    pipe, frame = _fit(Ridge(), "float")
    fk.export(pipe, copy, frame, overwrite=True)
    assert fk.load(copy).manifest["kind"] == "regressor"
    assert Predictor.load(copy).kind == "regressor"
    assert _siblings(copy) == ["credit"]


def test_export_into_an_empty_directory_is_allowed(classifier, tmp_path):
    pipe, frame = classifier
    (tmp_path / "credit").mkdir()
    fk.export(pipe, tmp_path / "credit", frame)
    assert fk.load(tmp_path / "credit").features == FEATURES
    assert _siblings(tmp_path / "credit") == ["credit"]


def test_export_over_a_directory_that_is_not_an_artifact_is_refused(
    classifier, tmp_path
):
    pipe, frame = classifier
    target = tmp_path / "notes"
    target.mkdir()
    (target / "todo.txt").write_text("keep me")
    with pytest.raises(
        fk.ArtifactError, match=r"exists and is not an artifact; refusing"
    ):
        fk.export(pipe, target, frame)
    assert (target / "todo.txt").read_text() == "keep me"
    assert _siblings(target) == ["notes"]


def test_export_over_a_regular_file_is_refused(classifier, tmp_path):
    pipe, frame = classifier
    target = tmp_path / "credit"
    target.write_text("not a directory")
    with pytest.raises(fk.ArtifactError, match=r"not an artifact"):
        fk.export(pipe, target, frame)
    assert target.read_text() == "not a directory"
    assert _siblings(target) == ["credit"]


def test_export_accepts_a_numeric_column_without_transforms(tmp_path):
    # a bare Numeric becomes "passthrough" in the ColumnTransformer
    features = fk.FeatureSet("bare", [fk.Numeric("x"), fk.Categorical("c")])
    frame = _frame()[["x", "c"]].fillna({"x": 0.0, "c": "a"})
    pipe = fk.make_pipeline(features, LogisticRegression()).fit(
        frame, _target(frame).astype(int)
    )
    fk.export(pipe, tmp_path / "bare", frame)
    predictor = Predictor.load(tmp_path / "bare")
    np.testing.assert_allclose(
        predictor.predict_proba(frame), pipe.predict_proba(frame), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_export_accepts_a_linear_regressor_on_unbounded_columns(tmp_path, seed):
    # the certificate's edge rows put 1e15 into each unbounded column; a sum of two such
    # terms may differ from numpy's in the last bit, which must not count as a failure
    features = fk.FeatureSet(
        "linear", [fk.Numeric("a", scale="standard"), fk.Numeric("b", scale="standard")]
    )
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    pipe = fk.make_pipeline(features, Ridge()).fit(
        frame, 2 * (frame["a"] + frame["b"]) + 1
    )
    fk.export(pipe, tmp_path / "linear", frame)
    predictor = Predictor.load(tmp_path / "linear")
    np.testing.assert_allclose(
        predictor.predict(frame), pipe.predict(frame), rtol=1e-12, atol=0
    )


# -- the manifest ----------------------------------------------------------------------


def test_manifest_has_the_current_format_version(exported):
    assert _manifest(exported)["format_version"] == FORMAT_VERSION == 1


def test_manifest_holds_the_sha256_of_every_other_file(exported):
    files = _manifest(exported)["files"]
    on_disk = {p.name for p in exported.iterdir()} - {"manifest.json"}
    assert (
        set(files)
        == on_disk
        == {
            "model.onnx",
            "features.json",
            "contract.json",
            "profile.json",
            "golden.json",
            "pipeline.joblib",
        }
    )
    for name, digest in files.items():
        assert hashlib.sha256((exported / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize(
    ("key", "dist"),
    [
        ("featurekit", "featurekit"),
        ("scikit-learn", "scikit-learn"),
        ("skl2onnx", "skl2onnx"),
        ("onnx", "onnx"),
        ("onnxruntime", "onnxruntime"),
        ("protobuf", "protobuf"),
    ],
)
def test_manifest_records_library_versions(exported, key, dist):
    assert _manifest(exported)["versions"][key] == version(dist)


def test_manifest_featurekit_version_is_the_package_version(exported):
    assert _manifest(exported)["versions"]["featurekit"] == fk.__version__


def test_manifest_opset_matches_the_model(exported):
    opset = _manifest(exported)["opset"]
    model = onnx.load(exported / "model.onnx")
    assert opset == {imp.domain: imp.version for imp in model.opset_import}
    assert opset == {"": 21, "ai.onnx.ml": 5, "com.microsoft": 1}


def test_manifest_holds_a_passed_certificate(exported):
    certificate = _manifest(exported)["certificate"]
    assert certificate["passed"] is True
    assert certificate["reference_rows"] == len(_frame())
    assert (
        certificate["rows"] == certificate["reference_rows"] + certificate["edge_rows"]
    )
    assert certificate["edge_rows"] > 0
    assert certificate["label_agreement"] == 1.0
    assert 0 <= certificate["max_abs_diff"] <= certificate["tolerance"] == 1e-5


def test_manifest_names_the_feature_set_and_its_input_types(exported):
    manifest = _manifest(exported)
    assert (manifest["name"], manifest["version"]) == ("credit", 4)
    assert {k: v["type"] for k, v in manifest["inputs"].items()} == {
        name: t for name, (t, _) in EXPECTED_INPUT_TYPES.items()
    }
    contract = json.loads((exported / "contract.json").read_text())["featurekit"]
    assert contract["categories"]["c"] == ["a", "b", "c"]


# -- the ONNX graph --------------------------------------------------------------------


def test_model_has_one_typed_input_per_raw_column(exported):
    graph = onnx.load(exported / "model.onnx").graph
    assert [i.name for i in graph.input] == FEATURES.columns
    assert {i.name: i.type.tensor_type.elem_type for i in graph.input} == {
        name: elem for name, (_, elem) in EXPECTED_INPUT_TYPES.items()
    }


def test_model_inputs_have_a_dynamic_batch_dimension(exported):
    for tensor in onnx.load(exported / "model.onnx").graph.input:
        batch, width = tensor.type.tensor_type.shape.dim
        assert batch.dim_param and not batch.HasField("dim_value")
        assert width.dim_value == 1


@pytest.mark.parametrize("n_rows", [1, 7])
def test_model_runs_any_batch_size_in_onnxruntime(exported, n_rows):
    session = ort.InferenceSession(
        str(exported / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    feeds, _ = Columns(FEATURES).coerce(_frame().iloc[:n_rows])
    label, proba = session.run(["label", "probabilities"], feeds)
    assert label.shape == (n_rows,)
    assert proba.shape == (n_rows, 2)


def _outputs(path: Path) -> dict[str, onnx.TypeProto]:
    return {o.name: o.type for o in onnx.load(path / "model.onnx").graph.output}


@pytest.mark.parametrize(
    ("artifact", "label_type", "classes"),
    [
        ("exported", TensorProto.INT64, [0, 1]),
        ("string_labels", TensorProto.STRING, ["no", "yes"]),
    ],
    ids=["int-labels", "string-labels"],
)
def test_classifier_outputs_label_and_a_probability_tensor(
    request, artifact, label_type, classes
):
    path = request.getfixturevalue(artifact)
    outputs = _outputs(path)
    assert list(outputs) == ["label", "probabilities"]
    assert outputs["label"].tensor_type.elem_type == label_type
    # no ZipMap: probabilities are a plain (N, n_classes) double tensor, not maps
    assert outputs["probabilities"].HasField("tensor_type")
    assert outputs["probabilities"].tensor_type.elem_type == TensorProto.DOUBLE
    assert outputs["probabilities"].tensor_type.shape.dim[1].dim_value == len(classes)
    assert _manifest(path)["classes"] == classes
    assert _manifest(path)["outputs"] == ["label", "probabilities"]


@pytest.mark.parametrize("artifact", ["exported", "string_labels", "regressor"])
def test_model_has_no_zipmap_node(request, artifact):
    graph = onnx.load(request.getfixturevalue(artifact) / "model.onnx").graph
    assert "ZipMap" not in {node.op_type for node in graph.node}


def test_string_labelled_classifier_predicts_its_labels(string_labels):
    predictor = Predictor.load(string_labels)
    assert predictor.classes_.tolist() == ["no", "yes"]
    assert set(predictor.predict(_frame()).tolist()) <= {"no", "yes"}


def test_regressor_outputs_a_prediction_tensor(regressor):
    outputs = _outputs(regressor)
    assert list(outputs) == ["prediction"]
    assert outputs["prediction"].tensor_type.elem_type == TensorProto.DOUBLE
    manifest = _manifest(regressor)
    assert (manifest["kind"], manifest["outputs"], manifest["classes"]) == (
        "regressor",
        ["prediction"],
        None,
    )


def test_re_export_without_overwrite_is_refused_before_any_work(classifier, copy):
    pipe, frame = classifier
    before = _hashes(copy)
    with pytest.raises(
        fk.ExportError, match=r"already holds artifact .*overwrite=True"
    ):
        fk.export(pipe, copy, frame)
    assert _hashes(copy) == before


def test_an_artifact_records_its_lineage(classifier, copy, tmp_path):
    pipe, frame = classifier
    fresh = fk.export(pipe, tmp_path / "fresh", frame)
    lineage = fresh.manifest["lineage"]
    assert lineage["parent"] is None
    assert lineage["training_data"]["rows"] == len(frame)
    again = fk.export(pipe, tmp_path / "again", frame)  # same data, same fingerprint
    assert again.manifest["lineage"]["training_data"] == lineage["training_data"]
    old_sha = json.loads((copy / "manifest.json").read_text())["files"]["model.onnx"]
    replaced = fk.export(pipe, copy, frame.iloc[:-1], overwrite=True)
    assert replaced.manifest["lineage"]["parent"]["sha256"] == old_sha
    assert (
        replaced.manifest["lineage"]["training_data"]["sha256"]
        != lineage["training_data"]["sha256"]
    )
