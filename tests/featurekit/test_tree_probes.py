"""The certificate probes scikit-learn's tree models tree by tree, split by split.

Each test builds the graph through featurekit's own emitter; a few nudge one split
threshold of one tree just before it is emitted, by the smallest step that changes
which inputs go left, and expect the per-tree probes to refuse the export naming that
tree and split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.tree import DecisionTreeRegressor

import featurekit as fk
from featurekit.onnx import ensemble
from serving import Predictor

FEATURES = fk.FeatureSet(
    "probes",
    [
        fk.Numeric("x", impute="median", scale="standard"),
        fk.Numeric("k", dtype="int", clip=(0, 30)),
        fk.Numeric("amount", impute=0.0, clip=(0, None), log1p=True),
        fk.Numeric("raw", nullable=True),
        fk.Categorical("c", impute="most_frequent", unknown="ignore"),
    ],
)


def _data(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 30, n),
            "amount": rng.lognormal(3, 1, n).round(2),
            "raw": rng.normal(size=n).round(3),
            "c": rng.choice(["a", "b", "c"], n),
        }
    )
    frame.loc[::9, "x"] = np.nan
    frame.loc[::7, "amount"] = np.nan
    frame.loc[::5, "raw"] = np.nan  # reaches the trees as NaN: no imputer
    score = frame["x"].fillna(0) + np.log1p(frame["amount"].fillna(0)) / 3
    y = (score + (frame["c"] == "a") + rng.normal(0, 0.5, n) > 1).astype(int)
    return frame, y.to_numpy()


#: The same, "raw" imputed: for models that refuse NaN (gradient boosting).
IMPUTED = fk.FeatureSet(
    "probes",
    [
        f if f.name != "raw" else fk.Numeric("raw", impute="median")
        for f in FEATURES.features
    ],
)


def _fit(model: Any) -> tuple[Any, pd.DataFrame]:
    frame, y = _data()
    if not hasattr(model, "predict_proba"):
        y = frame["x"].fillna(0).to_numpy() * 3 + y
    features = IMPUTED if isinstance(model, GradientBoostingClassifier) else FEATURES
    return fk.make_pipeline(features, model).fit(frame, y), frame


MODELS = {
    "random_forest": lambda: RandomForestClassifier(n_estimators=6, random_state=0),
    "gradient_boosting": lambda: GradientBoostingClassifier(
        n_estimators=5, max_depth=4, random_state=0
    ),
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(
        max_iter=5, random_state=0
    ),
    "extra_trees_regressor": lambda: ExtraTreesRegressor(
        n_estimators=4, max_depth=6, random_state=0
    ),
    "decision_tree_regressor": lambda: DecisionTreeRegressor(
        max_depth=6, random_state=0
    ),
}


#: Units each model adds as one term: trees, stages or iterations.
UNITS = {
    "random_forest": 6,
    "gradient_boosting": 5,
    "hist_gradient_boosting": 5,
    "extra_trees_regressor": 4,
    "decision_tree_regressor": 1,
}


@pytest.mark.parametrize("family", list(MODELS))
def test_every_split_of_every_tree_is_probed_on_both_sides(
    family: str, tmp_path: Path
) -> None:
    pipe, frame = _fit(MODELS[family]())

    art = fk.export(pipe, tmp_path / "a", reference=frame)

    cert = art.certificate
    trees = cert["checks"]["trees"]
    assert cert["method"] == "tree by tree"
    assert trees["splits"] == cert["splits_covered"] > 0
    assert trees["splits_reached"] == trees["splits"]  # every probe reached its split
    assert trees["rows"] >= 2 * trees["splits"]  # both sides, plus NaN where it can be
    assert trees["units"] == UNITS[family]
    assert cert["rows"] == cert["reference_rows"] + cert["edge_rows"]
    assert cert["seconds"] > 0
    assert len(cert["proves"]) == 3


def test_a_pure_forest_is_stored_as_one_tree_per_estimator(tmp_path: Path) -> None:
    pipe, frame = _fit(RandomForestClassifier(n_estimators=6, random_state=0))

    art = fk.export(pipe, tmp_path / "a", reference=frame)

    # default depth: every leaf is pure, so one class per leaf and no per-class copy
    assert art.certificate["checks"]["trees"]["trees"] == 6
    np.testing.assert_array_equal(
        Predictor.load(tmp_path / "a").predict_proba(frame), pipe.predict_proba(frame)
    )


def test_a_shallow_forest_keeps_a_tree_per_class_its_leaves_need(
    tmp_path: Path,
) -> None:
    pipe, frame = _fit(RandomForestClassifier(n_estimators=3, max_depth=2))

    art = fk.export(pipe, tmp_path / "a", reference=frame)

    # depth 2: leaves hold both classes, so each estimator needs two trees
    assert art.certificate["checks"]["trees"]["trees"] == 6
    np.testing.assert_array_equal(
        Predictor.load(tmp_path / "a").predict_proba(frame), pipe.predict_proba(frame)
    )


def _down32(t: float) -> float:
    f = np.float32(t)
    return float(f if float(f) <= t else np.nextafter(f, np.float32(-np.inf)))


def _nudge(
    monkeypatch: pytest.MonkeyPatch,
    tree: int,
    feature: int,
    step: str,
    dtype_rounds: bool = True,
) -> dict[str, Any]:
    """Move one threshold of `tree` (its last split on `feature`) just before emission.

    ``"below"`` puts it one float32 step under the last float32 that goes left (that
    value now goes right); ``"above"`` puts it on the first float32 that goes right
    (that value now goes left); ``"ulp"`` moves a double threshold down one ulp.
    """
    real = ensemble._flatten
    nudged: dict[str, Any] = {}

    def flatten(trees: list[Any], dtype: type) -> dict[str, np.ndarray]:
        flat = real(trees, dtype)
        if nudged:  # only the model's ensemble, once
            return flat
        roots = flat["roots"]
        stop = roots[tree + 1] if tree + 1 < len(roots) else len(flat["feature"])
        nodes = np.arange(roots[tree], stop)
        nodes = nodes[flat["feature"][nodes] == feature]
        if step == "ulp" and dtype_rounds:
            # a threshold that is itself a float32 would let one float32 through
            split = flat["split"][nodes]
            nodes = nodes[split.astype(np.float32).astype(np.float64) != split]
        node = int(nodes[-1])
        t = float(flat["split"][node])
        last_left = np.float32(_down32(t))
        moved = {
            "below": float(np.nextafter(last_left, np.float32(-np.inf))),
            "above": float(np.nextafter(last_left, np.float32(np.inf))),
            "ulp": float(np.nextafter(t, -np.inf)),
        }[step]
        flat["split"] = flat["split"].copy()
        flat["split"][node] = moved
        nudged.update(node=node, before=t, after=moved)
        return flat

    monkeypatch.setattr(ensemble, "_flatten", flatten)
    return nudged


@pytest.mark.parametrize(
    ("family", "tree", "name", "step"),
    [
        ("random_forest", 3, "tree 3", "below"),
        ("random_forest", 4, "tree 4", "above"),
        ("gradient_boosting", 2, "stage 1", "below"),  # after the init tree
        ("hist_gradient_boosting", 3, "iteration 2", "ulp"),  # compares doubles
    ],
)
def test_a_threshold_one_step_off_is_refused_naming_its_tree_and_split(
    family: str,
    tree: int,
    name: str,
    step: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    pipe, frame = _fit(MODELS[family]())
    x = 0  # the scaled "x" column: the features' first
    nudged = _nudge(monkeypatch, tree, x, step, family != "hist_gradient_boosting")
    column = pipe.named_steps["features"].get_feature_names_out()[x]

    with pytest.raises(
        fk.ParityError,
        match=rf"{type(pipe[-1]).__name__} {name}: split \d+ \({column} <= .* in "
        rf"scikit-learn, <= .* in the graph's node \d+\) sends the probe {column}=",
    ) as err:
        fk.export(pipe, tmp_path / "a", reference=frame)

    worst = err.value.worst[0]
    assert worst["graph_node"] == nudged["node"]
    assert worst["onnx_threshold"] == nudged["after"]
    assert worst["sklearn_threshold"] == nudged["before"]
    model = type(pipe[-1]).__name__
    assert err.value.step == f"model ({model} {name}, split {worst['split']})"
    assert not (tmp_path / "a").exists()


def test_a_one_ulp_nudge_no_float32_input_can_tell_is_not_a_difference(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # scikit-learn's forests round inputs to float32: a threshold one double ulp
    # lower sends every float32 the same way, so the graph is still exact
    pipe, frame = _fit(MODELS["random_forest"]())
    _nudge(monkeypatch, 3, 0, "ulp")

    art = fk.export(pipe, tmp_path / "a", reference=frame)

    assert art.certificate["passed"] is True


def _tree_ensembles(path: Path) -> int:
    import onnx

    model = onnx.load(path / "model.onnx")
    return sum(n.op_type == "TreeEnsemble" for n in model.graph.node)


def test_a_big_pure_forest_is_split_into_nodes_and_certified_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # pure leaves add 0.0 and 1.0: every partial sum is exact, so several nodes added
    # in order give scikit-learn's sums bit for bit, and onnxruntime builds each
    # kernel with a fraction of the memory
    monkeypatch.setattr(ensemble, "CHUNK_NODES", 100)
    pipe, frame = _fit(RandomForestClassifier(n_estimators=8, random_state=0))

    art = fk.export(pipe, tmp_path / "a", reference=frame)

    assert _tree_ensembles(tmp_path / "a") > 1
    trees = art.certificate["checks"]["trees"]
    assert trees["trees"] == 8 and trees["splits_reached"] == trees["splits"]
    np.testing.assert_array_equal(
        Predictor.load(tmp_path / "a").predict_proba(frame), pipe.predict_proba(frame)
    )


def test_a_forest_whose_sums_would_round_stays_one_node(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ensemble, "CHUNK_NODES", 10)
    pipe, frame = _fit(RandomForestClassifier(n_estimators=8, max_depth=3, random_state=0))

    fk.export(pipe, tmp_path / "a", reference=frame)

    assert _tree_ensembles(tmp_path / "a") == 1  # fractions: summed in one order only
