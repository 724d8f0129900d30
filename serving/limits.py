"""What one request may ask of the server: body size, rows, time, failures listed."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

__all__ = [
    "INLINE_BODY_BYTES",
    "IN_FLIGHT",
    "MAX_FAILURES_SHOWN",
    "Limits",
    "connection_limits",
]

#: How many failures a 422 response lists (the count is always complete).
MAX_FAILURES_SHOWN = 1000

#: A ``POST /predict`` body up to this many bytes (one record, or a few) is scored on
#: the event loop: handing it to a worker thread costs more than scoring it. Larger
#: bodies are scored on the worker threads, where ``Limits.timeout`` answers 503.
INLINE_BODY_BYTES = 4096

#: The ASGI scope key under which `serving.protocol` puts the server's requests in
#: progress (a set of tasks, this one included): a request alone is scored at once
#: rather than batched (`serving.batching`).
IN_FLIGHT = "featurekit.in_flight"


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


#: The environment variable holding the admin token (never a command-line argument,
#: which every user of the machine can read in the process list).
ADMIN_TOKEN_ENV = "FEATUREKIT_ADMIN_TOKEN"

#: The environment variable carrying ``--header-timeout`` to every worker process
#: (`serving.protocol` reads it).
HEADER_TIMEOUT_ENV = "FEATUREKIT_HEADER_TIMEOUT"
#: Seconds a connection gets to deliver a request's headers (``--header-timeout``).
DEFAULT_HEADER_TIMEOUT = 10.0


def connection_limits(args: argparse.Namespace) -> None:
    """Check ``serve``'s connection options; ValueError naming the first bad one."""
    for option in ("header_timeout", "keep_alive"):
        value = getattr(args, option)
        if not value > 0:
            flag = "--" + option.replace("_", "-")
            raise ValueError(f"{flag} must be > 0 seconds, got {value!r}.")
    if args.limit_concurrency < 1:
        raise ValueError(
            f"--limit-concurrency must be >= 1, got {args.limit_concurrency}."
        )
