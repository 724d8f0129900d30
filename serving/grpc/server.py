"""Start and stop the gRPC server that ``featurekit serve --grpc-port N`` runs.

grpcio's server runs on its own threads in the HTTP server's process. Its RPCs run
on the `AppState`'s worker threads, the ones HTTP inference runs on, so the two
protocols share one bounded pool as they share the model, the limits and the
metrics. A message over ``--max-body-bytes`` is refused by grpcio itself
(RESOURCE_EXHAUSTED), and RPCs in progress beyond ``--limit-concurrency`` too. On
SIGTERM the HTTP server drains first; then, as the app shuts down, the gRPC server
refuses new RPCs and gives those in progress ``--drain`` seconds. `start` serves
any `AppState`; ``create_app(..., grpc={...})`` runs it for the app's lifetime.
"""

from __future__ import annotations

import argparse
import socket
from dataclasses import dataclass
from typing import Any

from ..state import AppState

__all__ = ["GRPCServer", "check_options", "options", "start"]

#: Why ``--grpc-port`` cannot run, when grpcio is not installed.
MISSING = "--grpc-port needs grpcio: pip install 'featurekit[grpc]'"


@dataclass
class GRPCServer:
    """A started gRPC server and the port it listens on."""

    server: Any
    port: int
    #: Seconds RPCs in progress get to finish when it stops.
    grace: float | None = None

    def stop(self) -> None:
        """Refuse new RPCs, give those in progress `grace` seconds, then close."""
        self.server.stop(self.grace).wait()


def start(
    state: AppState,
    port: int,
    *,
    host: str = "127.0.0.1",
    max_message_bytes: int | None = None,
    max_concurrent: int | None = None,
    grace: float | None = None,
) -> GRPCServer:
    """Serve `state`'s model over gRPC on `host`:`port` (0 picks a free port).

    Parameters
    ----------
    state : serving.state.AppState
        The HTTP app's state (``create_app(...).state.featurekit``): the same model,
        limits, metrics and worker threads.
    max_message_bytes : int, optional
        Larger requests are refused (default: ``state.limits.max_body_bytes``).
    max_concurrent : int, optional
        RPCs in progress at once; beyond, RESOURCE_EXHAUSTED (default: no limit).
    grace : float, optional
        Seconds RPCs in progress get to finish on `GRPCServer.stop` (default: none).

    Raises
    ------
    ImportError
        grpcio is not installed.
    OSError
        The address cannot be bound.

    Examples
    --------
    >>> from serving.limits import Limits
    >>> grpc_server = start(AppState(Limits()), 0)  # nothing loaded: not ready
    >>> grpc_server.port > 0
    True
    >>> grpc_server.stop()
    """
    try:
        import grpc
    except ImportError:
        raise ImportError(MISSING) from None
    from .service import InferenceService

    size = max_message_bytes or state.limits.max_body_bytes
    server = grpc.server(
        state.executor,
        handlers=[InferenceService(state).handler()],
        maximum_concurrent_rpcs=max_concurrent,
        options=[
            ("grpc.max_receive_message_length", size),
            ("grpc.so_reuseport", 0),  # a port in use is an error, never shared
        ],
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpcio says "Failed to bind" this way
        raise OSError(f"Cannot serve gRPC on {address}: {exc}") from None
    server.start()
    return GRPCServer(server, bound, grace)


def check_options(args: argparse.Namespace) -> None:
    """Check ``--grpc-port`` before anything starts; ValueError saying why not."""
    if args.grpc_port is None:
        return
    if not 0 <= args.grpc_port <= 65535:
        raise ValueError(f"--grpc-port must be in [0, 65535], got {args.grpc_port}.")
    if args.grpc_port == args.port:
        raise ValueError(f"--grpc-port {args.grpc_port} is also the HTTP --port.")
    if args.workers != 1:
        raise ValueError(
            "--grpc-port runs in a single server process; drop --workers "
            f"{args.workers}, or run one process per port."
        )
    try:
        import grpc  # noqa: F401
    except ImportError:
        raise ValueError(MISSING) from None
    with socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET) as s:
        try:  # a clear message now rather than a failed startup later
            s.bind((args.host, args.grpc_port))
        except OSError as exc:
            raise ValueError(
                f"--grpc-port {args.grpc_port}: cannot listen on {args.host}: "
                f"{exc.strerror or exc}."
            ) from None


def options(args: argparse.Namespace) -> dict[str, Any] | None:
    """`start`'s keywords for ``serve``'s parsed `args`; None without ``--grpc-port``."""
    if args.grpc_port is None:
        return None
    return {
        "port": args.grpc_port,
        "host": args.host,
        "max_message_bytes": args.max_body_bytes,
        "max_concurrent": args.limit_concurrency,
        "grace": args.drain,
    }
