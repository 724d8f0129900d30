"""`fk.compare` end to end: real artifacts, scored through serving.Predictor.

The models are threshold rules on ``x`` learnt by small trees, so their accuracies
against the truth ``x + noise > 0`` are known in advance: a threshold at 0 is the
best, 0.4 the champion, 0.8 worse still.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeClassifier

import featurekit as fk
from featurekit.comparing.result import TABLE_COLUMNS
from serving import Predictor

FEATURES = fk.FeatureSet(
    "loans",
    [
        fk.Numeric("x", scale="standard"),
        fk.Categorical("g"),  # the slice: u or v
        fk.Categorical("c"),  # unknown="error": a category not trained is refused
    ],
)


def frame(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n) + shift,
            "g": rng.choice(["u", "v"], n, p=[0.8, 0.2]),
            "c": rng.choice(["a", "b", "k"], n, p=[0.5, 0.45, 0.05]),
        }
    )


def truth(X: pd.DataFrame, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed + 1000).normal(0, 0.5, len(X))
    return (X["x"].to_numpy() + noise > 0).astype(int)


def _export(path: Path, X: pd.DataFrame, labels: np.ndarray, depth: int = 3) -> Path:
    model = DecisionTreeClassifier(max_depth=depth, random_state=0)
    fk.export(fk.make_pipeline(FEATURES, model).fit(X, labels), path, reference=X)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    X = frame(3000, seed=0)
    x, g = X["x"].to_numpy(), X["g"].to_numpy()
    no_k = X[X["c"] != "k"]
    return {
        "champion": _export(root / "champion", X, (x > 0.4).astype(int)),
        "better": _export(root / "better", X, (x > 0.0).astype(int)),
        "worse": _export(root / "worse", X, (x > 0.8).astype(int)),
        # better on the slice g=u, worse on g=v
        "mixed": _export(
            root / "mixed", X, np.where(g == "u", x > 0.0, x > 1.0).astype(int)
        ),
        # trained without the category k: its contract refuses it
        "no_k": _export(root / "no_k", no_k, (no_k["x"].to_numpy() > 0).astype(int)),
        # trained on data whose x moved by 1.5 standard deviations
        "moved": _export(
            root / "moved", frame(3000, 1, shift=1.5), (x + 1.5 > 1.5).astype(int)
        ),
    }


@pytest.fixture(scope="module")
def test_rows() -> tuple[pd.DataFrame, np.ndarray]:
    X = frame(4000, seed=7)
    return X, truth(X, seed=7)


def test_a_better_challenger_is_promoted(models, test_rows):
    X, y = test_rows
    got = fk.compare(models["champion"], models["better"], X, y, slices=[])
    assert got.verdict == "promote"
    assert got.overall["test"] == "McNemar mid-p"
    assert got.overall["improvement"] > 0.02
    assert got.overall["ci_low"] > 0
    assert got.overall["p_better"] < 1e-3


def test_a_worse_challenger_is_kept(models, test_rows):
    X, y = test_rows
    got = fk.compare(models["champion"], models["worse"], X, y)
    assert got.verdict == "keep"
    assert got.overall["improvement"] < 0
    assert "not shown better" in got.reasons[0]


def test_a_margin_promotes_a_challenger_worse_by_less_than_it(models, test_rows):
    X, y = test_rows
    strict = fk.compare(models["champion"], models["worse"], X, y)
    loss = -strict.overall["improvement"]
    lenient = fk.compare(models["champion"], models["worse"], X, y, margin=2 * loss)
    tight = fk.compare(models["champion"], models["worse"], X, y, margin=loss / 4)
    assert lenient.verdict == "promote"
    assert tight.verdict == "keep"


def test_too_few_rows_are_inconclusive_and_say_what_would_be_detectable(
    models, test_rows
):
    X, y = test_rows
    got = fk.compare(models["champion"], models["better"], X[:60], y[:60])
    assert got.verdict == "inconclusive"
    assert got.overall["detectable"] > 0.03
    assert f"{got.overall['detectable']:.4g}" in got.reasons[0]
    assert "200 needed" in got.reasons[0]


@pytest.mark.parametrize(
    ("metric", "test"),
    [
        ("roc_auc", "DeLong"),
        ("log_loss", "paired bootstrap"),
        ("brier", "paired bootstrap"),
    ],
)
def test_every_classifier_metric_promotes_the_better_model(
    models, test_rows, metric, test
):
    X, y = test_rows
    got = fk.compare(models["champion"], models["better"], X, y, metric=metric)
    assert got.overall["test"] == test
    assert got.verdict == "promote"
    assert (
        fk.compare(models["better"], models["champion"], X, y, metric=metric).verdict
        == "keep"
    )


def test_a_challenger_worse_on_one_slice_is_kept_and_the_slice_named(models, test_rows):
    X, y = test_rows
    got = fk.compare(models["champion"], models["mixed"], X, y)
    assert got.overall["p_better"] <= 0.05  # better overall...
    slices = {(r["column"], r["value"]): r for r in got.slices}
    assert slices[("g", "v")]["regressed"]  # ...but worse where g is v
    assert not slices[("g", "u")]["regressed"]
    assert got.verdict == "keep"
    assert "g=v" in got.reasons[0]


def test_a_challenger_that_refuses_a_category_the_champion_accepts_is_flagged(
    models, test_rows
):
    X, y = test_rows
    got = fk.compare(models["champion"], models["no_k"], X, y)
    k_rows = int((X["c"] == "k").sum())
    c = got.compatibility
    assert c["refused_by_challenger_only"] == k_rows
    assert c["share"] == pytest.approx(k_rows / len(X))
    [failure] = c["failures"]
    assert failure["column"] == "c"
    assert failure["rows"] == k_rows
    assert failure["examples"] == ["k"]
    assert "isin" in failure["check"] or "categor" in failure["check"]
    assert got.verdict == "keep"
    assert f"refuses {k_rows} rows" in got.reasons[0]
    # a tolerance for refusals lets the test decide
    assert (
        fk.compare(models["champion"], models["no_k"], X, y, max_refused=0.1).verdict
        == "promote"
    )


def test_rows_without_labels_are_counted_not_compared(models, test_rows):
    X, y = test_rows
    labels = y.astype(object)
    labels[::10] = None
    labels[1::10] = np.nan
    got = fk.compare(models["champion"], models["better"], X, labels)
    assert got.rows["unlabelled"] == 800
    assert got.rows["labelled"] == 3200
    assert got.rows["compared"] == 3200
    assert got.overall["rows"] == 3200


def test_the_label_may_be_a_column_of_the_rows(models, test_rows):
    X, y = test_rows
    by_column = fk.compare(models["champion"], models["better"], X.assign(y=y), "y")
    by_array = fk.compare(models["champion"], models["better"], X, y)
    assert by_column.to_dict() == by_array.to_dict()


def test_labels_that_are_not_classes_are_named(models, test_rows):
    X, y = test_rows
    labels = y.astype(object)
    labels[3] = "maybe"
    with pytest.raises(
        ValueError, match=r"Labels \['maybe'\] are not classes.*\[0, 1\]"
    ):
        fk.compare(models["champion"], models["better"], X, labels)


def test_artifacts_with_different_inputs_are_refused_naming_the_columns(
    models, tmp_path
):
    other = fk.FeatureSet(
        "loans", [fk.Numeric("x"), fk.Numeric("z"), fk.Categorical("g")]
    )
    X = frame(300, 0).assign(z=1.0)
    pipe = fk.make_pipeline(other, DecisionTreeClassifier(max_depth=2))
    fk.export(pipe.fit(X, truth(X, 0)), tmp_path / "other", reference=X)
    with pytest.raises(
        fk.ArtifactError,
        match=r"only the champion has \['c'\], only the challenger \['z'\]",
    ):
        fk.compare(models["champion"], tmp_path / "other", X, truth(X, 0))


def test_artifacts_with_different_classes_are_refused_naming_them(models, tmp_path):
    X = frame(300, 0)
    labels = np.where(truth(X, 0) == 1, "yes", "no")
    _export(tmp_path / "words", X, labels)
    with pytest.raises(
        fk.ArtifactError,
        match=r"classes \[0, 1\] and the challenger .* \['no', 'yes'\]",
    ):
        fk.compare(models["champion"], tmp_path / "words", X, truth(X, 0))


def test_drift_between_the_reference_profiles_names_the_moved_feature(
    models, test_rows
):
    X, y = test_rows
    got = fk.compare(models["champion"], models["moved"], X, y)
    verdicts = {r["feature"]: r["verdict"] for r in got.drift}
    assert verdicts["x"] == "drift"
    assert verdicts["g"] == verdicts["c"] == "ok"
    same = fk.compare(models["champion"], models["better"], X, y)
    assert {r["feature"]: r["verdict"] for r in same.drift}["x"] == "ok"


def test_loaded_predictors_are_compared_as_they_are(models, test_rows):
    X, y = test_rows
    champion = Predictor.load(models["champion"])
    by_path = fk.compare(models["champion"], models["better"], X, y)
    by_object = fk.compare(champion, Predictor.load(models["better"]), X, y)
    assert by_object.overall == by_path.overall


def test_a_regressor_is_compared_on_rmse(tmp_path):
    features = fk.FeatureSet("price", [fk.Numeric("x"), fk.Categorical("g")])
    X = frame(2000, 3)[["x", "g"]]
    y = 3 * X["x"].to_numpy() + np.random.default_rng(3).normal(0, 1, len(X))
    for name, target in (("good", y), ("bad", 0.5 * y)):
        pipe = fk.make_pipeline(features, Ridge()).fit(X, target)
        fk.export(pipe, tmp_path / name, reference=X)
    Xt = frame(1000, 4)[["x", "g"]]
    yt = 3 * Xt["x"].to_numpy() + np.random.default_rng(4).normal(0, 1, len(Xt))
    got = fk.compare(tmp_path / "bad", tmp_path / "good", Xt, yt)
    assert (got.metric, got.verdict) == ("rmse", "promote")
    assert got.overall["champion"] > got.overall["challenger"]
    rmse = np.sqrt(np.mean((Predictor.load(tmp_path / "good").predict(Xt) - yt) ** 2))
    assert got.overall["challenger"] == pytest.approx(rmse)
    with pytest.raises(ValueError, match="'accuracy' is for a classifier"):
        fk.compare(tmp_path / "bad", tmp_path / "good", Xt, yt, metric="accuracy")


def test_table_json_and_repr(models, test_rows):
    X, y = test_rows
    got = fk.compare(models["champion"], models["better"], X, y)
    table = got.table
    assert list(table.columns) == TABLE_COLUMNS
    assert table["scope"].tolist() == ["all rows", "g=u", "g=v", "c=a", "c=b", "c=k"]
    assert table.loc[0, "status"] == "promote"
    assert table.loc[5, "status"].startswith("not tested")  # c=k: about 200 rows
    assert json.loads(got.to_json()) == got.to_dict()
    assert (
        repr(got)
        == "Comparison('loans' v1 -> 'loans' v1: promote on accuracy, 4000 rows)"
    )


# -- featurekit compare ---------------------------------------------------------------
@pytest.fixture(scope="module")
def labelled_csv(test_rows, tmp_path_factory) -> Path:
    X, y = test_rows
    path = tmp_path_factory.mktemp("data") / "labelled.csv"
    labels = pd.Series(y, dtype="Int64")
    labels[::50] = pd.NA  # empty cells: no label yet
    X.assign(outcome=labels).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("challenger", "rows", "status", "verdict"),
    [
        ("better", None, 0, "promote"),
        ("worse", None, 1, "keep"),
        ("better", 80, 3, "inconclusive"),
    ],
)
def test_cli_exit_status_gates_a_deploy(
    models, labelled_csv, tmp_path, capsys, challenger, rows, status, verdict
):
    from featurekit.cli import main

    data = labelled_csv
    if rows is not None:
        data = tmp_path / "few.csv"
        pd.read_csv(labelled_csv).head(rows).to_csv(data, index=False)
    argv = ["compare", str(models["champion"]), str(models[challenger]), str(data)]
    assert main([*argv, "--label-column", "outcome"]) == status
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith(f"result: {verdict}: ")
    assert "without a label" in out


def test_cli_json_counts_unlabelled_rows_and_writes_html(
    models, labelled_csv, tmp_path, capsys
):
    from featurekit.cli import main

    page = tmp_path / "compare.html"
    argv = [
        "compare",
        str(models["champion"]),
        str(models["better"]),
        str(labelled_csv),
    ]
    argv += ["--label-column", "outcome", "--metric", "roc_auc", "--json"]
    assert main([*argv, "--html", str(page)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["verdict"], got["metric"]) == ("promote", "roc_auc")
    assert got["rows"]["unlabelled"] == 80
    assert got["rows"]["compared"] == 3920
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_cli_names_refused_columns_in_the_summary(models, labelled_csv, capsys):
    from featurekit.cli import main

    argv = ["compare", str(models["champion"]), str(models["no_k"]), str(labelled_csv)]
    assert main([*argv, "--label-column", "outcome"]) == 1
    out = capsys.readouterr().out
    assert "\n  c: " in out and "e.g. k)" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--label-column", "nope"], "no label column 'nope'"),
        (["--label-column", "outcome", "--margin", "-1"], "margin >= 0"),
    ],
)
def test_cli_usage_errors_exit_2_on_one_line(
    models, labelled_csv, capsys, extra, message
):
    from featurekit.cli import main

    argv = [
        "compare",
        str(models["champion"]),
        str(models["better"]),
        str(labelled_csv),
    ]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("featurekit compare: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
