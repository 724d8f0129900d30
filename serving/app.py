"""The ASGI app: Open Inference Protocol (KServe v2) REST, ``POST /predict`` and metrics.

Built on Starlette, with orjson for JSON. Every request body is read with a size limit
and a timeout on the event loop; decoding, the contract check, the model and encoding
then run together in a worker thread, so inference never blocks the loop.

Errors are ``{"error": "..."}`` with the status the protocol asks for:

======================================  ======
malformed request (JSON, shape, types)   400
unknown model, version or path           404
wrong method                             405
body over ``max_body_bytes``             413
more rows than ``max_rows``              413
not JSON (content type)                  415
contract failure (+ ``failures`` table)  422
model not loaded yet                     503
inference over ``timeout`` seconds       503
======================================  ======

This module owns the mapping from exceptions to status codes.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from featurekit._version import __version__
from featurekit.errors import ArtifactError, ContractError

from .metrics import Metrics
from .oip import RequestError, decode_infer, encode_outputs, model_metadata
from .predictor import Predictor, Split

__all__ = ["Limits", "create_app"]

#: How many failures a 422 response lists (the count is always complete).
MAX_FAILURES_SHOWN = 1000
_JSON_TYPES = ("application/json", "text/json")


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server.

    Attributes
    ----------
    max_body_bytes : int
        Larger bodies get 413 before they are parsed.
    max_rows : int
        Larger batches get 413; split them.
    timeout : float
        Seconds to read a body, and seconds for the model to answer (503 after).
    """

    max_body_bytes: int = 8 * 1024 * 1024
    max_rows: int = 10_000
    timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Limits.{name} must be a positive int, got {value!r}."
                )
        if not (isinstance(self.timeout, int | float) and self.timeout > 0):
            raise ValueError(
                f"Limits.timeout must be > 0 seconds, got {self.timeout!r}."
            )


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": message, **extra}


