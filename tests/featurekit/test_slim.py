"""Graphs without the nodes that compute nothing: outputs' Identity, a Gather of 0..k-1."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.onnx.graph import Graph
from featurekit.onnx.slim import drop_output_identities
from featurekit.runtime import Session
from serving import Predictor


def _frame(n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "a": rng.normal(0, 1, n),
            "b": rng.normal(2, 1, n),
            "k": rng.choice(["u", "v"], n),
        }
    )
    return frame, (frame["a"] + rng.normal(0, 1, n) > 0).to_numpy()


@pytest.mark.parametrize(
    "classes, gathered",
    [((0, 1), False), ((1, 2), True), (("no", "yes"), True), ((0, 1, 2), False)],
)
@pytest.mark.parametrize("model", ["lr", "rf"])
def test_labels_are_the_models_and_only_other_classes_are_gathered(
    tmp_path, classes, gathered: bool, model: str
) -> None:
    frame, y = _frame()
    if len(classes) == 3:
        y = np.where(frame["b"] > 2.5, 2, y.astype(int))
    target = np.asarray(classes, dtype=object if isinstance(classes[0], str) else int)[
        y.astype(int)
    ]
    est = (
        LogisticRegression()
        if model == "lr"
        else RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    )
    features = fk.FeatureSet(
        "slim",
        [
            fk.Numeric("a", impute="median"),
            fk.Numeric("b", impute="median"),
            fk.Categorical("k", unknown="ignore"),
        ],
    )
    pipe = fk.make_pipeline(features, est).fit(frame, target)
    fk.export(pipe, tmp_path / "a", reference=frame)
    graph = onnx.load(str(tmp_path / "a" / "model.onnx")).graph
    ops = [n.op_type for n in graph.node]
    assert "Identity" not in ops  # the outputs are named by the nodes that make them
    assert ("Gather" in ops) == gathered
    assert [o.name for o in graph.output][:2] == ["label", "probabilities"]
    p = Predictor.load(tmp_path / "a", monitor=False)
    assert list(p.predict(frame)) == list(pipe.predict(frame))
    np.testing.assert_allclose(
        p.predict_proba(frame), pipe.predict_proba(frame), atol=1e-9
    )
    # a batch's rows answer as alone (three classes: the softmax's sum is added the
    # same way in any batch, `featurekit.onnx.graph.row_sum`)
    assert p.rows_independent


def _identity_graph() -> Graph:
    g = Graph()
    x = g.add_input("x", "double", ["N", 1])
    y = g.op("Add", [x, g.const(np.float64(1.0))], "y")
    z = g.op("Mul", [y, g.const(np.float64(2.0))], "z")
    for src, name in ((x, "raw"), (y, "plus"), (y, "plus_again"), (z, "times")):
        g.nodes.append(onnx.helper.make_node("Identity", [src], [name]))
        g.add_output(name, "double", ["N", 1])
    return g


def test_an_identity_stays_where_its_tensor_is_an_input_is_kept_or_read_twice() -> None:
    g = _identity_graph()
    assert drop_output_identities(g, keep=["nothing"]) == 1  # only z -> times
    kept = [(n.input[0], n.output[0]) for n in g.nodes if n.op_type == "Identity"]
    assert kept == [("x", "raw"), ("y", "plus"), ("y", "plus_again")]
    g2 = _identity_graph()
    assert drop_output_identities(g2, keep=["z"]) == 0
    # the renamed graph computes what it did
    model = g.model().SerializeToString()
    x = np.array([[1.5], [-2.0]])
    raw, plus, again, times = Session(model).run({"x": x}, 2)
    np.testing.assert_array_equal(times, (x + 1.0) * 2.0)
    np.testing.assert_array_equal(raw, x)
    np.testing.assert_array_equal(plus, x + 1.0)
    np.testing.assert_array_equal(again, x + 1.0)
