"""``featurekit monitor merge``: real `featurekit serve` replicas on loopback, one verdict."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from scale_data import scale_frame

from featurekit.cli import main
from serving import Predictor
from tests.serving.live_server import Server, free_port, start_server

ROWS = 300


def _traffic() -> list[pd.DataFrame]:
    """Three replicas' traffic: two like the reference, one drifted (incomes x4)."""
    a = scale_frame(ROWS, seed=1).drop(columns="id")
    b = scale_frame(ROWS, seed=2).drop(columns="id")
    c = scale_frame(ROWS, seed=3).drop(columns="id")
    c["income"] = c["income"] * 4
    c["plan"] = "premium"
    return [a, b, c]


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    out: list[dict[str, object]] = (
        frame.astype(object).where(frame.notna(), None).to_dict("records")
    )
    return out


def _post(server: Server, frame: pd.DataFrame) -> None:
    import urllib.request

    body = json.dumps({"records": _records(frame)}).encode()
    request = urllib.request.Request(
        server.url + "/predict", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@pytest.fixture(scope="module")
def replicas(scale_artifact: Path, tmp_path_factory) -> Iterator[list[Server]]:
    folder = tmp_path_factory.mktemp("replicas")
    servers = [
        start_server(scale_artifact, folder / f"replica-{i}.log") for i in range(3)
    ]
    try:
        for server, frame in zip(servers, _traffic(), strict=True):
            _post(server, frame)
        yield servers
    finally:
        for server in servers:
            server.stop()


def _merge(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["monitor", "merge", *args])
    out, err = capsys.readouterr()
    return status, out, err


def _one_monitor(artifact: Path, frames: list[pd.DataFrame]) -> dict[str, object]:
    """What one monitor says when it alone is fed all the traffic, as one window."""
    total = sum(len(f) for f in frames)
    predictor = Predictor.load(artifact, monitor={"window": total})
    for frame in frames:
        predictor.predict_proba(_records(frame))
    status = predictor.monitor.status()
    predictor.close()
    return status


def test_merged_replicas_give_the_verdict_of_one_monitor_fed_all_traffic(
    replicas, scale_artifact, capsys
) -> None:
    status, out, _ = _merge(
        capsys, *(s.url for s in replicas), "--artifact", str(scale_artifact), "--json"
    )
    merged = json.loads(out)
    one = _one_monitor(scale_artifact, _traffic())
    assert merged["rows_total"] == one["rows_total"] == 3 * ROWS
    assert merged["last_window"]["rows"] == 3 * ROWS
    assert merged["last_window"]["verdict"] == one["last_window"]["verdict"] == "drift"
    assert merged["last_window"]["features"] == one["last_window"]["features"]
    assert merged["last_window"]["label_counts"] == one["last_window"]["label_counts"]
    assert status == 1  # drift, as featurekit drift says it
    assert [r["rows"] for r in merged["replicas"]] == [ROWS] * 3


def test_a_replica_reached_twice_is_counted_once(
    replicas, scale_artifact, capsys
) -> None:
    a, b = replicas[0], replicas[1]
    same_process = f"http://localhost:{a.port}"  # another address of replica a
    status, out, _ = _merge(
        capsys,
        a.url,
        b.url,
        a.url,
        same_process,
        "--artifact",
        str(scale_artifact),
        "--json",
    )
    merged = json.loads(out)
    one = _one_monitor(scale_artifact, _traffic()[:2])
    assert merged["rows_total"] == 2 * ROWS
    assert [r["counted"] for r in merged["replicas"]] == [True, True, False, False]
    assert merged["last_window"]["features"] == one["last_window"]["features"]
    assert status == (1 if one["last_window"]["verdict"] == "drift" else 0)


def test_the_text_summary_names_each_replica_and_the_result(
    replicas, scale_artifact, capsys
) -> None:
    urls = [s.url for s in replicas]
    status, out, _ = _merge(capsys, *urls, "--artifact", str(scale_artifact))
    assert status == 1
    for url in urls:
        assert f"{url}: replica " in out
    assert (
        out.strip().splitlines()[-1].startswith(f"result: drift over {3 * ROWS} rows")
    )
    assert "income" in out.strip().splitlines()[-1]


class _Fixed(BaseHTTPRequestHandler):
    """Answers every GET with the class's status and body."""

    status = 200
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fixed_server() -> Iterator[tuple[str, type[_Fixed]]]:
    handler = type("Handler", (_Fixed,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, b'{"error": "unauthorized"}', "HTTP 401: the admin token is missing"),
        (200, b'{"hello": "world"}', "is not a monitor snapshot"),
        (200, b"<html>nginx</html>", "the answer is not JSON"),
        (404, b"{}", "HTTP 404: no drift monitor there"),
    ],
)
def test_a_replica_answering_no_snapshot_is_an_error_naming_its_url(
    replicas, scale_artifact, fixed_server, capsys, status, body, message
) -> None:
    url, handler = fixed_server
    handler.status, handler.body = status, body
    code, out, err = _merge(
        capsys, replicas[0].url, url, "--artifact", str(scale_artifact)
    )
    assert code == 2
    assert out == ""
    assert f"{url}/monitor/snapshot" in err
    assert message in err


def test_an_unreachable_replica_is_an_error_naming_its_url(
    replicas, scale_artifact, capsys
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code, _, err = _merge(
        capsys, replicas[0].url, url, "--artifact", str(scale_artifact)
    )
    assert code == 2
    assert f"{url}/monitor/snapshot: cannot reach the replica" in err


def test_a_snapshot_of_another_profile_is_refused(
    replicas, scale_artifact, fixed_server, capsys
) -> None:
    url, handler = fixed_server
    snapshot = json.loads(replicas[0].get("/monitor/snapshot")[1])
    snapshot["profile_features"] = ["something", "else"]
    handler.body = json.dumps(snapshot).encode()
    code, _, err = _merge(capsys, url, "--artifact", str(scale_artifact))
    assert code == 2
    assert url in err and "another profile" in err


def test_the_token_comes_from_the_environment(
    scale_artifact, fixed_server, capsys, monkeypatch
) -> None:
    url, handler = fixed_server
    seen: list[str | None] = []
    original = handler.do_GET

    def record(self: _Fixed) -> None:
        seen.append(self.headers.get("Authorization"))
        original(self)

    handler.do_GET = record  # type: ignore[method-assign]
    monkeypatch.setenv("FEATUREKIT_ADMIN_TOKEN", "s3cret")
    _merge(capsys, url, "--artifact", str(scale_artifact))
    _merge(capsys, url, "--artifact", str(scale_artifact), "--token", "other")
    assert seen == ["Bearer s3cret", "Bearer other"]
