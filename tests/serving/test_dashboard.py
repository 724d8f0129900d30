"""GET /dashboard: the live monitoring page of a real server, drawn by headless chromium.

A real ``python -m serving`` with ``--log`` answers traffic named by client ids; labels
follow for half of it. The page chromium draws must show the online accuracy and the
coverage the test works out itself from what it sent and what the server answered
(and that ``/monitor`` reports), one drift row per feature over the closed windows,
and reference nothing outside the server.
"""

from __future__ import annotations

import html
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from live_server import GOOD, Server, start_server
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.monitoring.profile import build_profile
from featurekit.outcomes.online import Online
from serving.dashboard_html import render
from serving.monitor import Monitor
from tests.browser import chromium

FEATURES = fk.FeatureSet(
    "loans",
    [
        fk.Numeric("income", scale="standard"),
        fk.Numeric("age", scale="standard"),
        fk.Categorical("plan", unknown="ignore"),
    ],
    version=3,
)
WINDOW = 100  # --monitor-window: 300 scored rows close three windows
SERVED, LABELLED = 300, 150


def frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.5, n).round(2),
            "age": rng.integers(18, 90, n).astype(float),
            "plan": rng.choice(["basic", "plus", "premium"], n),
        }
    )
    # a noisy linear rule: the model is right often, but not always
    score = np.log(x["income"]) - 10.5 + 0.6 * (x["plan"] == "premium")
    y = (score + rng.normal(0, 0.3, n) > 0).astype(int)
    return x, y.to_numpy()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    x, y = frame(600, seed=0)
    pipe = fk.make_pipeline(FEATURES, LogisticRegression(max_iter=500))
    pipe.fit(x[:400], y[:400])
    path = tmp_path_factory.mktemp("dashboard") / "loans"
    fk.export(pipe, path, reference=x[:400], holdout=x[400:], holdout_y=y[400:])
    return path


def post(server: Server, path: str, payload: object) -> dict:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200
        return json.loads(r.read())


@contextmanager
def serving(
    artifact: Path, tmp: Path, *args: str, log: bool = True
) -> Iterator[Server]:
    """A real server on `artifact` (with ``--log tmp/log`` unless `log` is False).

    It must stop without a traceback in its output.
    """
    logging = ("--log", str(tmp / "log")) if log else ()
    server = start_server(
        artifact, tmp / "server.log", *logging, *args, "--log-level", "warning"
    )
    try:
        yield server
    finally:
        server.stop()
        text = server.log.read_text()
        assert "Traceback" not in text, text


@pytest.fixture(scope="module")
def logged(artifact, tmp_path_factory) -> Iterator[tuple[Server, float, Path]]:
    """A server with --log after SERVED rows and LABELLED true labels.

    With the accuracy the test worked out, and the log directory.
    """
    tmp = tmp_path_factory.mktemp("logged")
    with serving(artifact, tmp, "--monitor-window", str(WINDOW)) as server:
        x, y = frame(SERVED, seed=1)
        ids = [f"loan-{i}" for i in range(SERVED)]
        answered: list[int] = []
        for lo in range(0, SERVED, WINDOW):
            got = post(
                server,
                "/predict",
                {
                    "records": x[lo : lo + WINDOW].to_dict("records"),
                    "ids": ids[lo : lo + WINDOW],
                },
            )
            assert got["ids"] == ids[lo : lo + WINDOW]
            answered += got["labels"]
        sent = post(
            server,
            "/labels",
            {"ids": ids[:LABELLED], "labels": [str(v) for v in y[:LABELLED]]},
        )
        assert sent["accepted"] == LABELLED and sent["unknown"] == 0
        accuracy = float(np.mean(np.asarray(answered[:LABELLED]) == y[:LABELLED]))
        assert 0.6 < accuracy < 0.95  # neither a default nor a perfect model
        yield server, accuracy, tmp / "log"


