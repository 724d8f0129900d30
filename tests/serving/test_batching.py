"""Dynamic batching (`serving.batching`): concurrent one-record requests in one run.

Every request must still get what it would have got alone, byte for byte: the same
answer, the same error, the same counts. The end-to-end test sends one mixed stream
from 8 concurrent clients to a real server, batching on, and to one started with
``--no-batching``, and compares every answer.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import http_frame
from live_server import GOOD, Server, start_server
from starlette.testclient import TestClient

from featurekit.golden.batches import rows_independent
from serving import Predictor, create_app


def _records(n: int, seed: int) -> list[dict[str, Any]]:
    frame = http_frame(n, seed)
    out = []
    for row in frame.to_dict("records"):
        out.append(
            {
                k: (None if isinstance(v, float) and np.isnan(v) else v)
                for k, v in row.items()
            }
        )
    return [{**r, "age": int(r["age"])} for r in out]


def _stream(n: int) -> list[bytes]:
    """One-record requests, with every few a refusal or a request of several."""
    bodies = []
    for i, record in enumerate(_records(n, seed=7)):
        if i % 17 == 3:
            record = {**record, "age": 1500}  # a contract failure: 422
        elif i % 23 == 5:
            record = {**record, "plan": "platinum"}  # unknown to the model
        elif i % 29 == 7:
            record = {k: v for k, v in record.items() if k != "region"}  # absent
        elif i % 31 == 9:
            bodies.append(b'{"records": [')  # not JSON: 400
            continue
        elif i % 37 == 11:
            bodies.append(json.dumps({"records": [record, GOOD]}).encode())
            continue
        body = {"records": [record]} if i % 2 else record
        bodies.append(json.dumps(body).encode())
    return bodies


def _send_all(server: Server, bodies: list[bytes], clients: int) -> dict[int, Any]:
    """Each body once, from `clients` keep-alive connections at once."""
    answers: dict[int, Any] = {}
    errors: list[BaseException] = []

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            for i in range(k, len(bodies), clients):
                conn.request(
                    "POST",
                    "/predict",
                    body=bodies[i],
                    headers={
                        "content-type": "application/json",
                        "x-request-id": f"req-{i}",
                    },
                )
                r = conn.getresponse()
                answers[i] = (r.status, r.read())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return answers


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


#: The counters that must not depend on batching: what was read, noticed, scored.
COUNTED = [
    'featurekit_requests_total{endpoint="/predict",status="200"}',
    'featurekit_requests_total{endpoint="/predict",status="422"}',
    'featurekit_requests_total{endpoint="/predict",status="400"}',
    "featurekit_rows_scored_total",
    "featurekit_rows_read_total",
]


@pytest.fixture(scope="module")
def two_servers(http_artifact: Path, tmp_path_factory: Any) -> Any:
    logs = tmp_path_factory.mktemp("batching")
    batched = start_server(http_artifact, logs / "on.log", "--log-level", "warning")
    alone = start_server(
        http_artifact, logs / "off.log", "--no-batching", "--log-level", "warning"
    )
    yield batched, alone
    for s in (batched, alone):
        s.stop()
        assert "Traceback" not in s.log.read_text(), s.log.read_text()


def test_concurrent_requests_get_what_they_would_get_alone(two_servers: Any) -> None:
    batched, alone = two_servers
    bodies = _stream(3000)
    got = _send_all(batched, bodies, clients=8)
    expected = _send_all(alone, bodies, clients=1)
    assert len(got) == len(expected) == len(bodies)
    statuses = {s for s, _ in expected.values()}
    assert {200, 400, 422} <= statuses, statuses  # the stream has every kind
    differ = [i for i in range(len(bodies)) if got[i] != expected[i]]
    assert not differ, (len(differ), got[differ[0]], expected[differ[0]])
    on, off = batched.get("/metrics")[1].decode(), alone.get("/metrics")[1].decode()
    for name in COUNTED:
        assert _metric(on, name) == _metric(off, name), name
    # and batches did form: more requests than runs of the graph
    runs = _metric(on, "featurekit_batches_total")
    requests = _metric(on, "featurekit_batched_requests_total")
    assert 0 < runs < requests, (runs, requests)
    assert "featurekit_batches_total" not in off


def test_the_monitor_and_the_tally_count_batched_rows_as_single_ones(
    http_artifact: Path,
) -> None:
    records = _records(600, seed=3)
    records[5] = {**records[5], "region": "west"}  # unseen: noticed in the tally
    together = Predictor.load(http_artifact, monitor={"window": 200})
    alone = Predictor.load(http_artifact, monitor={"window": 200})
    outputs = together.outputs
    for start in range(0, len(records), 50):  # batches that fill windows evenly
        chunk = records[start : start + 50]
        scores, kept, refused = together.score_together(chunk, outputs)
        assert refused == []
        assert kept == list(range(len(chunk)))
        for i, record in enumerate(chunk):
            one = alone.score(record, outputs)
            for name in outputs:
                assert one[name].tobytes() == scores[name][i : i + 1].tobytes()
    assert together.tally == alone.tally
    assert together.tally.unseen == {"region": 1}
    a, b = together.monitor, alone.monitor
    assert a is not None and b is not None
    assert len(a.history) == len(b.history) == 3
    for x, y in zip(a.history, b.history, strict=True):
        assert _drift(x) == _drift(y)


def _drift(window: dict[str, Any]) -> Any:
    """A window's verdicts and effects, without its times."""
    return json.dumps(
        {k: v for k, v in window.items() if "time" not in k and "at" != k[-2:]},
        sort_keys=True,
        default=str,
    )