def create_app(
    predictor: Predictor | str | os.PathLike[str],
    *,
    limits: Limits | None = None,
    threads: int | None = None,
    monitor: bool | dict[str, Any] = True,
) -> Any:
    """The ASGI app serving one model, for uvicorn or embedding in a service.

    Parameters
    ----------
    predictor : Predictor, str or Path
        A loaded `Predictor`, or an artifact directory to load in the background
        at startup (``/v2/health/ready`` answers 503 until it is loaded).
    limits : Limits, optional
        Body size, rows per request and timeout.
    threads : int, optional
        Passed to `Predictor.load` when `predictor` is a path.
    monitor : bool or dict
        Passed to `Predictor.load` when `predictor` is a path: drift windows
        (e.g. ``{"window": 500, "seconds": 60}``), or False for none.

    Returns
    -------
    starlette.applications.Starlette

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> app = create_app("no/such/artifact")
    >>> with TestClient(app) as client:
    ...     client.get("/v2/health/live").status_code
    200
    """
    try:
        import orjson
        from starlette.applications import Starlette
        from starlette.requests import ClientDisconnect, Request
        from starlette.responses import Response
        from starlette.routing import Route
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"The HTTP server needs {exc.name!r}: pip install 'featurekit[serve]'"
        ) from None
    limits = limits or Limits()
    pool = ThreadPoolExecutor(
        max(4, 2 * (os.cpu_count() or 1)), thread_name_prefix="featurekit-http"
    )
    metrics = Metrics()
    state: dict[str, Any] = {"predictor": None, "error": None}

    def attach(p: Predictor) -> None:
        state["predictor"] = p
        metrics.bind(p)

    def load(path: str | os.PathLike[str]) -> None:
        try:
            attach(Predictor.load(path, threads=threads, monitor=monitor))
        except (ArtifactError, OSError, ValueError) as exc:
            state["error"] = f"{type(exc).__name__}: {exc}"

    if isinstance(predictor, Predictor):
        attach(predictor)

    def respond(status: int, body: Any) -> Response:
        return Response(
            orjson.dumps(body), status_code=status, media_type="application/json"
        )

    def loaded() -> Predictor:
        p = state["predictor"]
        if p is None:
            reason = state["error"] or "the model is still loading"
            raise _HTTPError(503, f"Not ready: {reason}.")
        return p  # type: ignore[no-any-return]

    def model_for(request: Request) -> Predictor:
        p = loaded()
        name = request.path_params["name"]
        version = request.path_params.get("version")
        if name != p.name:
            raise _HTTPError(
                404, f"Unknown model {name!r}; this server serves {p.name!r}."
            )
        if version is not None and version != str(p.version):
            raise _HTTPError(
                404,
                f"Model {name!r} has no version {version!r}; it serves version "
                f"{p.version}.",
            )
        return p

    async def body_of(request: Request) -> bytes:
        if "inference-header-content-length" in request.headers:
            raise _HTTPError(400, "Binary tensor data is not supported. " + _BINARY)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype not in _JSON_TYPES and not ctype.endswith("+json"):
            hint = _BINARY if "octet-stream" in ctype else ""
            raise _HTTPError(
                415,
                f"Content-Type {ctype!r} is not JSON; send application/json. {hint}".strip(),
            )
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _HTTPError(400, f"Invalid Content-Length {declared!r}.")
            if int(declared) > limits.max_body_bytes:
                raise _too_large(int(declared))
        chunks, size = [], 0
        try:
            async with asyncio.timeout(limits.timeout):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limits.max_body_bytes:
                        raise _too_large(size)
                    chunks.append(chunk)
        except TimeoutError:
            raise _HTTPError(
                408, f"The request body took over {limits.timeout:g} s to arrive."
            ) from None
        if not size:
            raise _HTTPError(400, "The request has no body; send a JSON object.")
        return b"".join(chunks)

    def _too_large(size: int) -> _HTTPError:
        return _HTTPError(
            413,
            f"The request body is {size} bytes; the limit is {limits.max_body_bytes}. "
            "Split the batch.",
        )

    def parse(body: bytes) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            hint = ""
            if b"NaN" in body or b"Infinity" in body:
                hint = " NaN and Infinity are not JSON; send null for a missing value."
            raise _HTTPError(400, f"Malformed JSON: {exc}.{hint}") from None

    def check_rows(n: int) -> None:
        if n > limits.max_rows:
            raise _HTTPError(
                413,
                f"The request has {n} rows; the limit is {limits.max_rows}. Split the "
                "batch.",
            )

    def score(p: Predictor, records: Any, outputs: list[str], split: bool) -> Any:
        # one record goes in as a dict: the contract's single-row fast path
        data = records[0] if len(records) == 1 else records
        try:
            got = p.score(data, outputs, on_error="split" if split else "raise")
        except ContractError as exc:
            if not len(exc.failures):  # the records themselves are unreadable
                raise _HTTPError(400, str(exc)) from None
            refused = metrics.contract_failures(exc.failures, len(records))
            raise _HTTPError(
                422,
                str(exc),
                rows_refused=refused,
                failures=_failure_rows(exc.failures),
                failures_total=len(exc.failures),
            ) from None
        if isinstance(got, Split):
            metrics.contract_failures(got.failures, len(got.passed))
            metrics.rows.inc(int(got.passed.sum()))
        else:
            metrics.rows.inc(len(records))
        return got

    def infer_sync(p: Predictor, body: bytes) -> tuple[int, bytes]:
        payload = parse(body)
        try:
            records, selected, request_id = decode_infer(payload, p.outputs)
        except RequestError as exc:
            raise _HTTPError(exc.status, str(exc)) from None
        check_rows(len(records))
        scores = score(p, records, selected, split=False)
        out: dict[str, Any] = {
            "model_name": p.name,
            "model_version": str(p.version),
            "outputs": encode_outputs(scores),
        }
        if request_id is not None:
            out["id"] = request_id
        return 200, orjson.dumps(out)

    def predict_sync(p: Predictor, body: bytes, split: bool) -> tuple[int, bytes]:
        payload = parse(body)
        records = _records(payload)
        check_rows(len(records))
        got = score(p, records, p.outputs, split)
        out: dict[str, Any] = {
            "model": {"name": p.name, "version": p.version, "sha256": p.sha256}
        }
        scores = got.scores if isinstance(got, Split) else got
        if p.kind == "classifier":
            out["classes"] = p.classes_.tolist()
            out["labels"] = scores["label"].tolist()
            out["probabilities"] = scores["probabilities"].tolist()
        else:
            out["predictions"] = scores["prediction"].tolist()
        if isinstance(got, Split):
            out["rows"] = len(got.passed)
            out["scored"] = int(got.passed.sum())
            out["passed"] = got.passed.tolist()
            out["failures"] = _failure_rows(got.failures)
            out["failures_total"] = len(got.failures)
        return 200, orjson.dumps(out)

    async def in_thread(fn: Callable[..., tuple[int, bytes]], *args: Any) -> Response:
        # a plain executor future: a fraction of anyio's per-call cost, and on timeout
        # the request is answered while the abandoned call finishes in the background
        future = asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        try:
            async with asyncio.timeout(limits.timeout):
                status, data = await future
        except TimeoutError:
            raise _HTTPError(
                503,
                f"The model did not answer within {limits.timeout:g} s; retry with a "
                "smaller batch.",
            ) from None
        return Response(data, status_code=status, media_type="application/json")

    # -- endpoints ------------------------------------------------------------------
    async def live(request: Request) -> Response:
        return respond(200, {"live": True})

    async def ready(request: Request) -> Response:
        loaded()
        return respond(200, {"ready": True})

    async def server_metadata(request: Request) -> Response:
        return respond(
            200, {"name": "featurekit", "version": __version__, "extensions": []}
        )

    async def metadata(request: Request) -> Response:
        return respond(200, model_metadata(model_for(request)))

    async def model_ready(request: Request) -> Response:
        p = model_for(request)
        return respond(200, {"name": p.name, "ready": True})

    async def infer(request: Request) -> Response:
        p = model_for(request)
        return await in_thread(infer_sync, p, await body_of(request))

    async def predict(request: Request) -> Response:
        p = loaded()
        # parse the query string only when there is one: most calls have none
        query = request.scope.get("query_string")
        mode = request.query_params.get("on_error", "raise") if query else "raise"
        if mode not in ("raise", "split"):
            raise _HTTPError(400, f"on_error must be 'raise' or 'split', got {mode!r}.")
        return await in_thread(predict_sync, p, await body_of(request), mode == "split")

    def monitor_of() -> Any:
        m = loaded().monitor
        if m is None:
            raise _HTTPError(
                404,
                "Drift monitoring is off: the artifact has no profile.json (re-export "
                "it) or the server was started with --no-monitor.",
            )
        return m

    async def monitor_status(request: Request) -> Response:
        m = monitor_of()
        return await in_thread(lambda: (200, orjson.dumps(m.status())))

    async def monitor_snapshot(request: Request) -> Response:
        m = monitor_of()
        if request.method == "GET":
            return await in_thread(lambda: (200, orjson.dumps(m.snapshot())))
        body = await body_of(request)

        def merge() -> tuple[int, bytes]:
            snapshot = parse(body)
            try:
                m.merge(snapshot)
            except (ValueError, KeyError, TypeError) as exc:
                raise _HTTPError(400, f"Cannot merge this snapshot: {exc}") from None
            return 200, orjson.dumps(
                {"merged": True, "rows_total": m.status()["rows_total"]}
            )

        return await in_thread(merge)

    async def scrape(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    model = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    routes = [  # the hot endpoints first: routes match in order
        Route("/predict", predict, methods=["POST"]),
        Route(model + "/infer", infer, methods=["POST"]),
        Route(versioned + "/infer", infer, methods=["POST"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2", server_metadata, methods=["GET"]),
        Route(model, metadata, methods=["GET"]),
        Route(versioned, metadata, methods=["GET"]),
        Route(model + "/ready", model_ready, methods=["GET"]),
        Route(versioned + "/ready", model_ready, methods=["GET"]),
        Route("/metrics", scrape, methods=["GET"]),
        Route("/monitor", monitor_status, methods=["GET"]),
        Route("/monitor/snapshot", monitor_snapshot, methods=["GET", "POST"]),
    ]
    labels = {
        live: "/v2/health/live",
        ready: "/v2/health/ready",
        server_metadata: "/v2",
        metadata: "/v2/models/{name}",
        model_ready: "/v2/models/{name}/ready",
        infer: "/v2/models/{name}/infer",
        predict: "/predict",
        scrape: "/metrics",
        monitor_status: "/monitor",
        monitor_snapshot: "/monitor/snapshot",
    }

    async def http_error(request: Request, exc: Exception) -> Response:
        from starlette.exceptions import HTTPException

        if isinstance(exc, _HTTPError):
            response = respond(exc.status, exc.body)
            if exc.status == 503:
                response.headers["Retry-After"] = "1"
            return response
        if isinstance(exc, ClientDisconnect):
            return Response(status_code=499)
        if isinstance(exc, HTTPException):
            message = {
                404: f"No endpoint at {request.url.path!r}; see GET /v2 and "
                "/v2/models/{name}.",
                405: f"{request.method} is not allowed on {request.url.path!r}.",
            }.get(exc.status_code, str(exc.detail))
            return respond(exc.status_code, {"error": message})
        return respond(500, {"error": f"Internal error: {type(exc).__name__}."})

    def lifespan(app: Any) -> Any:
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def run(app: Any) -> Any:
            if state["predictor"] is None and not isinstance(predictor, Predictor):
                threading.Thread(
                    target=load, args=(predictor,), name="featurekit-load", daemon=True
                ).start()
            yield

        return run(app)

    from starlette.exceptions import HTTPException

    app = Starlette(
        routes=routes,
        exception_handlers={
            _HTTPError: http_error,
            HTTPException: http_error,
            ClientDisconnect: http_error,
            Exception: http_error,
        },
        lifespan=lifespan,
    )
    app.state.featurekit = state
    app.state.metrics = metrics
    app.state.limits = limits
    return _Observed(app, metrics, labels)


_BINARY = (
    "Send tensors as JSON: with tritonclient.http, InferInput.set_data_from_numpy("
    "array, binary_data=False) and InferRequestedOutput(name, binary_data=False)."
)


class _Observed:
    """ASGI middleware: count every HTTP request and time it, by route template."""

    def __init__(self, app: Any, metrics: Metrics, labels: Mapping[Any, str]) -> None:
        self.app = app
        self.state = app.state
        self._metrics = metrics
        self._labels = labels

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def observe(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            try:
                await send(message)
            except (OSError, RuntimeError):
                # the client hung up (uvloop says so with a RuntimeError from its
                # closed transport): nobody is left to answer, nothing is wrong here
                status[0] = 499

        try:
            await self.app(scope, receive, observe)
        finally:
            endpoint = self._labels.get(scope.get("endpoint"), "unmatched")
            self._metrics.observe(endpoint, status[0], time.perf_counter() - start)


def _records(payload: Any) -> list[Any]:
    if isinstance(payload, dict):
        records = payload.get("records") if set(payload) == {"records"} else [payload]
    else:
        records = None
    if not isinstance(records, list):
        raise _HTTPError(
            400,
            'Send {"records": [{column: value, ...}, ...]} or a single record object; '
            f"got {type(payload).__name__}"
            + (" with a non-list 'records'" if isinstance(payload, dict) else "")
            + ".",
        )
    if not records:
        raise _HTTPError(400, "The request has 0 rows; send at least one record.")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise _HTTPError(
                400,
                f"Record {i} is a {type(rec).__name__}, not an object of column to "
                "value.",
            )
        for column, value in rec.items():
            if isinstance(value, list | dict):
                # a value is a scalar; nested JSON is malformed, however deep it goes
                raise _HTTPError(
                    400,
                    f"Record {i}: column {_short(column)} holds a JSON "
                    f"{'list' if isinstance(value, list) else 'object'}; values must "
                    "be numbers, strings, booleans or null.",
                )
    return records


def _short(value: Any) -> str:
    import reprlib

    return reprlib.repr(value)


def _failure_rows(failures: Any) -> list[dict[str, Any]]:
    rows = failures.head(MAX_FAILURES_SHOWN).to_dict("records")
    for row in rows:
        row["failure_case"] = _jsonable(row["failure_case"])
        row["index"] = _jsonable(row["index"])
    return rows  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'inf', '-inf', 'nan': JSON has no such numbers
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _short(value)  # bounded: no deep recursion, no megabyte echoes


def serve_path(path: str | os.PathLike[str]) -> Path:
    """The artifact directory, checked before a server starts (raises ArtifactError)."""
    from featurekit.artifact import read_manifest

    root = Path(path)
    read_manifest(root)
    return root