@pytest.fixture(scope="module")
def dom(logged, system_tool, tmp_path_factory) -> str:
    system_tool("chromium", "chromium", "the dashboard test drives a real browser")
    server, _, _ = logged
    profile = tmp_path_factory.mktemp("chromium")
    return chromium(server.url + "/dashboard", profile, "--dump-dom").stdout


def test_monitor_reports_the_accuracy_and_coverage_of_what_was_sent(logged) -> None:
    server, accuracy, _ = logged
    status, body = server.get("/monitor")
    assert status == 200
    online = json.loads(body)["online"]
    assert online["metrics"]["accuracy"]["value"] == pytest.approx(accuracy)
    assert online["label_coverage"] == pytest.approx(LABELLED / SERVED)


def test_browser_shows_online_accuracy_with_its_interval(logged, dom) -> None:
    _, accuracy, _ = logged
    row = re.search(r'<tr data-metric="accuracy">(.*?)</tr>', dom, re.S)
    assert row is not None, dom[:3000]
    value = re.search(r'<td class="value[^"]*">([^<]*)</td>', row.group(1))
    assert value is not None and value.group(1) == f"{accuracy:.4f}"
    low, high = map(float, re.search(r"\[([\d.]+), ([\d.]+)\]", row.group(1)).groups())
    assert low < accuracy < high
    # the chart of accuracy over blocks of labelled rows, with its band
    chart = re.search(r"<h3>accuracy</h3>(<svg.*?</svg>)", dom, re.S)
    assert chart is not None and "<polygon" in chart.group(1)


def test_browser_agrees_with_fk_evaluate_over_the_log(artifact, logged, dom) -> None:
    """One window of every labelled row: fk.evaluate's figure is the page's."""
    _, _, directory = logged
    deadline = time.monotonic() + 30
    while (table := fk.PredictionLog(directory).predictions()) is None or (
        table.num_rows < SERVED
    ):  # the server writes its buffer every second
        assert time.monotonic() < deadline, "the log never held every served row"
        time.sleep(0.2)
    report = fk.evaluate(artifact, directory, window=LABELLED)
    assert report.labelled == LABELLED and report.served == SERVED
    (window,) = report.to_dict()["windows"]
    row = re.search(r'<tr data-metric="accuracy">(.*?)</tr>', dom, re.S).group(1)
    assert f">{window['accuracy']:.4f}<" in row
    assert f"[{window['accuracy_low']:.4f}, {window['accuracy_high']:.4f}]" in row


def test_browser_shows_the_label_coverage(dom) -> None:
    shown = re.search(r'id="coverage-value">([^<]*)<', dom)
    assert shown is not None
    assert shown.group(1) == f"{100 * LABELLED / SERVED:.1f} %"
    assert f"{LABELLED} of {SERVED} served rows labelled" in dom


def test_browser_shows_a_drift_row_per_feature_over_the_closed_windows(dom) -> None:
    table = re.search(r'<table id="drift">(.*?)</table>', dom, re.S)
    assert table is not None
    features = re.findall(r'<tr data-feature="([^"]+)">', table.group(1))
    assert {"income", "age", "plan"} <= set(features)
    assert re.findall(r"<th>#(\d+)</th>", table.group(1)) == ["1", "2", "3"]
    for name in ("income", "age", "plan"):
        row = re.search(rf'<tr data-feature="{name}">(.*?)</tr>', table.group(1))
        assert row is not None
        assert len(re.findall(r"data-verdict=", row.group(1))) == SERVED // WINDOW


def test_browser_shows_confidence_against_the_profile(artifact, dom) -> None:
    profile = json.loads((artifact / "profile.json").read_text())
    reference = profile["features"]["output:score"]["confidence_mean"]
    shown = re.search(r'id="confidence-now">(.*?)</p>', dom, re.S)
    assert shown is not None
    assert f"in the reference profile: {reference:.4f}" in shown.group(1)
    last = float(re.search(r"<b>([\d.]+)</b>", shown.group(1)).group(1))
    assert 0.5 <= last <= 1.0  # a mean top-class probability of two classes