def test_records_the_one_row_path_defers_are_left_to_be_scored_alone(
    http_artifact: Path,
) -> None:
    p = Predictor.load(http_artifact)
    records = [GOOD, {**GOOD, "age": 1500}, {"income": 1.0}, GOOD]
    scores, kept, refused = p.score_together(records, p.outputs)
    assert refused == []
    assert kept == [0, 3]
    assert len(scores["label"]) == 2
    assert p.tally.rows == 2  # the refused ones are counted when scored alone


def test_the_golden_rows_decide_whether_a_model_may_batch(http_artifact: Path) -> None:
    p = Predictor.load(http_artifact)
    assert p.golden is not None and len(p.golden.records) > 64
    assert p.rows_independent
    session = p._session

    class Neighbourly:
        """A runtime whose answer for a row moves with its batch's size: a fault no
        featurekit graph makes, so it is put in by hand."""

        def run(self, feeds: Any, n: int, names: Any) -> Any:
            out = session.run(feeds, n, names)
            return [o + 1e-9 * (n - 1) if o.dtype.kind == "f" else o for o in out]

        def __getattr__(self, name: str) -> Any:
            return getattr(session, name)

    q = Predictor.load(http_artifact)
    q._session = Neighbourly()  # type: ignore[assignment]
    assert not q.rows_independent
    client = TestClient(create_app(q))
    for _ in range(3):
        assert client.post("/predict", json=GOOD).status_code == 200
    metrics = client.get("/metrics").text
    assert "featurekit_batches_total" not in metrics  # scored alone, every one


def test_without_golden_rows_nothing_is_batched(http_artifact: Path) -> None:
    p = Predictor.load(http_artifact)
    p.golden = None
    assert not rows_independent(None, lambda r, n: [], [])
    assert not p.rows_independent


def test_a_logged_model_is_never_batched(logged_artifact: Path, tmp_path: Path) -> None:
    p = Predictor.load(logged_artifact, log=tmp_path / "log")
    with pytest.raises(ValueError, match="without a log"):
        p.score_together([GOOD], p.outputs)
    try:
        client = TestClient(create_app(p))
        assert client.post("/predict", json=GOOD).status_code == 200
        assert "featurekit_batches_total" not in client.get("/metrics").text
    finally:
        p.close()
