"""featurekit.onnx.fuse: per-column chains fused into one, the same bits, or left alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.onnx.fuse import Chain, fuse_chains
from featurekit.onnx.graph import Graph
from featurekit.runtime import Session

EDGE = np.array(
    [np.nan, -0.0, 0.0, 1e-300, -1e-300, 1e308, -1e308, np.inf, -np.inf, 3.5, -2.25]
)


def _graph(chains_of: list[tuple[str, float, float]], fuse: bool) -> bytes:
    """Per column: Where(IsNaN(x), fill, x), Sub mean, Div scale, Max(-5), as compile emits."""
    g = Graph()
    chains: list[Chain | None] = []
    for col, fill, mean in chains_of:
        x = g.add_input(col, "double", ["N", 1])
        start = len(g.nodes)
        y = g.op("Where", [g.op("IsNaN", [x]), g.const([fill], f"{col}_fill"), x])
        y = g.op("Sub", [y, g.const([mean], f"{col}_mean")])
        y = g.op("Div", [y, g.const(np.float64(0.3), f"{col}_scale")])
        y = g.op("Max", [y, g.const([-5.0], f"{col}_lo")])
        chains.append(Chain(start, len(g.nodes), x, y))
    parts = [c.y for c in chains if c is not None]
    if fuse:
        parts = [p for p in fuse_chains(g, chains) if p is not None]
    out = g.op("Concat", parts, "features", axis=1)
    g.add_output(out, "double", ["N", len(chains_of)])
    return g.model().SerializeToString()


def test_fused_chains_give_the_same_bits_as_one_chain_per_column() -> None:
    cols = [("a", 1.5, 0.1), ("b", -2.0, 7.0), ("c", 0.0, -0.0)]
    rng = np.random.default_rng(0)
    values = np.concatenate([EDGE, rng.normal(0, 1e3, 500)])
    feeds = {c: rng.permutation(values).reshape(-1, 1) for c, _, _ in cols}
    plain = Session(_graph(cols, fuse=False)).run(feeds, len(values))[0]
    fused_model = _graph(cols, fuse=True)
    fused = Session(fused_model).run(feeds, len(values))[0]
    assert plain.view(np.int64).tolist() == fused.view(np.int64).tolist()
    import onnx

    ops = [n.op_type for n in onnx.load_from_string(fused_model).graph.node]
    assert ops.count("Sub") == 1 and ops.count("IsNaN") == 1  # one chain for three
    # one row at a time: the same bits as in the batch
    for i in (0, 1, 7, 12):
        one = {c: v[i : i + 1] for c, v in feeds.items()}
        row = Session(fused_model).run(one, 1)[0]
        assert row.view(np.int64).tolist() == fused[i : i + 1].view(np.int64).tolist()


def test_chains_that_differ_or_use_library_kernels_are_left_alone() -> None:
    g = Graph()
    chains: list[Chain | None] = []
    for col, op in (("a", "Log"), ("b", "Log"), ("c", "Abs"), ("d", "Neg")):
        x = g.add_input(col, "double", ["N", 1])
        start = len(g.nodes)
        chains.append(Chain(start, start + 1, x, g.op(op, [x])))
    before = [n.op_type for n in g.nodes]
    out = fuse_chains(g, [*chains, None])
    assert [n.op_type for n in g.nodes] == before  # Log is never fused; Abs != Neg
    assert out == [c.y for c in chains if c is not None] + [None]


def test_an_intermediate_read_elsewhere_keeps_its_chain() -> None:
    g = Graph()
    chains: list[Chain | None] = []
    for col in ("a", "b"):
        x = g.add_input(col, "double", ["N", 1])
        start = len(g.nodes)
        mid = g.op("Sub", [x, g.const([1.0], "one")])
        y = g.op("Mul", [mid, g.const([2.0], "two")])
        chains.append(Chain(start, len(g.nodes), x, y))
    g.notes["watched"] = "sub"  # chain a's intermediate has a reader of its own
    fuse_chains(g, chains)
    assert "Concat" not in [n.op_type for n in g.nodes]


@pytest.mark.parametrize("n_numeric", [1, 4])
def test_an_exported_linear_model_has_one_chain_and_its_certificate(
    tmp_path, n_numeric: int
) -> None:
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame(
        {f"x{i}": rng.normal(i, 1 + i, n) for i in range(n_numeric)}
        | {"kind": rng.choice(["p", "q", "r"], n)}
    )
    frame.loc[::7, "x0"] = np.nan
    y = (frame["x0"].fillna(0) + rng.normal(0, 1, n) > 0).astype(int)
    features = fk.FeatureSet(
        "fused",
        [
            fk.Numeric(f"x{i}", impute="median", scale="standard")
            for i in range(n_numeric)
        ]
        + [fk.Categorical("kind", unknown="ignore")],
    )
    pipe = fk.make_pipeline(features, LogisticRegression()).fit(frame, y)
    art = fk.export(pipe, tmp_path / "a", reference=frame)
    import onnx

    graph = onnx.load(str(tmp_path / "a" / "model.onnx")).graph
    assert [n.op_type for n in graph.node].count("IsNaN") == 1
    from serving import Predictor

    p = Predictor.load(tmp_path / "a")
    got = p.predict_proba(frame)
    assert np.abs(got - pipe.predict_proba(frame)).max() <= 1e-5
    assert art.manifest["certificate"]["label_agreement"] == 1.0


@pytest.mark.parametrize("log1p", [False, True])
def test_a_tree_model_reads_fused_chains_and_its_splits_are_still_checked(
    tmp_path, log1p: bool
) -> None:
    """Trees: one chain and one float32 rounding for the whole matrix, same bits.

    With a ``log1p`` column the trees read it raw (its thresholds move), so the
    blocks are rounded one by one, as before.
    """
    import onnx
    from sklearn.ensemble import RandomForestClassifier

    from featurekit.golden import with_outputs
    from serving import Predictor

    rng = np.random.default_rng(2)
    n = 600
    frame = pd.DataFrame(
        {f"x{i}": rng.lognormal(i, 1, n) for i in range(4)}
        | {"kind": rng.choice(["p", "q", "r"], n), "size": rng.choice(["s", "m"], n)}
    )
    frame.loc[::9, "x1"] = np.nan
    y = (frame["x0"] + rng.normal(0, 1, n) > 2).astype(int)
    features = fk.FeatureSet(
        "trees",
        [
            fk.Numeric(
                f"x{i}",
                impute="median",
                scale="standard",
                bounds=(0, None),
                log1p=log1p and i == 3,
            )
            for i in range(4)
        ]
        + [fk.Categorical(c, unknown="ignore") for c in ("kind", "size")],
    )
    model = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0)
    pipe = fk.make_pipeline(features, model).fit(frame, y)
    art = fk.export(pipe, tmp_path / "a", reference=frame)
    checks = art.manifest["certificate"]["checks"]
    assert checks["split_features"]["rows"] > 0  # every split value, column by column
    assert art.manifest["certificate"]["label_agreement"] == 1.0

    model_bytes = (tmp_path / "a" / "model.onnx").read_bytes()
    ops = [n.op_type for n in onnx.load_from_string(model_bytes).graph.node]
    if log1p:  # x3 reaches the trees raw: three numeric chains fused, blocks rounded
        assert ops.count("IsNaN") == 2
        # one-hots; a pair for each rounded block: x0 to x2 fused, kind, size
        assert ops.count("Cast") == 2 + 2 * 3
    else:
        assert ops.count("IsNaN") == 1
        assert ops.count("Cast") == 2 + 2  # one-hots; one pair for the whole matrix

    # the float64 features (what the certificate compares): scikit-learn's, bit for bit
    p = Predictor.load(tmp_path / "a", monitor=False)
    feeds, rows = p._columns.coerce(frame)
    exact = Session(with_outputs(model_bytes, ["features_exact"]))
    got = exact.run(feeds, rows, ["features_exact"])[0]
    want = pipe.named_steps["features"].transform(frame).astype(np.float64)
    if log1p:  # the graph holds x3 before log1p and scaling (x3 has no gaps to fill)
        want[:, 3] = frame["x3"].to_numpy()
    assert got.shape == want.shape
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))
    assert np.array_equal(p.predict(frame), pipe.predict(frame))
