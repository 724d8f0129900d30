"""Read a request's body: its content type, size, time and compression checked.

Every body a route scores comes through `read_body`: JSON (or, on ``infer``, the
binary tensor extension's body), within ``max_body_bytes`` and the timeout, and
inflated (`serving.encoding`) when it arrives compressed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from typing import Any

from starlette.requests import ClientDisconnect, Request

from . import encoding
from .limits import Limits
from .responses import HTTPError, bad_request, body_timeout, not_json, too_large

__all__ = ["plain", "read_body", "receive_body"]

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
    body = await receive_body(request.receive, limits, allow_empty=True)
    if codings and body:  # inflated off the event loop, within max_body_bytes
        body = await asyncio.get_running_loop().run_in_executor(
            executor, encoding.decode, body, codings, limits.max_body_bytes
        )
    if not body:
        raise bad_request("The request has no body; send a JSON object.")
    return body


async def receive_body(
    receive: Callable[[], Awaitable[Any]], limits: Limits, *, allow_empty: bool = False
) -> bytes:
    """The body from an ASGI `receive`, within ``max_body_bytes`` and the timeout.

    408 when it takes over ``limits.timeout`` to arrive, 413 past the size limit,
    400 when empty (unless `allow_empty`); `ClientDisconnect` when the client leaves.
    """
    chunks, size, more = [], 0, True
    task = asyncio.current_task()
    assert task is not None  # an ASGI app always runs in a task
    deadlines = _deadlines(task.get_loop())
    deadlines.add(task, limits.timeout)
    try:
        while more:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise _too_large(size, limits)
            chunks.append(chunk)
            more = message.get("more_body", False)
    except asyncio.CancelledError:
        if not deadlines.expired(task):
            raise  # cancelled by someone else: the server shutting down
        task.uncancel()
        raise body_timeout(
            f"The request body took over {limits.timeout:g} s to arrive."
        ) from None
    finally:
        deadlines.discard(task)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not body and not allow_empty:
        raise bad_request("The request has no body; send a JSON object.")
    return body


#: How often the body deadlines are checked: a late body is answered 408 within
#: this many seconds past ``Limits.timeout``.
SWEEP_SECONDS = 0.1


class _Deadlines:
    """The body deadlines of one event loop, checked by one timer for every request.

    A timer per request (``asyncio.timeout``) costs more than reading a small body
    that has already arrived; here a request costs a dict entry, and a sweep every
    `SWEEP_SECONDS`, while any request waits, cancels the tasks whose time is up.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, task: asyncio.Task[Any], seconds: float) -> None:
        self._due[task] = self._loop.time() + seconds
        if self._timer is None:
            self._timer = self._loop.call_later(SWEEP_SECONDS, self._sweep)

    def discard(self, task: asyncio.Task[Any]) -> None:
        self._due.pop(task, None)
        self._expired.discard(task)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether `task` was cancelled here, its body late."""
        return task in self._expired

    def _sweep(self) -> None:
        now = self._loop.time()
        late = [task for task, due in self._due.items() if due <= now]
        for task in late:
            del self._due[task]
            self._expired.add(task)
            task.cancel()
        self._timer = (
            self._loop.call_later(SWEEP_SECONDS, self._sweep) if self._due else None
        )


_LOOPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = (
    weakref.WeakKeyDictionary()
)


def _deadlines(loop: asyncio.AbstractEventLoop) -> _Deadlines:
    found = _LOOPS.get(loop)
    if found is None:
        found = _LOOPS[loop] = _Deadlines(loop)
    return found


#: Content types of a plain JSON body, as clients spell them (`plain` compares bytes).
_PLAIN_TYPES = frozenset(
    {b"application/json", b"application/json; charset=utf-8", b"text/json"}
)
#: Headers that make a body something other than plain JSON as sent.
_NOT_PLAIN = frozenset(
    {b"content-encoding", _BINARY_HEADER.encode(), b"content-type", b"content-length"}
)


def plain(headers: Iterable[tuple[bytes, bytes]], limits: Limits) -> bool:
    """Whether raw ASGI `headers` announce a body `read_body` would take as it is.

    Plain means: JSON or no content type, no ``Content-Encoding``, no binary
    tensor header, and a ``Content-Length`` (if any) of digits within
    ``max_body_bytes``. Anything else goes through `read_body`, which answers it.

    >>> plain([(b"content-type", b"application/json")], Limits())
    True
    >>> plain([(b"content-encoding", b"gzip")], Limits())
    False
    """
    for name, value in headers:
        if name not in _NOT_PLAIN:
            continue
        if name == b"content-type":
            if value not in _PLAIN_TYPES:
                return False
        elif name == b"content-length":
            if not value.isdigit() or int(value) > limits.max_body_bytes:
                return False
        else:
            return False
    return True


def _too_large(size: int, limits: Limits) -> HTTPError:
    return too_large(
        f"The request body is {size} bytes; the limit is "
        f"{limits.max_body_bytes}. Split the batch."
    )
