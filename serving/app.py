"""`create_app`: the ASGI app serving one model, assembled from the route modules.

Open Inference Protocol (KServe v2) REST (`serving.routes_oip`), ``POST /predict``
(`serving.routes_predict`), drift monitoring and Prometheus metrics
(`serving.routes_monitor`), labels (`serving.routes_outcomes`), the live monitoring
page ``GET /dashboard`` (`serving.routes_dashboard`), built on Starlette with orjson
for JSON. The routes share
one `serving.state.AppState`; `serving.responses` maps every failure to its status.

The web stack loads only when an app is created: `Limits` and `serve_path` need none
of it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .limits import MAX_FAILURES_SHOWN as MAX_FAILURES_SHOWN
from .limits import Limits
from .metrics import Metrics
from .predictor import Predictor

__all__ = ["Limits", "create_app"]


def create_app(
    predictor: Predictor | str | os.PathLike[str],
    *,
    limits: Limits | None = None,
    threads: int | None = None,
    monitor: bool | dict[str, Any] = True,
    verify: str = "strict",
    admin_token: str | None = None,
    grpc: dict[str, Any] | None = None,
    log: dict[str, Any] | None = None,
    shadow: str | os.PathLike[str] | None = None,
    explore: dict[str, Any] | None = None,
    batching: bool = True,
    preload: bool = False,
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
    verify : {"strict", "warn", "off"}
        When `predictor` is a path: run the artifact's golden rows at load.
        "strict" keeps the server not ready (503, with the first differing row)
        if they answer otherwise on this machine; "warn" serves anyway. Either
        way ``featurekit_golden_rows_ok`` in ``/metrics`` reports the verdict.
    admin_token : str, optional
        What admin routes (``POST /monitor/snapshot``) require as
        ``Authorization: Bearer <token>``; without one they answer 403.
    shadow : str or Path, optional
        A challenger artifact scored on every request off the response path
        (`serving.shadow`); loaded after the model, never fatal if it fails.
    explore : dict, optional
        When `predictor` is a path: serve a share of decisions by a fixed policy
        (``Predictor.load``'s `explore`), tagged ``"explored"`` in ``/predict``.
    log : dict, optional
        When `predictor` is a path: keep a prediction log, ``{"directory": DIR}``
        plus `serving.logging.open_log` options (``retention``, ``pii``, ...).
        Enables ``POST /labels`` and the online figures.
    grpc : dict, optional
        Also serve the Open Inference Protocol over gRPC while the app runs, with
        the same model and metrics: the keywords of `serving.grpc.server.start`,
        e.g. ``{"port": 8081}`` (needs ``featurekit[grpc]``).
    batching : bool
        Score concurrent one-record ``/predict`` requests in one run of the graph,
        each answered as if alone (`serving.batching`); False scores each alone.
    preload : bool
        When `predictor` is a path: load it before the app starts (its lifespan
        waits) instead of in the background. ``featurekit serve --workers N`` sets
        it: worker processes share one socket, and a worker then takes connections
        only once it can answer them, never a 503 "still loading" while the others
        serve.

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
        import orjson  # noqa: F401
        import starlette  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            f"The HTTP server needs {exc.name!r}: pip install 'featurekit[serve]'"
        ) from None
    # the web stack, imported here so that `Limits` and `serve_path` stay light
    from starlette.applications import Starlette

    from . import (
        responses,
        routes_dashboard,
        routes_docs,
        routes_monitor,
        routes_oip,
        routes_outcomes,
        routes_predict,
        routes_repository,
    )
    from .state import AppState

    state = AppState(limits or Limits(), admin_token)
    state.batching = batching
    source = None
    if isinstance(predictor, Predictor):
        state.attach(predictor)
    else:
        source = predictor

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if state.predictor is None and source is not None:
            loading = state.load_in_background(
                source,
                threads=threads,
                monitor=monitor,
                verify=verify,
                log=log,
                shadow=shadow,
                explore=explore,
            )
            if preload:
                await asyncio.to_thread(loading.join)
        hangup = _on_hangup(state.reload_in_background)
        rpc = None
        if grpc is not None:
            from .grpc.server import start

            rpc = start(state, **grpc)
        try:
            yield
        finally:
            hangup()
            if state.shadow is not None:
                await asyncio.to_thread(state.shadow.close)  # caught up, then logged
            if state.predictor is not None:
                state.predictor.close()  # the log's buffered rows are written
            if rpc is not None:  # after HTTP drained, before the process ends
                await asyncio.to_thread(rpc.stop)

    # the hot endpoints first: routes match in order
    routes = [
        *routes_predict.ROUTES,
        *routes_oip.ROUTES,
        *routes_monitor.ROUTES,
        *routes_outcomes.ROUTES,
        *routes_dashboard.ROUTES,
        *routes_repository.ROUTES,
        *routes_docs.ROUTES,
    ]
    labels: dict[Any, str] = {}
    for route in routes:  # an endpoint is counted under the first path it serves
        labels.setdefault(route.endpoint, route.path)
    app = Starlette(
        routes=routes,
        exception_handlers=responses.exception_handlers(),
        lifespan=lifespan,
    )
    app.state.featurekit = state  # what `serving.state.state_of` reads
    app.state.metrics = state.metrics
    app.state.limits = state.limits
    return _Observed(app, state.metrics, labels, routes_predict.answer)


class _Observed:
    """ASGI middleware: count every HTTP request and time it, by route template.

    ``POST /predict`` goes first to `fast` (`serving.routes_predict.answer`), which
    answers the plain JSON request without Starlette's routing, or declines.
    """

    def __init__(
        self,
        app: Any,
        metrics: Metrics,
        labels: Mapping[Any, str],
        fast: Callable[..., Awaitable[int | None]],
    ) -> None:
        self.app = app
        self.state = app.state
        self._featurekit = app.state.featurekit
        self._metrics = metrics
        self._labels = labels
        self._fast = fast

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
        if scope["path"] == "/predict" and scope["method"] == "POST":
            answered = await self._fast(self._featurekit, scope, receive, send)
            if answered is not None:
                self._metrics.observe("/predict", answered, time.perf_counter() - start)
                return
        status = [500]

        async def observe(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if self._featurekit.model_header is not None:
                    message["headers"] = [
                        *message.get("headers", ()),
                        (b"x-featurekit-model", self._featurekit.model_header),
                    ]
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


def _on_hangup(reload: Callable[[], None]) -> Callable[[], None]:
    """Reload on SIGHUP while the app runs; returns what removes the handler.

    Only where the event loop can take signals (Unix, the main thread); elsewhere a
    reload goes through ``POST /v2/repository/models/{name}/load``.
    """
    try:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, reload)
    except (AttributeError, NotImplementedError, RuntimeError, ValueError):
        return lambda: None

    def remove() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return remove


def serve_path(path: str | os.PathLike[str]) -> Path:
    """The artifact directory, checked before a server starts (raises ArtifactError)."""
    from featurekit.artifact import read_manifest

    root = Path(path)
    read_manifest(root)
    return root
