"""uvicorn's HTTP protocol with a header timeout and a JSON 503 at the concurrency limit.

uvicorn bounds a body's arrival only through the app (``--timeout``, 408) and idle
keep-alive connections through ``timeout_keep_alive``; nothing bounds how long a
client may take to send a request's headers. A slowloris client that opens
connections and trickles a header byte now and then would keep each one open forever
(its first byte even cancels the keep-alive timer). `GuardedHttpTools` arms a timer
when a connection opens and after each response, cancels it when a request's headers
are complete, and closes the connection when it fires.

It also answers requests over uvicorn's ``limit_concurrency`` with featurekit's JSON
error body, ``Retry-After: 1`` and ``Connection: close`` (uvicorn's own answer is a
bare text 503), and counts its limit the way its option reads: at most N open
connections and N requests in progress per process.

`featurekit serve` selects the class with uvicorn's ``http=`` option, by import path,
so that ``--workers N`` processes load it too; its timeout comes from the
environment variable ``FEATUREKIT_HEADER_TIMEOUT``, which every worker inherits.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .limits import DEFAULT_HEADER_TIMEOUT, HEADER_TIMEOUT_ENV, IN_FLIGHT

__all__ = ["GuardedHttpTools", "header_timeout"]


def header_timeout() -> float:
    """``--header-timeout`` as `featurekit serve` passed it on, else the default.

    Examples
    --------
    >>> import os
    >>> os.environ.pop("FEATUREKIT_HEADER_TIMEOUT", None) and None
    >>> header_timeout()
    10.0
    """
    value = os.environ.get(HEADER_TIMEOUT_ENV)
    return DEFAULT_HEADER_TIMEOUT if value is None else float(value)


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a header timeout and a JSON 503.

    A connection must deliver a request's complete headers within the header timeout
    of opening, or of the previous response; otherwise it is closed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout()
        self.header_timer: asyncio.TimerHandle | None = None
        #: When the headers being awaited are due (loop time); None when none are.
        self.deadline: float | None = None
        # counted here rather than by uvicorn, whose 503 is bare text
        self.concurrency, self.limit_concurrency = self.limit_concurrency, None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline = None
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self.deadline = None  # the headers are in: nothing left to time
        self.scope[IN_FLIGHT] = self.tasks  # type: ignore[literal-required]
        limit = self.concurrency
        if limit is None or (
            len(self.connections) <= limit and len(self.tasks) < limit
        ):
            super().on_headers_complete()
            return
        app, self.app = self.app, _busy(limit)
        try:  # the cycle takes the app it runs now; later requests get the real one
            super().on_headers_complete()
        finally:
            self.app = app

    def on_response_complete(self) -> None:
        waiting = bool(self.pipeline)  # a pipelined request's headers are complete
        super().on_response_complete()
        if not waiting and not self.transport.is_closing():
            self._arm()

    # One timer per connection at most, moved rather than cancelled and made again
    # for every request of a keep-alive connection: arming sets a deadline, and the
    # timer, when it fires, closes the connection if that deadline has passed, or
    # waits for a later one, or stops while a request is being answered.
    def _arm(self) -> None:
        self.deadline = self.loop.time() + self.header_timeout
        if self.header_timer is None:
            self.header_timer = self.loop.call_at(self.deadline, self._expired)

    def _expired(self) -> None:
        self.header_timer = None
        if self.deadline is None or self.transport.is_closing():
            return
        if self.loop.time() >= self.deadline:
            self.transport.close()
        else:
            self.header_timer = self.loop.call_at(self.deadline, self._expired)


@functools.cache
def _busy(limit: int) -> Any:
    """The ASGI app answering a request over the concurrency limit."""
    body = orjson.dumps(
        {
            "error": f"The server is at its concurrency limit ({limit} connections "
            "or requests in progress); retry shortly."
        }
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    ]

    async def busy(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return busy
