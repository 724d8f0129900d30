"""The Open Inference Protocol (KServe v2) REST routes: health, metadata and infer.

Tensors are read and written by `serving.oip` (and, for the binary tensor data
extension, `serving.binary`); this module binds them to the model the app serves,
under ``/v2/models/{name}`` and ``/v2/models/{name}/versions/{v}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from featurekit._version import __version__

from .binary import HEADER, binary_outputs, header_length, inline, join
from .limits import INLINE_BODY_BYTES
from .oip import RequestError, encode_outputs, model_metadata
from .predictor import Predictor
from .responses import protocol_error, respond
from .state import AppState, parse_json, state_of

__all__ = ["ROUTES"]


async def live(request: Request) -> Response:
    return respond(200, {"live": True})


async def ready(request: Request) -> Response:
    state_of(request).loaded()
    return respond(200, {"ready": True})


async def server_metadata(request: Request) -> Response:
    return respond(
        200,
        {
            "name": "featurekit",
            "version": __version__,
            "extensions": ["binary_tensor_data"],
        },
    )


async def metadata(request: Request) -> Response:
    return respond(200, model_metadata(_model_for(state_of(request), request)))


async def model_ready(request: Request) -> Response:
    p = _model_for(state_of(request), request)
    return respond(200, {"name": p.name, "ready": True})


async def infer(request: Request) -> Response:
    state = state_of(request)
    p = _model_for(state, request)
    body = await state.read_body(request, binary=True)
    small = len(body) <= INLINE_BODY_BYTES  # scored on the event loop (limits.py)
    return await state.run(
        _infer, state, p, body, request.headers.get(HEADER), inline=small
    )


def _infer(
    state: AppState, p: Predictor, body: bytes, header: str | None
) -> tuple[int, bytes] | Response:
    """Score one request; `header` is its Inference-Header-Content-Length, if any."""
    try:
        if header is None:
            payload, tail = parse_json(body), None
        else:
            n = header_length(header, len(body))
            payload, tail = parse_json(body[:n]), body[n:]
        payload = inline(payload, tail)
    except RequestError as exc:
        raise protocol_error(exc) from None
    scores, request_id, ids = state.infer(p, payload)
    out: dict[str, Any] = {
        "model_name": p.name,
        "model_version": str(p.version),
        "outputs": encode_outputs(scores),
        # the rows' ids, the client's (parameters.ids) or made (<request id>-<row>)
        "parameters": {"ids": ids},
    }
    if request_id is not None:
        out["id"] = request_id
    binary = binary_outputs(payload, list(scores))
    if not binary:
        return 200, orjson.dumps(out)
    data, n = join(out, {name: scores[name] for name in binary})
    return Response(
        data,
        status_code=200,
        media_type="application/octet-stream",
        headers={HEADER: str(n)},
    )


def _model_for(state: AppState, request: Request) -> Predictor:
    """The loaded predictor if the path names it (and its version); else 404."""
    return state.model(request.path_params["name"], request.path_params.get("version"))


_MODEL = "/v2/models/{name}"
_VERSIONED = "/v2/models/{name}/versions/{version}"

#: infer first, as routes match in order; each unversioned path comes before its
#: versioned twin, and names the endpoint in the metrics.
ROUTES = [
    Route(_MODEL + "/infer", infer, methods=["POST"]),
    Route(_VERSIONED + "/infer", infer, methods=["POST"]),
    Route("/v2/health/live", live, methods=["GET"]),
    Route("/v2/health/ready", ready, methods=["GET"]),
    Route("/v2", server_metadata, methods=["GET"]),
    Route(_MODEL, metadata, methods=["GET"]),
    Route(_VERSIONED, metadata, methods=["GET"]),
    Route(_MODEL + "/ready", model_ready, methods=["GET"]),
    Route(_VERSIONED + "/ready", model_ready, methods=["GET"]),
]
