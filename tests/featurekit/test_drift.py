"""Drift detection: calibrated on seeded simulations, and on real data split in time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.detection import Drift
from featurekit.monitoring.counts import Counts
from featurekit.monitoring.profile import build_profile
from featurekit.monitoring.verdicts import evaluate

N_REF, WINDOW = 10_000, 1_000


def _categories(k: int, n: int, rng: np.random.Generator, unseen: float = 0.0):
    p = 1 / np.arange(1, k + 1)
    values = np.array([f"c{i}" for i in range(k)], dtype=object)[
        rng.choice(k, n, p=p / p.sum())
    ]
    if unseen:
        values[rng.random(n) < unseen] = "never-seen"
    return values


def _alarm_rate(make, trials: int) -> float:
    """Share of seeded trials where any feature drifts; make(rng) -> (ref, current)."""
    alarms = 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        (num_ref, cat_ref), current = make(rng)
        profile = build_profile(num_ref, cat_ref, seed=seed)
        rows = evaluate(profile, Counts.from_frame(profile, pd.DataFrame(current)))
        alarms += any(r["verdict"] == "drift" for r in rows)
    return alarms / trials


# -- calibration under the null: false alarms stay within the level -----------------------
@pytest.mark.parametrize("k", [3, 10, 50])
def test_no_false_alarm_excess_on_categoricals_without_drift(k: int) -> None:
    rate = _alarm_rate(
        lambda r: (
            ({}, {"c": _categories(k, N_REF, r)}),
            {"c": _categories(k, WINDOW, r)},
        ),
        trials=100,
    )
    # the level is 5%; 100 seeded trials of a 5% event exceed 9 with probability < 3%
    assert rate <= 0.09


@pytest.mark.parametrize("draw", ["normal", "lognormal"])
def test_no_false_alarm_excess_on_numerics_without_drift(draw: str) -> None:
    rate = _alarm_rate(
        lambda r: (
            ({"x": getattr(r, draw)(size=N_REF)}, {}),
            {"x": getattr(r, draw)(size=WINDOW)},
        ),
        trials=100,
    )
    assert rate <= 0.09


def test_a_harmless_shift_on_a_huge_window_does_not_alarm() -> None:
    rate = _alarm_rate(
        lambda r: (
            ({"x": r.normal(size=100_000)}, {}),
            {"x": r.normal(size=100_000) + 0.02},
        ),
        trials=10,
    )
    assert rate == 0.0


# -- power ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("shift", "at_least"), [(0.2, 0.9), (0.5, 1.0)])
def test_mean_shifts_are_detected(shift: float, at_least: float) -> None:
    rate = _alarm_rate(
        lambda r: (
            ({"x": r.normal(size=N_REF)}, {}),
            {"x": r.normal(size=WINDOW) + shift},
        ),
        trials=40,
    )
    assert rate >= at_least


def test_a_missing_rate_jump_from_0_to_5_percent_is_detected() -> None:
    def make(r):
        x = r.normal(size=WINDOW)
        x[r.random(WINDOW) < 0.05] = np.nan
        return ({"x": r.normal(size=N_REF)}, {}), {"x": x}

    assert _alarm_rate(make, trials=40) == 1.0


def test_two_percent_unseen_categories_are_detected() -> None:
    rate = _alarm_rate(
        lambda r: (
            ({}, {"c": _categories(10, N_REF, r)}),
            {"c": _categories(10, WINDOW, r, unseen=0.02)},
        ),
        trials=40,
    )
    assert rate >= 0.95


def test_missing_values_are_not_dropped_before_testing() -> None:
    rng = np.random.default_rng(0)
    profile = build_profile({"x": rng.normal(size=N_REF)}, {})
    x = rng.normal(size=WINDOW)
    x[:200] = np.nan  # the rest of the column looks exactly like the reference
    (row,) = evaluate(profile, Counts.from_frame(profile, pd.DataFrame({"x": x})))
    assert row["verdict"] == "drift"
    assert row["signals"] == ["missing"]
    assert row["missing_current"] == pytest.approx(0.2)


def test_the_table_shows_the_signal_that_decided_as_the_cli_and_html_do() -> None:
    from featurekit.detection import DriftReport
    from featurekit.monitoring.report import summary_row

    rng = np.random.default_rng(0)
    profile = build_profile({"x": rng.normal(size=N_REF)}, {})
    x = rng.normal(size=WINDOW)
    x[:200] = np.nan  # only the missing rate moves
    counts = Counts.from_frame(profile, pd.DataFrame({"x": x}))
    rows = evaluate(profile, counts)
    report = DriftReport(rows, profile, counts, {"name": "t"})
    row = report.table.iloc[0]
    assert row["signals"] == ["missing"]
    assert row["statistic"] == "missing rate"
    assert row["effect"] == pytest.approx(0.2)  # the missing rate's jump, not W
    assert row["effect"] > row["threshold"]
    assert row["p_adjusted"] <= 0.05
    # the distribution test keeps its own columns, and it did not fire
    assert row["distribution_statistic"] == "wasserstein"
    assert row["distribution_effect"] < row["distribution_threshold"]
    assert "missing rate" in summary_row(rows[0]).values()  # the CLI's row says so too


def test_a_window_below_20_rows_says_insufficient_data_and_never_alarms() -> None:
    rng = np.random.default_rng(0)
    profile = build_profile({"x": rng.normal(size=N_REF)}, {})
    tiny = pd.DataFrame({"x": rng.normal(size=19) + 5})  # drifted, but 19 rows
    (row,) = evaluate(profile, Counts.from_frame(profile, tiny))
    assert row["verdict"] == "insufficient data"


def _same_counts(a: Counts, b: Counts) -> None:
    """Counters equal exactly; float sums up to summation order."""
    x, y = a.to_dict(), b.to_dict()
    assert x["rows"] == y["rows"]
    for name, bins in x["bins"].items():
        other = y["bins"][name]
        for key, value in bins.items():
            if key in ("total", "sumsq"):
                assert value == pytest.approx(other[key], rel=1e-12), (name, key)
            else:
                assert value == other[key], (name, key)


def test_counts_merge_to_the_counts_of_the_union() -> None:
    rng = np.random.default_rng(0)
    profile = build_profile(
        {"x": rng.normal(size=2000)}, {"c": _categories(5, 2000, rng)}
    )
    a = pd.DataFrame({"x": rng.normal(size=300), "c": _categories(5, 300, rng, 0.1)})
    b = pd.DataFrame({"x": rng.normal(size=500), "c": _categories(5, 500, rng)})
    b.loc[::7, "x"] = np.nan
    merged = Counts.from_frame(profile, a).merge(Counts.from_frame(profile, b))
    whole = Counts.from_frame(profile, pd.concat([a, b]))
    _same_counts(merged, whole)
    restored = Counts.from_dict(profile, json.loads(json.dumps(merged.to_dict())))
    assert restored.to_dict() == merged.to_dict()


def test_live_counting_equals_offline_counting() -> None:
    rng = np.random.default_rng(0)
    profile = build_profile(
        {"x": rng.normal(size=2000)}, {"c": _categories(5, 2000, rng)}
    )
    x = rng.normal(size=300)
    x[::11] = np.nan
    c = _categories(5, 300, rng, unseen=0.1)
    offline = Counts.from_frame(profile, pd.DataFrame({"x": x, "c": c}))
    live = Counts.empty(profile)
    feeds = {"x": x.reshape(-1, 1), "c": c.reshape(-1, 1)}
    live.observe({k: v[:1] for k, v in feeds.items()})  # the single-row path
    live.observe({k: v[1:40] for k, v in feeds.items()})  # a small batch
    live.observe({k: v[40:] for k, v in feeds.items()})
    _same_counts(live, offline)


# -- on artifacts -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def macro() -> pd.DataFrame:
    """US quarterly macro data 1959-2009, shipped with statsmodels: a real time series."""
    import statsmodels.api as sm

    frame = sm.datasets.macrodata.load_pandas().data
    frame["decade"] = (frame["year"] // 10 * 10).astype(int).astype(str)
    return frame


MACRO = fk.FeatureSet(
    "macro",
    [
        fk.Numeric("tbilrate", scale="standard"),
        fk.Numeric("unemp", scale="standard"),
        fk.Numeric("infl", scale="standard"),
        fk.Numeric("realint", scale="standard"),
    ],
)


def _macro_artifact(train: pd.DataFrame, path: Path) -> Path:
    y = (train["realgdp"].diff().fillna(0) > 40).astype(int)
    pipe = fk.make_pipeline(MACRO, LogisticRegression()).fit(train, y)
    fk.export(pipe, path, reference=train)
    return path


def test_a_temporal_split_of_real_data_drifts(macro, tmp_path) -> None:
    early, late = macro.iloc[:101], macro.iloc[101:]
    report = fk.drift(_macro_artifact(early, tmp_path / "a"), late, outputs=False)
    assert report.drifted, report.table
    assert report.verdict == "drift"


def test_a_random_split_of_the_same_data_does_not(macro, tmp_path) -> None:
    shuffled = macro.sample(frac=1.0, random_state=0)
    first, second = shuffled.iloc[:101], shuffled.iloc[101:]
    report = fk.drift(_macro_artifact(first, tmp_path / "b"), second, outputs=False)
    assert not report.drifted, report.table


def test_report_table_has_every_feature_and_the_outputs(macro, tmp_path) -> None:
    path = _macro_artifact(macro.iloc[:101], tmp_path / "c")
    report = fk.drift(path, macro.iloc[101:])
    table = report.table
    assert table["feature"].tolist() == [
        "tbilrate",
        "unemp",
        "infl",
        "realint",
        "output:label",
        "output:score",
        "(multivariate)",
    ]
    for column in (
        "statistic",
        "effect",
        "threshold",
        "p_value",
        "p_adjusted",
        "verdict",
    ):
        assert column in table
    data = json.loads(report.to_json())
    assert data["verdict"] == report.verdict
    assert len(data["histograms"]) == 6


def test_chunks_add_up_to_the_whole(macro, tmp_path) -> None:
    path = _macro_artifact(macro.iloc[:101], tmp_path / "d")
    late = macro.iloc[101:]
    whole = fk.drift(path, late)
    chunked = Drift(path).add(late.iloc[:40]).add(late.iloc[40:]).report()
    pd.testing.assert_frame_equal(whole.table, chunked.table)


def test_profile_stays_under_50_kb_per_feature(tmp_path) -> None:
    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            # a high-cardinality column: the profile keeps at most max_categories
            "id": [f"user-{i:06d}-{'x' * 20}" for i in rng.integers(0, 10**6, n)],
        }
    )
    features = fk.FeatureSet(
        "wide", [fk.Numeric("x"), fk.Categorical("id", unknown="ignore")]
    )
    pipe = fk.make_pipeline(features, LogisticRegression()).fit(
        frame, (frame["x"] > 0).astype(int)
    )
    fk.export(pipe, tmp_path / "w", reference=frame)
    profile = json.loads((tmp_path / "w" / "profile.json").read_text())
    for name, f in profile["features"].items():
        assert len(json.dumps(f)) <= 50_000, name


def test_drift_needs_an_artifact_with_a_profile(macro, tmp_path) -> None:
    path = _macro_artifact(macro.iloc[:101], tmp_path / "e")
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["files"]["profile.json"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "profile.json").unlink()
    with pytest.raises(fk.ArtifactError, match=r"has no profile\.json"):
        fk.drift(path, macro)


def test_a_long_tail_is_not_unseen_drift_but_new_categories_are():
    """Hashed, high-cardinality columns keep bringing categories the reference never saw.

    Good-Turing sets the expected unseen share to the share of categories seen once;
    a fresh sample of the same zipf distribution must not alarm, a real jump must.
    """
    rng = np.random.default_rng(5)

    def merchants(n: int) -> np.ndarray:
        return np.array([f"m{v}" for v in rng.zipf(1.6, n) % 5000], dtype=object)

    profile = build_profile({}, {"merchant": merchants(N_REF)})
    alarms = 0
    for _ in range(20):
        (row,) = evaluate(
            profile,
            Counts.from_frame(profile, pd.DataFrame({"merchant": merchants(1000)})),
        )
        alarms += row["verdict"] == "drift"
    assert alarms <= 2
    fresh = merchants(1000)
    fresh[:300] = [f"new-{i}" for i in range(300)]  # 30 % never seen: a real change
    (row,) = evaluate(
        profile, Counts.from_frame(profile, pd.DataFrame({"merchant": fresh}))
    )
    assert row["verdict"] == "drift" and "unseen" in row["signals"]
    assert row["unseen_rate"] > 0.3
