"""HTTP error answers: the one place where a failure becomes a status code and a body.

Errors are ``{"error": "..."}`` with the status the protocol asks for:

======================================  ======
malformed request (JSON, shape, types)   400
admin route without the right token      401
admin route with no token configured     403
unknown model, version or path           404
wrong method                             405
reload refused (old model keeps serving) 409
body slower than ``timeout`` to arrive   408
body over ``max_body_bytes``             413
more rows than ``max_rows``              413
not JSON (content type)                  415
contract failure (+ ``failures`` table)  422
client gone before the answer            499
model not loaded yet                     503
inference over ``timeout`` seconds       503
anything else                            500
======================================  ======

The routes raise `HTTPError` through the constructors below, named for what went
wrong, so no other module spells a status code; `handle` answers whatever escapes a
route, through the app's exception handlers.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from featurekit.errors import ContractError

from .limits import MAX_FAILURES_SHOWN
from .oip import RequestError

__all__ = [
    "HTTPError",
    "bad_request",
    "body_timeout",
    "contract_error",
    "error_response",
    "exception_handlers",
    "failure_rows",
    "handle",
    "internal_error",
    "not_found",
    "not_json",
    "protocol_error",
    "respond",
    "too_large",
    "unavailable",
]


_Handler = Callable[[Request, Exception], Awaitable[Response]]


class HTTPError(Exception):
    """A request answered with `status` and ``{"error": message, **extra}``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": message, **extra}


def respond(status: int, body: Any) -> Response:
    """`body` as a JSON response."""
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json"
    )


# -- what went wrong, and its status ------------------------------------------------------
def bad_request(message: str) -> HTTPError:
    """Malformed: JSON, shape, types, query parameters, a snapshot that won't merge."""
    return HTTPError(400, message)


def unauthorized(message: str) -> HTTPError:
    """An admin route called without the server's admin token (``Bearer``)."""
    return HTTPError(401, message)


def forbidden(message: str) -> HTTPError:
    """An admin route on a server started without an admin token: closed."""
    return HTTPError(403, message)


def conflict(message: str) -> HTTPError:
    """A reload the new artifact failed (its golden rows, or loading): not swapped in."""
    return HTTPError(409, message)


def protocol_error(exc: RequestError) -> HTTPError:
    """An Open Inference Protocol request `serving.oip` cannot read."""
    return HTTPError(exc.status, str(exc))


def not_found(message: str) -> HTTPError:
    """No such model or version, or a feature that is switched off."""
    return HTTPError(404, message)


def body_timeout(message: str) -> HTTPError:
    """The request body took longer than ``Limits.timeout`` to arrive."""
    return HTTPError(408, message)


def too_large(message: str) -> HTTPError:
    """Over ``Limits.max_body_bytes`` or ``Limits.max_rows``."""
    return HTTPError(413, message)


def not_json(message: str) -> HTTPError:
    """A content type other than JSON."""
    return HTTPError(415, message)


def unavailable(message: str) -> HTTPError:
    """Not loaded yet, or the model did not answer in time: retry (Retry-After)."""
    return HTTPError(503, message)


def contract_error(exc: ContractError, count: Callable[[Any], int]) -> HTTPError:
    """400 when the records themselves are unreadable, else 422 with the failures.

    `count` tallies the failures into the metrics and returns the rows refused; it is
    called only for a 422.
    """
    if not len(exc.failures):
        return HTTPError(400, str(exc))
    refused = count(exc.failures)
    return HTTPError(
        422,
        str(exc),
        rows_refused=refused,
        failures=failure_rows(exc.failures),
        failures_total=len(exc.failures),
    )


# -- the app's exception handlers ---------------------------------------------------------
def error_response(exc: HTTPError) -> Response:
    """The answer to `exc`: its status, its JSON body, and the headers it calls for."""
    response = respond(exc.status, exc.body)
    if exc.status == 503:
        response.headers["Retry-After"] = "1"
    elif exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="featurekit admin"'
    return response


def internal_error(exc: Exception) -> Response:
    """A 500 naming only the exception's type (its message may hold request data)."""
    return respond(500, {"error": f"Internal error: {type(exc).__name__}."})


async def handle(request: Request, exc: Exception) -> Response:
    """Answer an exception a route raised (or Starlette's own 404 and 405)."""
    if isinstance(exc, HTTPError):
        return error_response(exc)
    if isinstance(exc, ClientDisconnect):
        return Response(status_code=499)
    if isinstance(exc, HTTPException):
        message = {
            404: f"No endpoint at {request.url.path!r}; see GET /v2 and "
            "/v2/models/{name}.",
            405: f"{request.method} is not allowed on {request.url.path!r}.",
        }.get(exc.status_code, str(exc.detail))
        return respond(exc.status_code, {"error": message})
    return internal_error(exc)


def exception_handlers() -> dict[Any, _Handler]:
    """For ``Starlette(exception_handlers=...)``: every exception goes to `handle`."""
    return {
        HTTPError: handle,
        HTTPException: handle,
        ClientDisconnect: handle,
        Exception: handle,
    }


# -- the failures table -------------------------------------------------------------------
#: A failing string is echoed up to this many characters, never in full.
MAX_CASE_CHARS = 200


def failure_rows(failures: Any) -> list[dict[str, Any]]:
    """The first `MAX_FAILURES_SHOWN` contract failures as JSON-ready rows."""
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
    if isinstance(value, str) and len(value) > MAX_CASE_CHARS:
        cut = len(value) - MAX_CASE_CHARS
        return f"{value[:MAX_CASE_CHARS]}... ({cut} more characters)"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return reprlib.repr(value)  # bounded: no deep recursion, no megabyte echoes
