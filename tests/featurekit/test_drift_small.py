"""Drift on small windows and joint shifts (issue 15): calibrated, seeded simulations."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pandas as pd
import pytest

from featurekit.monitoring import exact
from featurekit.monitoring.counts import Counts
from featurekit.monitoring.joint import JOINT
from featurekit.monitoring.profile import build_profile
from featurekit.monitoring.verdicts import evaluate
from serving.monitor import Monitor

N_REF = 10_000
LOGNORMAL_SD = float(np.sqrt((np.exp(0.25) - 1) * np.exp(0.25)))


def _zipf(k: int) -> np.ndarray:
    p = 1 / np.arange(1, k + 1)
    return p / p.sum()


def _categories(p: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    names = np.array([f"c{i}" for i in range(len(p))], dtype=object)
    return names[rng.choice(len(p), n, p=p)]


def _row(profile: dict, frame: pd.DataFrame, name: str) -> dict:
    rows = evaluate(profile, Counts.from_frame(profile, frame))
    return next(r for r in rows if r["feature"] == name)


# -- the level holds at 20 rows ----------------------------------------------------------
@pytest.mark.parametrize("k", [3, 10, 50])
def test_twenty_categorical_rows_get_a_verdict_within_the_level(k: int) -> None:
    rng = np.random.default_rng(k)
    profile = build_profile({}, {"c": _categories(_zipf(k), N_REF, rng)})
    alarms = 0
    for _ in range(200):
        row = _row(profile, pd.DataFrame({"c": _categories(_zipf(k), 20, rng)}), "c")
        assert row["verdict"] in ("ok", "drift")  # decided, not "insufficient data"
        alarms += row["verdict"] == "drift"
    # level 5 %; 200 trials of a 5 % event exceed 17 with probability < 2 %
    assert alarms <= 17


@pytest.mark.parametrize("draw", ["normal", "lognormal"])
def test_twenty_numeric_rows_get_a_verdict_within_the_level(draw: str) -> None:
    rng = np.random.default_rng(7)

    def sample(n: int) -> np.ndarray:
        return rng.normal(size=n) if draw == "normal" else rng.lognormal(0, 0.5, n)

    profile = build_profile({"x": sample(N_REF)}, {})
    verdicts = [
        _row(profile, pd.DataFrame({"x": sample(20)}), "x")["verdict"]
        for _ in range(200)
    ]
    assert set(verdicts) <= {"ok", "drift"}
    assert verdicts.count("drift") <= 17


def test_permutation_p_values_are_uniform_under_no_drift() -> None:
    rng = np.random.default_rng(3)
    p = _zipf(10)
    reference = np.bincount(rng.choice(10, N_REF, p=p), minlength=10)
    values = [
        exact.permutation_test(
            reference,
            np.bincount(rng.choice(10, 30, p=p), minlength=10),
            exact.chi_square,
        )[1]
        for _ in range(300)
    ]
    # a valid p-value is at most a with probability at most a (Monte Carlo slack)
    for a in (0.05, 0.2, 0.5):
        assert np.mean(np.asarray(values) <= a) <= a + 0.05


def test_the_staged_permutation_test_stops_early_only_to_accept() -> None:
    rng = np.random.default_rng(5)
    p = _zipf(10)
    reference = np.bincount(rng.choice(10, N_REF, p=p), minlength=10)
    values = np.asarray(
        [
            exact.permutation_test(
                reference,
                np.bincount(rng.choice(10, 200, p=p), minlength=10),
                exact.anderson_darling,
            )[1]
            for _ in range(400)
        ]
    )
    # valid at the levels decisions use, across the stages' cut-offs (0.02, 0.1)
    for a in (0.01, 0.02, 0.05, 0.1):
        assert np.mean(values <= a) <= a + 0.03
    # without drift most tests stop after the first 50 splits (p on a grid of 1/51,
    # above 0.1); a p-value at most 0.02 comes from all 2,000 splits
    (first, _), (_, cut) = exact.STAGES

    def on_grid(v: np.ndarray, splits: int) -> np.ndarray:
        return np.isclose(v * (splits + 1), np.round(v * (splits + 1)))

    assert np.mean(on_grid(values, first) & (values > 0.1)) > 0.75
    small = values[values <= cut]
    assert on_grid(small, exact.DRAWS).all()
    drifted = np.bincount(rng.choice(10, 200, p=p[::-1]), minlength=10)
    _, tiny = exact.permutation_test(reference, drifted, exact.anderson_darling)
    assert tiny == 1 / (exact.DRAWS + 1)


# -- glaring shifts at 50 rows are seen ----------------------------------------------------
def test_a_one_sigma_shift_is_seen_in_fifty_rows() -> None:
    rng = np.random.default_rng(11)
    profile = build_profile({"x": rng.lognormal(0, 0.5, N_REF)}, {})
    hits = sum(
        _row(
            profile, pd.DataFrame({"x": rng.lognormal(0, 0.5, 50) + LOGNORMAL_SD}), "x"
        )["verdict"]
        == "drift"
        for _ in range(50)
    )
    assert hits >= 45


def test_a_doubled_category_share_is_seen_in_fifty_rows() -> None:
    rng = np.random.default_rng(12)
    p = _zipf(50)
    profile = build_profile({}, {"c": _categories(p, N_REF, rng)})
    q = p * (1 - 2 * p[0]) / (1 - p[0])
    q[0] = 2 * p[0]  # the commonest category: 22 % -> 44 %
    hits = sum(
        _row(profile, pd.DataFrame({"c": _categories(q, 50, rng)}), "c")["verdict"]
        == "drift"
        for _ in range(50)
    )
    assert hits >= 35


def test_below_twenty_rows_says_insufficient_data() -> None:
    rng = np.random.default_rng(0)
    profile = build_profile({"x": rng.normal(size=N_REF)}, {})
    row = _row(profile, pd.DataFrame({"x": np.full(19, 50.0)}), "x")
    assert row["verdict"] == "insufficient data"
    assert _row(profile, pd.DataFrame({"x": np.full(20, 50.0)}), "x")["verdict"] == (
        "drift"
    )


def test_thresholds_are_calibrated_at_each_size_and_shrink_with_it() -> None:
    rng = np.random.default_rng(1)
    profile = build_profile({"x": rng.normal(size=N_REF)}, {})
    f = profile["features"]["x"]
    assert profile["settings"]["sizes"] == [20, 50, 100, 200, 500, 1000]
    assert len(f["thresholds"]) == 6
    assert all(a > b for a, b in itertools.pairwise(f["thresholds"]))
    assert f["threshold"] == f["thresholds"][-1]


def test_the_detectable_shift_is_stated_and_shrinks_with_the_window() -> None:
    rng = np.random.default_rng(2)
    profile = build_profile({"x": rng.normal(size=N_REF)}, {"c": ["a", "b"] * 5000})
    shifts = {}
    for n in (20, 100, 1000):
        frame = pd.DataFrame({"x": rng.normal(size=n), "c": ["a", "b"] * (n // 2)})
        rows = {
            r["feature"]: r
            for r in evaluate(profile, Counts.from_frame(profile, frame))
        }
        shifts[n] = rows["x"]["detectable_shift"]
        assert rows["c"]["detectable_unit"] == "change of a category's share"
        assert 0 < rows["c"]["detectable_shift"] < 1
    assert shifts[20] > shifts[100] > shifts[1000] > 0
    # two features and the multivariate row under BH:
    # z_(1 - 0.05 / (2 * 3)) + z_0.8 = 3.23 standard errors of a difference of means
    assert "joint" in profile
    assert shifts[100] == pytest.approx(3.23 * np.sqrt(1 / 100 + 1 / N_REF), rel=0.01)


def test_profiles_from_before_small_windows_still_decide_from_twenty_rows() -> None:
    rng = np.random.default_rng(4)
    profile = build_profile(
        {"x": rng.normal(size=N_REF), "y": rng.normal(size=N_REF)}, {}
    )
    old = copy.deepcopy(profile)
    del old["joint"]
    del old["settings"]["sizes"]
    old["settings"]["min_rows"] = 100
    for f in old["features"].values():
        del f["thresholds"], f["missing_thresholds"]
    frame = pd.DataFrame({"x": rng.normal(size=50) + 3, "y": rng.normal(size=50)})
    rows = evaluate(old, Counts.from_frame(old, frame))
    assert [r["feature"] for r in rows] == ["x", "y"]  # no multivariate row
    assert [r["verdict"] for r in rows] == ["drift", "ok"]


# -- joint shifts ----------------------------------------------------------------------
def _pair(n: int, rho: float, rng: np.random.Generator) -> pd.DataFrame:
    a, b = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame(
        {
            "a": a,
            "b": rho * a + np.sqrt(1 - rho**2) * b,
            "z": rng.lognormal(0, 0.5, n),
            "c": _categories(_zipf(5), n, rng),
        }
    )


@pytest.fixture(scope="module")
def pair_profile() -> dict:
    ref = _pair(N_REF, 0.8, np.random.default_rng(5))
    return build_profile(
        {k: ref[k].to_numpy() for k in "abz"}, {"c": ref["c"].to_numpy()}
    )


def test_a_flipped_correlation_is_seen_only_by_the_multivariate_row(
    pair_profile,
) -> None:
    rng = np.random.default_rng(6)
    flagged, features = 0, 0
    for _ in range(20):
        rows = evaluate(
            pair_profile, Counts.from_frame(pair_profile, _pair(1000, -0.8, rng))
        )
        by = {r["feature"]: r for r in rows}
        flagged += by[JOINT]["verdict"] == "drift"
        features += sum(by[k]["verdict"] == "drift" for k in "abzc")
    assert flagged == 20
    assert features <= 2  # the marginals did not move


def test_the_multivariate_row_stays_quiet_without_drift(pair_profile) -> None:
    rng = np.random.default_rng(8)
    alarms = 0
    for _ in range(100):
        rows = evaluate(
            pair_profile, Counts.from_frame(pair_profile, _pair(200, 0.8, rng))
        )
        alarms += rows[-1]["verdict"] == "drift"
    assert rows[-1]["feature"] == JOINT
    assert alarms <= 10  # 100 trials of a 5 % event exceed 10 with probability < 2 %


def test_the_profile_holds_what_the_multivariate_row_needs(pair_profile) -> None:
    j = pair_profile["joint"]
    assert [n for n, _, _ in j["numeric"]] == ["a", "b", "z"]
    assert [n for n, _ in j["categorical"]] == ["c"]
    assert len(j["residual"]) >= 1 and len(j["errors"]) == 2000
    assert len(j["thresholds"]) == len(pair_profile["settings"]["sizes"])


def test_joint_sums_merge_by_addition_across_replicas(pair_profile) -> None:
    rng = np.random.default_rng(9)
    frame = _pair(600, -0.8, rng)
    feeds = {k: frame[[k]].to_numpy() for k in "abz"}
    feeds["c"] = frame[["c"]].to_numpy(dtype=object)
    one, two = Monitor(pair_profile, window=10**6), Monitor(pair_profile, window=10**6)
    one.observe({k: v[:250] for k, v in feeds.items()})
    two.observe({k: v[250:] for k, v in feeds.items()})
    assert one.merge(two.snapshot()) == 350
    merged = one.snapshot()["current"]["joint"]
    whole = Counts.from_frame(pair_profile, frame).joint
    assert merged["rows"] == whole.rows == 600
    assert merged["total"] == pytest.approx(whole.total, rel=1e-12)
    assert merged["sumsq"] == pytest.approx(whole.sumsq, rel=1e-12)


def test_a_snapshot_without_joint_sums_still_merges(pair_profile) -> None:
    rng = np.random.default_rng(10)
    frame = _pair(100, 0.8, rng)
    snapshot = Counts.from_frame(pair_profile, frame).to_dict()
    del snapshot["joint"]  # a replica from before the multivariate signal
    counts = Counts.from_dict(pair_profile, snapshot)
    assert counts.rows == 100 and counts.joint.rows == 0


def test_malformed_joint_sums_are_refused(pair_profile) -> None:
    snapshot = Counts.empty(pair_profile).to_dict()
    snapshot["joint"] = {"rows": 5, "total": 1.0, "sumsq": 1.0}  # more than the rows
    with pytest.raises(ValueError, match="joint rows exceed"):
        Counts.from_dict(pair_profile, snapshot)
    snapshot["joint"] = {"rows": 0, "total": float("nan"), "sumsq": 0.0}
    with pytest.raises(ValueError, match="finite"):
        Counts.from_dict(pair_profile, snapshot)


def test_the_live_monitor_alerts_on_a_joint_shift(pair_profile) -> None:
    rng = np.random.default_rng(13)
    m = Monitor(pair_profile, window=500)
    for _ in range(3):
        frame = _pair(500, -0.8, rng)
        feeds = {k: frame[[k]].to_numpy() for k in "abz"}
        feeds["c"] = frame[["c"]].to_numpy(dtype=object)
        m.observe(feeds)
    status = m.status()
    assert status["windows_closed"] == 3
    assert JOINT in status["alerts"]
    assert status["last_window"]["features"][-1]["feature"] == JOINT