def test_page_references_nothing_outside_the_server(logged) -> None:
    server, _, _ = logged
    with urllib.request.urlopen(server.url + "/dashboard", timeout=30) as r:
        page = r.read().decode()
        policy = r.headers["Content-Security-Policy"]
    assert r.headers["Content-Type"].startswith("text/html")
    # no absolute or protocol-relative URL, no loaded resource of any kind
    for pattern in (
        r"https?:",
        r"//[\w.-]",
        r"\bsrc=",
        r"\bhref=",
        r"url\(",
        "@import",
    ):
        assert not re.search(pattern, page), pattern
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy


def test_without_a_log_the_page_says_so(artifact, tmp_path_factory) -> None:
    with serving(artifact, tmp_path_factory.mktemp("nolog"), log=False) as server:
        status, body = server.get("/dashboard")
        assert status == 200
        page = body.decode()
        assert 'id="no-log"' in page
        assert "start it with --log DIR" in page
        assert 'id="no-windows"' in page  # nothing scored yet: no window closed
        assert server.get("/labels")[0] in (404, 405)


def test_with_a_log_but_no_labels_the_page_says_so(artifact, tmp_path_factory) -> None:
    with serving(artifact, tmp_path_factory.mktemp("nolabels")) as server:
        x, _ = frame(5, seed=2)
        post(server, "/predict", {"records": x.to_dict("records")})
        page = server.get("/dashboard")[1].decode()
        assert 'id="no-labels"' in page
        assert "0 of 5 served rows labelled" in page


def requests_to(server: Server, endpoint: str) -> float:
    """HTTP requests the server counted for `endpoint`, any status (``/metrics``)."""
    text = server.get("/metrics")[1].decode()
    pattern = rf'^featurekit_requests_total\{{endpoint="{re.escape(endpoint)}",[^}}]*\}} (\S+)$'
    return sum(float(v) for v in re.findall(pattern, text, re.M))


def test_script_polls_monitor_and_keeps_the_page_while_nothing_changes(
    logged, system_tool, tmp_path
) -> None:
    system_tool("chromium", "chromium", "the dashboard test drives a real browser")
    server, accuracy, _ = logged
    before = requests_to(server, "/monitor"), requests_to(server, "/dashboard")
    # 11 s of virtual time: the script asks /monitor at 5 s and at 10 s
    dom = chromium(
        server.url + "/dashboard",
        tmp_path,
        "--virtual-time-budget=11000",
        "--dump-dom",
    ).stdout
    after = requests_to(server, "/monitor"), requests_to(server, "/dashboard")
    assert after[0] - before[0] == 2
    assert after[1] - before[1] == 1  # nothing changed: no fresh page fetched
    assert dom.count('<main id="dashboard"') == 1
    assert f">{accuracy:.4f}<" in dom


def test_script_swaps_in_a_fresh_page_when_it_cannot_tell(
    artifact, system_tool, tmp_path
) -> None:
    """Without a monitor, /monitor answers 404 and every poll fetches the page again."""
    system_tool("chromium", "chromium", "the dashboard test drives a real browser")
    with serving(artifact, tmp_path, "--no-monitor") as server:
        x, y = frame(40, seed=3)
        got = post(server, "/predict", {"records": x.to_dict("records")})
        post(server, "/labels", {"ids": got["ids"], "labels": [str(v) for v in y]})
        dom = chromium(
            server.url + "/dashboard",
            tmp_path / "chromium",
            "--virtual-time-budget=11000",
            "--dump-dom",
        ).stdout
        assert requests_to(server, "/monitor") == 2
        assert requests_to(server, "/dashboard") == 3  # the load and two swaps
        # the swapped-in page is whole: one dashboard, its figures, monitoring off
        assert dom.count('<main id="dashboard"') == 1
        assert 'id="no-monitor"' in dom
        assert "40 of 40 served rows labelled" in dom
        assert '<tr data-metric="accuracy">' in dom


