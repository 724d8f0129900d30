"""Read a request's body: its content type, size, time and compression checked.

Every body a route scores comes through `read_body`: JSON (or, on ``infer``, the
binary tensor extension's body), within ``max_body_bytes`` and the timeout, and
inflated (`serving.encoding`) when it arrives compressed.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from starlette.requests import Request

from . import encoding
from .limits import Limits
from .responses import HTTPError, bad_request, body_timeout, not_json, too_large

__all__ = ["read_body"]

_JSON_TYPES = ("application/json", "text/json")
#: the Open Inference Protocol's binary tensor data extension (`serving.binary`)
_BINARY_HEADER = "inference-header-content-length"
_BINARY = (
    "For binary tensors, send the Inference-Header-Content-Length header with the "
    "JSON header's length, as tritonclient does."
)


async def read_body(
    request: Request, limits: Limits, executor: Executor, *, binary: bool = False
) -> bytes:
    """The body of `request`, within the size limit and the timeout.

    It must be JSON, unless `binary` allows the binary tensor extension and the
    request has its header: then any content type goes, and the whole body (JSON
    header and tensor data) counts against ``max_body_bytes``. A compressed body
    (``Content-Encoding``, `serving.encoding`) counts both before and after it is
    inflated, on `executor`.
    """
    if _BINARY_HEADER in request.headers and not binary:
        raise bad_request(
            "The Inference-Header-Content-Length header (binary tensor data) is "
            f"for POST /v2/models/{{name}}/infer only; send {request.url.path} "
            "plain JSON."
        )
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if (
        ctype
        and ctype not in _JSON_TYPES
        and not ctype.endswith("+json")
        and _BINARY_HEADER not in request.headers
    ):
        hint = _BINARY if "octet-stream" in ctype and binary else ""
        raise not_json(
            f"Content-Type {ctype!r} is not JSON; send application/json. {hint}".strip()
        )
    codings = encoding.codings(request.headers.get("content-encoding"))
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise bad_request(f"Invalid Content-Length {declared!r}.")
        if int(declared) > limits.max_body_bytes:
            raise _too_large(int(declared), limits)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(limits.timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_body_bytes:
                    raise _too_large(size, limits)
                chunks.append(chunk)
    except TimeoutError:
        raise body_timeout(
            f"The request body took over {limits.timeout:g} s to arrive."
        ) from None
    body = b"".join(chunks)
    if codings and body:  # inflated off the event loop, within max_body_bytes
        body = await asyncio.get_running_loop().run_in_executor(
            executor, encoding.decode, body, codings, limits.max_body_bytes
        )
    if not body:
        raise bad_request("The request has no body; send a JSON object.")
    return body


def _too_large(size: int, limits: Limits) -> HTTPError:
    return too_large(
        f"The request body is {size} bytes; the limit is "
        f"{limits.max_body_bytes}. Split the batch."
    )
