"""``POST /predict``'s fast path: the same answers as the general route, fewer steps.

`serving.routes_predict.answer` is called here as raw ASGI, as uvicorn calls it, and
its messages are compared with what the general route (Starlette, reached with a
query string) answers through the test client for the same request.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from live_server import GOOD
from starlette.testclient import TestClient

from serving import Limits, Predictor, create_app
from serving.limits import INLINE_BODY_BYTES
from serving.routes_predict import answer
from serving.state import AppState

RID = "fast-path-1"


@pytest.fixture(scope="module")
def predictor(http_artifact: Path) -> Predictor:
    return Predictor.load(http_artifact)


def raw(
    state: AppState, body: bytes, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> tuple[int | None, list[dict[str, Any]]]:
    """What `answer` returns and sends for one request, its body in two messages."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "query_string": query,
        "headers": headers,
    }
    half = len(body) // 2
    messages = [
        {"type": "http.request", "body": body[:half], "more_body": True},
        {"type": "http.request", "body": body[half:], "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    status = asyncio.run(answer(state, scope, receive, send))
    return status, sent


def app_state(predictor: Predictor, limits: Limits) -> AppState:
    state = AppState(limits)
    state.attach(predictor)
    return state


CASES = {
    "one record": {"records": [GOOD]},
    "a bare record": GOOD,
    "two records with ids": {"records": [GOOD, GOOD], "ids": ["a", "b"]},
    "a contract failure": {"records": [GOOD, {**GOOD, "age": 1500}]},
    "a missing column": {"records": [{"income": 1.0}]},
    "no records": {"records": []},
    "a list": [GOOD],
    "nested values": {"records": [{**GOOD, "plan": ["a"]}]},
    "repeated ids": {"records": [GOOD, GOOD], "ids": ["a", "a"]},
    "over max_rows": {"records": [GOOD] * 6},
}


@pytest.mark.parametrize("payload", list(CASES.values()), ids=list(CASES))
def test_the_fast_path_answers_byte_for_byte_as_the_general_route(
    predictor: Predictor, payload: Any
) -> None:
    limits = Limits(max_rows=5)
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"x-request-id", RID.encode())]
    status, sent = raw(app_state(predictor, limits), body, headers)
    assert status is not None, "the fast path declined a plain JSON request"
    start, message = sent
    client = TestClient(create_app(predictor, limits=limits))
    # a query string takes the general route
    general = client.post(
        "/predict?on_error=raise",
        content=body,
        headers={"content-type": "application/json", "x-request-id": RID},
    )
    assert start["status"] == status == general.status_code
    assert message["body"] == general.content
    got = dict(start["headers"])
    assert got[b"content-type"] == b"application/json"
    assert int(got[b"content-length"]) == len(general.content)
    assert got[b"x-featurekit-model"] == general.headers["x-featurekit-model"].encode()
    if status == 503:  # pragma: no cover - never here, but a 503 says when to retry
        assert got[b"retry-after"] == b"1"


def test_an_empty_body_is_400_on_the_fast_path(predictor: Predictor) -> None:
    status, sent = raw(app_state(predictor, Limits()), b"", [])
    assert status == 400
    assert b"no body" in sent[1]["body"]


def test_a_body_over_the_limit_is_413_on_the_fast_path(predictor: Predictor) -> None:
    body = json.dumps({"records": [GOOD] * 20}).encode()
    status, sent = raw(app_state(predictor, Limits(max_body_bytes=100)), body, [])
    assert status == 413
    assert b"the limit is 100" in sent[1]["body"]


DECLINED = {
    "a query string": ([], b"on_error=split"),
    "gzip": ([(b"content-encoding", b"gzip")], b""),
    "not JSON": ([(b"content-type", b"text/plain")], b""),
    "binary tensors": ([(b"inference-header-content-length", b"3")], b""),
    "a bad Content-Length": ([(b"content-length", b"12x")], b""),
    "a Content-Length over the limit": ([(b"content-length", b"99999999")], b""),
}


@pytest.mark.parametrize(
    ("headers", "query"), list(DECLINED.values()), ids=list(DECLINED)
)
def test_the_fast_path_leaves_everything_else_to_the_general_route(
    predictor: Predictor, headers: list[tuple[bytes, bytes]], query: bytes
) -> None:
    body = json.dumps(GOOD).encode()
    status, sent = raw(app_state(predictor, Limits()), body, headers, query)
    assert status is None
    assert sent == []