# a feature name and a metric that would run script if they reached the page raw
HOSTILE = '<img src=x onerror="document.body.dataset.injected=1">&'


def test_render_escapes_what_the_model_and_clients_named(system_tool, tmp_path) -> None:
    """Real monitor windows over a hostile feature name, drawn by chromium from a file."""
    system_tool("chromium", "chromium", "the dashboard test drives a real browser")
    rng = np.random.default_rng(0)
    monitor = Monitor(build_profile({HOSTILE: rng.normal(size=500)}, {}), window=100)
    for shift in (0.0, 3.0):
        monitor.observe({HOSTILE: rng.normal(shift, 1, (100, 1))})
    online = Online("classifier", ["<b>yes</b>", "no"], window=100)
    online.served(["a", "b"], {"label": np.array(["<b>yes</b>", "no"])})
    online.label(["a", "b"], ["<b>yes</b>", "<b>yes</b>"])
    page = render(
        {
            "model": {"name": HOSTILE, "version": HOSTILE, "sha256": HOSTILE},
            "generated": HOSTILE,
            "log": True,
            "monitor": {
                "status": monitor.status(),
                "windows": monitor.recent(),
                "confidence_reference": None,
            },
            "online": {**online.status(), "blocks": online.blocks()},
        }
    )
    assert HOSTILE not in page
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    dom = chromium(tmp_path / "page.html", tmp_path / "chromium", "--dump-dom").stdout
    assert "data-injected" not in dom
    rows = re.findall(r'<tr data-feature="([^"]+)">.*?</tr>', dom, re.S)
    assert rows == [html.escape(HOSTILE)]
    verdicts = re.findall(r'data-verdict="([^"]+)"', dom)
    assert verdicts == ["ok", "drift"]  # the second window moved by 3 sd
    assert '<tr data-metric="accuracy">' in dom and ">0.5000<" in dom


def test_regressor_page_shows_its_metrics_and_no_confidence(
    regressor_artifact, tmp_path
) -> None:
    with serving(regressor_artifact, tmp_path) as server:
        records = [{**GOOD, "age": 20 + i} for i in range(10)]
        got = post(server, "/predict", {"records": records})
        truth = [p + 1.0 for p in got["predictions"]]  # every answer 1.0 too low
        post(server, "/labels", {"ids": got["ids"], "labels": truth})
        page = server.get("/dashboard")[1].decode()
        mae = re.search(
            r'<tr data-metric="mae"><th>mae</th><td class="value[^"]*">([^<]*)<', page
        )
        assert mae is not None and mae.group(1) == "1.0000"
        assert '<tr data-metric="rmse">' in page and '<tr data-metric="r2">' in page
        assert "accuracy" not in page
        assert 'id="no-confidence"' in page


def test_a_figure_beyond_the_decay_line_is_marked(artifact, tmp_path) -> None:
    """Labels from a flipped concept: accuracy falls far below the holdout's line."""
    holdout = json.loads((artifact / "manifest.json").read_text())["holdout"]
    line = holdout["metrics"]["accuracy"]["value"] - 0.02  # docs: margin 0.02
    with serving(artifact, tmp_path) as server:
        x, y = frame(200, seed=4)
        got = post(server, "/predict", {"records": x.to_dict("records")})
        post(server, "/labels", {"ids": got["ids"], "labels": [str(1 - v) for v in y]})
        page = server.get("/dashboard")[1].decode()
    row = re.search(r'<tr data-metric="accuracy">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'<td class="value worse">0\.[0-4]\d{3}</td>', row), row
    assert f'<td class="line">{line:.4f}</td>' in row
    # the chart draws the same line
    chart = re.search(r"<h3>accuracy</h3>(<svg.*?</svg>)", page, re.S).group(1)
    assert "decay line" in chart
