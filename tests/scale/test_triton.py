"""`featurekit export-triton`: a repository Triton's ModelConfig parses, serving the graph as certified."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from google.protobuf import text_format
from onnx import TensorProto, helper
from scale_data import scale_frame
from tritonclient.grpc import model_config_pb2

from featurekit.cli import main
from featurekit.errors import ArtifactError
from featurekit.triton import export_triton, triton_config
from serving import Predictor

# the ONNX element types of Triton's data types, written out by hand
ONNX_TYPE = {
    "TYPE_FP64": np.float64,
    "TYPE_INT64": np.int64,
    "TYPE_STRING": object,
}


def parse(text: str) -> model_config_pb2.ModelConfig:
    # Parse refuses unknown fields and malformed values: Triton's own check
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def test_config_parses_as_triton_model_config(scale_artifact, tmp_path):
    model_dir = export_triton(scale_artifact, tmp_path / "repo")
    config = parse((model_dir / "config.pbtxt").read_text())
    dtype = model_config_pb2.DataType.Name
    assert config.name == "loans"
    assert config.backend == "onnxruntime"
    assert config.max_batch_size == 4096
    assert [(i.name, dtype(i.data_type), list(i.dims)) for i in config.input] == [
        ("income", "TYPE_FP64", [1]),
        ("age", "TYPE_INT64", [1]),
        ("plan", "TYPE_STRING", [1]),
        ("region", "TYPE_STRING", [1]),
    ]
    outputs = [(o.name, dtype(o.data_type), list(o.dims)) for o in config.output]
    assert outputs == [
        ("label", "TYPE_INT64", [1]),
        ("probabilities", "TYPE_FP64", [2]),
    ]
    assert config.output[0].HasField("reshape")
    assert list(config.output[0].reshape.shape) == []
    assert config.parameters["intra_op_thread_count"].string_value == "1"
    assert config.optimization.graph.level == 2


def test_repository_holds_the_certified_graph_without_zipmap(scale_artifact, tmp_path):
    model_dir = export_triton(scale_artifact, tmp_path / "repo")
    graph = (model_dir / "1" / "model.onnx").read_bytes()
    assert graph == (scale_artifact / "model.onnx").read_bytes()
    ops = {n.op_type for n in onnx.load_from_string(graph).graph.node}
    assert "ZipMap" not in ops
    assert "StringNormalizer" not in ops
    assert sorted(p.name for p in model_dir.rglob("*")) == [
        "1",
        "config.pbtxt",
        "model.onnx",
    ]


def test_graph_under_the_configs_session_options_answers_as_predictor(
    scale_artifact, tmp_path
):
    """Feeds shaped as Triton batches them (batch + dims), session as configured."""
    model_dir = export_triton(scale_artifact, tmp_path / "repo")
    config = parse((model_dir / "config.pbtxt").read_text())
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = int(
        config.parameters["intra_op_thread_count"].string_value
    )
    session = ort.InferenceSession(
        str(model_dir / "1" / "model.onnx"), opts, providers=["CPUExecutionProvider"]
    )
    frame = scale_frame(300, seed=5).drop(columns="id")
    frame["income"] = frame["income"].astype(float)
    frame["region"] = frame["region"].fillna("")  # Triton's BYTES cannot say None
    feeds = {}
    for tensor in config.input:
        kind = ONNX_TYPE[model_config_pb2.DataType.Name(tensor.data_type)]
        values = frame[tensor.name].to_numpy(dtype=kind)
        feeds[tensor.name] = values.reshape((len(frame), *tensor.dims))
    names = [o.name for o in config.output]
    label, proba = session.run(names, feeds)
    expected = Predictor.load(scale_artifact, monitor=False).score(frame)
    np.testing.assert_array_equal(label, expected["label"])
    np.testing.assert_array_equal(proba, expected["probabilities"])


def test_batching_off_spells_the_batch_dimension(scale_artifact, tmp_path):
    model_dir = export_triton(scale_artifact, tmp_path / "repo", max_batch_size=0)
    config = parse((model_dir / "config.pbtxt").read_text())
    assert config.max_batch_size == 0
    assert list(config.input[0].dims) == [-1, 1]
    assert list(config.output[0].dims) == [-1]
    assert list(config.output[1].dims) == [-1, 2]
    assert not config.HasField("dynamic_batching")


def zipmap_model() -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])
    seq = helper.make_tensor_sequence_value_info(
        "probabilities", TensorProto.FLOAT, None
    )
    seq.type.sequence_type.elem_type.Clear()
    map_type = seq.type.sequence_type.elem_type.map_type
    map_type.key_type = TensorProto.INT64
    map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    node = helper.make_node(
        "ZipMap",
        ["x"],
        ["probabilities"],
        domain="ai.onnx.ml",
        classlabels_int64s=[0, 1],
    )
    graph = helper.make_graph([node], "zipmap", [x], [seq])
    return helper.make_model(graph).SerializeToString()


def test_zipmap_output_is_refused_naming_it():
    with pytest.raises(
        ArtifactError, match=r"'probabilities' is a ZipMap.*tensors only"
    ):
        triton_config(zipmap_model(), "m", ["probabilities"])


def test_existing_model_directory_is_kept_unless_overwrite(scale_artifact, tmp_path):
    export_triton(scale_artifact, tmp_path / "repo")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_triton(scale_artifact, tmp_path / "repo")
    again = export_triton(scale_artifact, tmp_path / "repo", overwrite=True, version=2)
    assert sorted(p.name for p in again.iterdir()) == ["2", "config.pbtxt"]


@pytest.mark.parametrize("bad", [-1, True, 1.5])
def test_bad_max_batch_size_is_refused(scale_artifact, tmp_path, bad):
    with pytest.raises(ValueError, match="max_batch_size"):
        export_triton(scale_artifact, tmp_path / "repo", max_batch_size=bad)


def test_cli_writes_the_repository_and_reports_errors_on_one_line(
    scale_artifact, tmp_path, capsys
):
    repo = tmp_path / "repo"
    assert main(["export-triton", str(scale_artifact), str(repo), "--name", "x"]) == 0
    assert (repo / "x" / "1" / "model.onnx").is_file()
    assert parse((repo / "x" / "config.pbtxt").read_text()).name == "x"
    assert main(["export-triton", str(scale_artifact), str(repo), "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("featurekit export-triton: error:") and "exists" in err
    assert main(["export-triton", str(tmp_path / "nothing"), str(repo)]) == 2
    assert "No artifact at" in capsys.readouterr().err