def test_declined_requests_are_still_answered_by_the_app(
    predictor: Predictor,
) -> None:
    client = TestClient(create_app(predictor))
    packed = gzip.compress(json.dumps(GOOD).encode())
    r = client.post("/predict", content=packed, headers={"content-encoding": "gzip"})
    assert r.status_code == 200
    assert r.json()["labels"] == predictor.predict(GOOD).tolist()
    r = client.post("/predict", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def scoring_threads(p: Predictor) -> list[str]:
    """The names of the threads that score with `p`, filled as it scores."""
    threads: list[str] = []

    def recorded(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            threads.append(threading.current_thread().name)
            return real(*args, **kwargs)

        return call

    # one record may be batched with others (`serving.batching`), several not
    p.score = recorded(p.score)  # type: ignore[method-assign]
    p.score_together = recorded(p.score_together)  # type: ignore[method-assign]
    return threads


@pytest.mark.parametrize(
    ("rows", "where"),
    [(1, "the event loop"), (INLINE_BODY_BYTES // 20, "a worker thread")],
)
def test_small_bodies_are_scored_on_the_event_loop_larger_ones_on_worker_threads(
    http_artifact: Path, rows: int, where: str
) -> None:
    p = Predictor.load(http_artifact)
    threads = scoring_threads(p)
    body = json.dumps({"records": [GOOD] * rows}).encode()
    assert (len(body) > INLINE_BODY_BYTES) == (where == "a worker thread")
    status, _ = raw(app_state(p, Limits()), body, [])
    assert status == 200
    on_pool = threads[0].startswith("featurekit-http")
    assert on_pool == (where == "a worker thread"), threads


def test_fast_path_requests_are_counted_in_the_metrics(predictor: Predictor) -> None:
    client = TestClient(create_app(predictor))
    for _ in range(3):
        assert client.post("/predict", json=GOOD).status_code == 200
    assert client.post("/predict", json={**GOOD, "age": 1500}).status_code == 422
    text = client.get("/metrics").text
    assert 'featurekit_requests_total{endpoint="/predict",status="200"} 3.0' in text
    assert 'featurekit_requests_total{endpoint="/predict",status="422"} 1.0' in text
    assert "featurekit_rows_scored_total 3.0" in text


def stalled(state: AppState, seconds: float) -> tuple[int | None, list[Any], float]:
    """`answer` for a body whose second half never comes; and how long it took."""
    body = json.dumps(GOOD).encode()
    sent: list[dict[str, Any]] = []

    async def run() -> tuple[int | None, float]:
        loop = asyncio.get_running_loop()
        first = [{"type": "http.request", "body": body[:5], "more_body": True}]

        async def receive() -> dict[str, Any]:
            if first:
                return first.pop()
            await asyncio.sleep(seconds)  # the client stalls
            return {"type": "http.request", "body": body[5:], "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
        start = loop.time()
        status = await answer(state, scope, receive, send)
        return status, loop.time() - start

    status, took = asyncio.run(run())
    return status, sent, took


def test_a_body_slower_than_the_timeout_is_408_on_the_fast_path(
    predictor: Predictor,
) -> None:
    status, sent, took = stalled(app_state(predictor, Limits(timeout=0.3)), 30)
    assert status == 408
    assert b"took over 0.3 s to arrive" in sent[1]["body"]
    assert 0.3 <= took < 2


def test_a_body_within_the_timeout_is_scored_on_the_fast_path(
    predictor: Predictor,
) -> None:
    status, sent, _ = stalled(app_state(predictor, Limits(timeout=5)), 0.3)
    assert status == 200
    assert json.loads(sent[1]["body"])["labels"] == predictor.predict(GOOD).tolist()


def test_a_request_cancelled_by_the_server_is_not_answered_408(
    predictor: Predictor,
) -> None:
    state = app_state(predictor, Limits(timeout=5))

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            await asyncio.sleep(30)
            raise AssertionError("never reached")

        async def send(message: dict[str, Any]) -> None:
            raise AssertionError(f"answered {message}")

        scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
        task = asyncio.create_task(answer(state, scope, receive, send))
        await asyncio.sleep(0.2)
        task.cancel()  # as uvicorn does at shutdown
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())


@pytest.mark.parametrize(
    ("rows", "where"),
    [(1, "the event loop"), (INLINE_BODY_BYTES // 20, "a worker thread")],
)
def test_infer_scores_small_bodies_on_the_event_loop_larger_ones_on_threads(
    http_artifact: Path, rows: int, where: str
) -> None:
    p = Predictor.load(http_artifact)
    threads = scoring_threads(p)
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": name,
                    "datatype": "FP64"
                    if name == "income"
                    else "BYTES"
                    if isinstance(value, str)
                    else "INT64",
                    "shape": [rows],
                    "data": [value] * rows,
                }
                for name, value in GOOD.items()
            ]
        }
    ).encode()
    assert (len(body) > INLINE_BODY_BYTES) == (where == "a worker thread")
    client = TestClient(create_app(p))
    r = client.post("/v2/models/loans/infer", content=body)
    assert r.status_code == 200, r.text
    on_pool = threads[0].startswith("featurekit-http")
    assert on_pool == (where == "a worker thread"), threads
