"""Live drift monitoring: windows, persistence, snapshots, /monitor, metrics and alert rules."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from live_server import GOOD
from starlette.testclient import TestClient

import serving
from featurekit.monitoring.profile import build_profile
from serving import Predictor, create_app
from serving.monitor import Monitor


def _profile(seed: int = 0):
    rng = np.random.default_rng(seed)
    return build_profile({"x": rng.normal(size=5000)}, {}, seed=seed)


def _feed(monitor: Monitor, values: np.ndarray, batch: int = 50) -> None:
    for start in range(0, len(values), batch):
        monitor.observe({"x": values[start : start + batch].reshape(-1, 1)})


def test_windows_close_every_n_rows_and_keep_a_history() -> None:
    m = Monitor(_profile(), window=200, history=3)
    _feed(m, np.random.default_rng(1).normal(size=1000))
    assert m.windows_closed == 5
    assert len(m.history) == 3
    assert m.last["rows"] == 200
    assert m.last["verdict"] == "no drift"
    assert m.status()["rows_total"] == 1000


def test_windows_also_close_by_time_even_without_traffic() -> None:
    m = Monitor(_profile(), window=10_000, seconds=0.05)
    _feed(m, np.random.default_rng(1).normal(size=150))
    time.sleep(0.1)
    status = m.status()  # reading the status closes an expired window
    assert status["windows_closed"] == 1
    assert status["last_window"]["rows"] == 150


def test_a_short_time_window_reports_insufficient_data() -> None:
    m = Monitor(_profile(), window=10_000, seconds=0.01)
    _feed(m, np.full(19, 9.0))  # wildly drifted, but only 19 rows (20 decide)
    time.sleep(0.05)
    m.tick()
    assert m.last["verdict"] == "insufficient data"
    assert not m.status()["alert"]


def test_an_alert_needs_drift_in_two_of_the_last_three_windows() -> None:
    rng = np.random.default_rng(2)
    m = Monitor(_profile(), window=500)
    _feed(m, rng.normal(size=500) + 1.0)  # drifted window
    assert m.last["verdict"] == "drift"
    assert not m.alerts["x"]  # one window is not enough
    _feed(m, rng.normal(size=500))
    assert not m.alerts["x"]
    _feed(m, rng.normal(size=500) + 1.0)  # drift in 2 of the last 3
    assert m.alerts["x"]
    assert m.status()["alerts"] == ["x"]
    _feed(m, rng.normal(size=1000))  # two clean windows: 1 of the last 3
    assert not m.alerts["x"]


def test_snapshots_of_replicas_merge_into_the_counts_of_one() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=900)
    one = Monitor(_profile(), window=10_000)
    _feed(one, values)
    a, b = Monitor(_profile(), window=10_000), Monitor(_profile(), window=10_000)
    _feed(a, values[:400])
    _feed(b, values[400:])
    a.merge(b.snapshot())
    assert (
        a.snapshot()["current"]["bins"]["x"]["counts"]
        == (one.snapshot()["current"]["bins"]["x"]["counts"])
    )
    assert a.current.rows == 900


def test_merging_a_snapshot_of_another_profile_is_refused() -> None:
    other = build_profile({}, {"c": ["a", "b"] * 100})
    with pytest.raises(ValueError, match="another profile"):
        Monitor(_profile()).merge(Monitor(other).snapshot())


def test_monitor_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="persistence"):
        Monitor(_profile(), persistence=(3, 2))
    with pytest.raises(ValueError, match="window"):
        Monitor(_profile(), window=0)


# -- in the predictor and the server -----------------------------------------------------
@pytest.fixture
def client(http_artifact: Path) -> TestClient:
    p = Predictor.load(http_artifact, monitor={"window": 100})  # rows per window
    return TestClient(create_app(p))


def _traffic(client: TestClient, rows: list[dict], batch: int = 20) -> None:
    for start in range(0, len(rows), batch):
        r = client.post("/predict", json={"records": rows[start : start + batch]})
        assert r.status_code == 200, r.text


def _rows(n: int, seed: int, income_scale: float = 1.0, plan: str | None = None):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        out.append(
            {
                "income": float(rng.lognormal(10.5, 0.5) * income_scale),
                "age": int(rng.integers(18, 90)),
                "plan": plan or str(rng.choice(["basic", "plus", "premium"])),
                "region": str(rng.choice(["north", "south", "east"])),
            }
        )
        if i % 9 == 0:
            out[-1]["income"] = None
    return out


def test_every_scored_row_reaches_the_monitor(client: TestClient) -> None:
    _traffic(client, _rows(250, seed=5))
    status = client.get("/monitor").json()
    assert status["windows_closed"] == 2
    assert status["current_window_rows"] == 50
    assert status["last_window"]["verdict"] == "no drift"
    features = [r["feature"] for r in status["last_window"]["features"]]
    assert features == [
        "income",
        "age",
        "plan",
        "region",
        "output:label",
        "output:score",
        "(multivariate)",
    ]


def test_refused_rows_are_not_counted(client: TestClient) -> None:
    r = client.post("/predict", json={"records": [GOOD, {**GOOD, "age": 1500}]})
    assert r.status_code == 422
    assert client.get("/monitor").json()["current_window_rows"] == 0
    client.post(
        "/predict?on_error=split", json={"records": [GOOD, {**GOOD, "age": 1500}]}
    )
    assert client.get("/monitor").json()["current_window_rows"] == 1


def test_drifted_traffic_alerts_in_monitor_and_metrics(client: TestClient) -> None:
    _traffic(client, _rows(300, seed=6, income_scale=3.0, plan="premium"))
    status = client.get("/monitor").json()
    assert status["alert"]
    assert "income" in status["alerts"]
    assert "plan" in status["alerts"]
    text = client.get("/metrics").text
    assert 'featurekit_drift_alert{feature="income"} 1.0' in text
    assert 'featurekit_drift_flag{feature="plan"} 1.0' in text
    assert "featurekit_drift_dataset_alert 1.0" in text
    assert re.search(r'featurekit_drift_score\{feature="income"\} [0-9.e-]+', text)
    assert "featurekit_mean_confidence" in text
    assert 'featurekit_prediction_share{label="0"}' in text


TOKEN = "s3cret-token"


@pytest.fixture
def admin(http_artifact: Path) -> TestClient:
    p = Predictor.load(http_artifact, monitor={"window": 100})
    return TestClient(
        create_app(p, admin_token=TOKEN),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


def test_a_replicas_snapshot_merges_once_and_then_only_what_is_new(
    admin: TestClient, client: TestClient
) -> None:
    _traffic(client, _rows(60, seed=7))  # the other replica
    snap = client.get("/monitor/snapshot").json()
    assert snap["current"]["rows"] == 60
    first = admin.post("/monitor/snapshot", json=snap)
    assert first.status_code == 200
    assert first.json()["rows_added"] == 60
    again = admin.post("/monitor/snapshot", json=snap)  # the same cumulative counts
    assert again.json()["rows_added"] == 0
    assert admin.get("/monitor").json()["current_window_rows"] == 60
    _traffic(client, _rows(50, seed=8))
    later = admin.post("/monitor/snapshot", json=client.get("/monitor/snapshot").json())
    assert later.json()["rows_added"] == 50  # 110 rows: one window of 100 closed
    assert admin.get("/monitor").json()["current_window_rows"] == 0


def test_a_servers_own_snapshot_is_refused(admin: TestClient) -> None:
    _traffic(admin, _rows(20, seed=7))
    r = admin.post("/monitor/snapshot", json=admin.get("/monitor/snapshot").json())
    assert r.status_code == 400
    assert "own snapshot" in r.json()["error"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s: s["current"].update(rows=-(10**15)), "whole numbers"),
        (lambda s: s["current"].update(rows=2**64), "whole numbers"),
        (lambda s: s["current"]["bins"]["income"].update(rows=7), "add up"),
        (lambda s: s["current"]["bins"]["income"].update(total="1e999"), "finite"),
        (lambda s: s.pop("replica"), "names no replica"),
        (lambda s: s.update(current={}, total={}), "whole numbers"),
    ],
    ids=["negative", "2**64", "inconsistent", "inf", "no-replica", "empty"],
)
def test_a_malformed_snapshot_is_refused_and_changes_nothing(
    admin: TestClient, client: TestClient, change, match
) -> None:
    _traffic(client, _rows(40, seed=7))
    snap = client.get("/monitor/snapshot").json()
    change(snap)
    r = admin.post("/monitor/snapshot", json=snap)
    assert r.status_code == 400
    assert match in r.json()["error"]
    assert admin.get("/monitor").status_code == 200
    assert admin.get("/monitor").json()["current_window_rows"] == 0
    assert admin.get("/monitor/snapshot").status_code == 200


def test_snapshots_are_closed_without_an_admin_token(client: TestClient) -> None:
    snap = client.get("/monitor/snapshot").json()
    r = client.post("/monitor/snapshot", json=snap)
    assert r.status_code == 403
    assert "FEATUREKIT_ADMIN_TOKEN" in r.json()["error"]


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}"])
def test_snapshots_need_the_admin_token(http_artifact: Path, header) -> None:
    app = create_app(Predictor.load(http_artifact), admin_token=TOKEN)
    headers = {} if header is None else {"Authorization": header}
    r = TestClient(app).post("/monitor/snapshot", json={}, headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_monitor_merges_at_most_max_replicas() -> None:
    from serving.monitor import MAX_REPLICAS

    hub = Monitor(_profile(), window=10**9)
    for _ in range(MAX_REPLICAS):
        other = Monitor(_profile(), window=10**9)
        _feed(other, np.zeros(3))
        hub.merge(other.snapshot())
    extra = Monitor(_profile(), window=10**9)
    _feed(extra, np.zeros(3))
    with pytest.raises(ValueError, match="at most that many"):
        hub.merge(extra.snapshot())
    assert hub.open_rows == 3 * MAX_REPLICAS


def test_monitor_endpoint_is_404_when_monitoring_is_off(http_artifact: Path) -> None:
    client = TestClient(create_app(Predictor.load(http_artifact, monitor=False)))
    r = client.get("/monitor")
    assert r.status_code == 404
    assert "monitoring is off" in r.json()["error"]


def _exported(text: str) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_shipped_alert_rules_only_use_metrics_the_server_exports(
    client: TestClient, logged_artifact: Path, tmp_path: Path
) -> None:
    _traffic(client, _rows(300, seed=6, income_scale=3.0))
    exported = _exported(client.get("/metrics").text)
    # the outcome rules need a server with a prediction log and labels
    app = create_app(
        Predictor.load(logged_artifact, log=tmp_path / "log", monitor={"window": 100})
    )
    with TestClient(app) as logged:
        rows = _rows(40, seed=7)
        ids = [f"r{i}" for i in range(40)]
        assert (
            logged.post("/predict", json={"records": rows, "ids": ids}).status_code
            == 200
        )
        labels = {"ids": ids, "labels": [i % 2 for i in range(40)]}
        assert logged.post("/labels", json=labels).status_code == 200
        exported |= _exported(logged.get("/metrics").text)
    rules = yaml.safe_load((Path(serving.__file__).parent / "alerts.yml").read_text())
    names = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
            names |= set(re.findall(r"featurekit_[a-z_]+", rule["expr"]))
    assert names, "no rule uses a featurekit metric"
    assert names <= exported, sorted(names - exported)


def test_mixed_calls_share_one_window(http_artifact: Path) -> None:
    p = Predictor.load(http_artifact, monitor={"window": 10_000})
    for _ in range(300):  # predict, predict_proba and score ask for different outputs
        p.predict(GOOD)
        p.predict_proba(GOOD)
        p.score(GOOD, ["label"])
    assert p.monitor.status()["current_window_rows"] == 900
