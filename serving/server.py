"""Run the HTTP server: ``featurekit serve ARTIFACT`` and ``python -m serving ARTIFACT``.

uvicorn (with uvloop and httptools) runs the app of `serving.app`. SIGTERM and Ctrl-C
stop accepting connections and let requests in flight finish (``--drain`` seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from featurekit.errors import ArtifactError

__all__ = ["add_arguments", "main", "run"]

_ENV = "FEATUREKIT_SERVE_CONFIG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``serve``, shared by both entry points."""
    from .app import Limits
    from .limits import DEFAULT_HEADER_TIMEOUT

    d = Limits()
    parser.add_argument("artifact", metavar="ARTIFACT", help="artifact directory")
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="default: 8080")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes, each with its own model session (default: 1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="chunks of a large batch scored at once per process (default: CPUs, <= 4)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=d.max_body_bytes,
        help=f"larger request bodies get 413 (default: {d.max_body_bytes})",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=d.max_rows,
        help=f"larger batches get 413 (default: {d.max_rows})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=d.timeout,
        help=f"seconds to read a body and to score it (default: {d.timeout:g})",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=30.0,
        help="seconds in-flight requests get to finish on shutdown (default: 30)",
    )
    parser.add_argument(
        "--monitor-window",
        type=int,
        default=None,
        help="rows per drift window (default: the profile's calibrated size, 1000)",
    )
    parser.add_argument(
        "--monitor-seconds",
        type=float,
        default=None,
        help="also close a drift window after this many seconds",
    )
    parser.add_argument(
        "--no-monitor", action="store_true", help="turn live drift monitoring off"
    )
    parser.add_argument(
        "--no-batching",
        action="store_true",
        help="score every one-record /predict request alone; by default concurrent "
        "ones are scored in one run of the graph, each answered as if alone",
    )
    parser.add_argument(
        "--verify",
        default="strict",
        choices=["strict", "warn", "off"],
        help=(
            "run the artifact's golden rows through this machine's onnxruntime at "
            "load: strict (default) stays not ready if they answer otherwise, warn "
            "serves anyway, off skips them"
        ),
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=DEFAULT_HEADER_TIMEOUT,
        help="seconds a connection gets to send a request's headers, from opening or "
        "from the previous response; slower ones are closed (default: 10)",
    )
    parser.add_argument(
        "--keep-alive",
        type=float,
        default=5.0,
        help="seconds an idle keep-alive connection stays open (default: 5)",
    )
    parser.add_argument(
        "--limit-concurrency",
        type=int,
        default=1000,
        help="open connections, and requests in progress, per worker; beyond, 503 "
        "with Retry-After (default: 1000)",
    )
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        help="also serve the Open Inference Protocol over gRPC on this port, same "
        "model and metrics (needs featurekit[grpc]; docs/grpc.md)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: it costs more than a prediction)",
    )
    parser.add_argument(
        "--shadow",
        metavar="CHALLENGER",
        default=None,
        help="also score every request with the CHALLENGER artifact, off the "
        "response path (its errors and latency never reach the answer); with --log "
        "both are logged, the challenger as served_by=shadow",
    )
    parser.add_argument(
        "--explore",
        metavar="RATE",
        type=float,
        default=None,
        help="serve this share of a classifier's decisions (e.g. 0.05) by "
        "--explore-policy, tagged in /predict and logged with every decision's "
        "propensity, so that evaluation stays unbiased when labels exist only for "
        "rows acted on",
    )
    parser.add_argument(
        "--explore-policy", default="uniform", choices=["uniform", "fallback"]
    )
    parser.add_argument(
        "--explore-fallback",
        metavar="CLASS",
        help="the class --explore-policy fallback serves",
    )
    parser.add_argument(
        "--log",
        metavar="DIR",
        default=None,
        help="keep a prediction log in DIR (Parquet, hourly partitions): every "
        "scored row with its id, inputs and outputs; enables POST /labels and the "
        "online metrics (docs/outcomes.md)",
    )
    parser.add_argument(
        "--log-retention",
        metavar="AGE",
        default=None,
        help="delete prediction partitions older than AGE (e.g. 30d, 12h)",
    )
    parser.add_argument(
        "--log-pii",
        default="drop",
        choices=["drop", "hash"],
        help="columns declared pii=True: left out of the log (default) or stored as "
        "a salted SHA-256 (the salt from $FEATUREKIT_LOG_SALT)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
    )


def run(args: argparse.Namespace) -> int:
    """Start the server for parsed `args`; return the exit status."""
    from .app import Limits, serve_path
    from .grpc import server as grpc_server
    from .limits import ADMIN_TOKEN_ENV, HEADER_TIMEOUT_ENV, connection_limits
    from .metrics import MULTIPROCESS_ENV

    try:
        import httptools  # noqa: F401  # the parser serving.protocol builds on
        import uvicorn
    except ImportError:  # pragma: no cover - depends on the installation
        print(
            "featurekit serve: error: uvicorn or httptools is not installed: "
            "pip install 'featurekit[serve]'",
            file=sys.stderr,
        )
        return 2
    try:
        limits = Limits(args.max_body_bytes, args.max_rows, args.timeout)
        if args.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {args.workers}.")
        connection_limits(args)
        grpc_server.check_options(args)
        log = _log_options(args)
        path = serve_path(args.artifact)
        shadow = None if args.shadow is None else str(serve_path(args.shadow))
        explore = _explore_options(args)
    except (ArtifactError, ValueError, OSError) as exc:
        print(f"featurekit serve: error: {exc}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": args.access_log,
        "timeout_graceful_shutdown": args.drain,
        "loop": "auto",  # uvloop when installed
        # httptools, with a header timeout; by import path, so that workers load it
        "http": "serving.protocol:GuardedHttpTools",
        "timeout_keep_alive": args.keep_alive,
        "limit_concurrency": args.limit_concurrency,
    }
    os.environ[HEADER_TIMEOUT_ENV] = repr(args.header_timeout)  # workers inherit it
    monitor: bool | dict[str, Any] = not args.no_monitor and {
        k: v
        for k, v in (("window", args.monitor_window), ("seconds", args.monitor_seconds))
        if v is not None
    }
    if monitor == {}:
        monitor = True
    if args.workers == 1:
        from .app import create_app

        app = create_app(
            path,
            limits=limits,
            threads=args.threads,
            monitor=monitor,
            verify=args.verify,
            admin_token=os.environ.get(ADMIN_TOKEN_ENV),
            grpc=grpc_server.options(args),  # None without --grpc-port
            log=log,
            shadow=shadow,
            explore=explore,
            batching=not args.no_batching,
        )
        uvicorn.run(app, **options)
        return 0
    # worker processes import the app by name and read their configuration here
    os.environ[_ENV] = json.dumps(
        {
            "path": str(path),
            "limits": [limits.max_body_bytes, limits.max_rows, limits.timeout],
            "threads": args.threads,
            "monitor": monitor,
            "verify": args.verify,
            "log": log,
            "shadow": shadow,
            "explore": explore,
            "batching": not args.no_batching,
        }
    )
    # the workers' counters add up in prometheus-client's multiprocess files
    # (serving.metrics); a directory of the user's own is theirs to manage
    shared = None
    if not os.environ.get(MULTIPROCESS_ENV):
        shared = os.environ[MULTIPROCESS_ENV] = tempfile.mkdtemp(
            prefix="featurekit-metrics-"
        )
    try:
        uvicorn.run(
            "serving.server:_worker_app", factory=True, workers=args.workers, **options
        )
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    return 0


def _explore_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--explore`` and its policy, checked before the server starts (or None)."""
    if args.explore is None:
        return None
    if not 0 < args.explore < 1:
        raise ValueError(f"--explore must be a share in (0, 1), got {args.explore}.")
    if args.explore_policy == "fallback" and args.explore_fallback is None:
        raise ValueError("--explore-policy fallback needs --explore-fallback CLASS.")
    if args.log is None:
        raise ValueError("--explore needs --log DIR: propensities live in the log.")
    out: dict[str, Any] = {"rate": args.explore, "policy": args.explore_policy}
    if args.explore_fallback is not None:
        out["fallback"] = args.explore_fallback
    return out


def _log_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--log`` and its options, checked before the server starts (or None)."""
    if args.log is None:
        if args.log_retention is not None:
            raise ValueError("--log-retention needs --log DIR.")
        return None
    from featurekit.outcomes.files import check_directory
    from featurekit.outcomes.log import parse_duration

    from .logging import SALT_ENV

    check_directory(args.log)  # a directory that is not writable fails here
    if args.log_retention is not None:
        parse_duration(args.log_retention)
    if args.log_pii == "hash" and not os.environ.get(SALT_ENV):
        raise ValueError(f"--log-pii hash needs a secret salt in ${SALT_ENV}.")
    out: dict[str, Any] = {"directory": str(args.log), "pii": args.log_pii}
    if args.log_retention is not None:
        out["retention"] = args.log_retention
    return out


def _worker_app() -> Any:
    from .app import Limits, create_app
    from .limits import ADMIN_TOKEN_ENV

    config = json.loads(os.environ[_ENV])
    return create_app(
        config["path"],
        limits=Limits(*config["limits"]),
        threads=config["threads"],
        monitor=config["monitor"],
        verify=config["verify"],
        admin_token=os.environ.get(ADMIN_TOKEN_ENV),
        log=config.get("log"),
        shadow=config.get("shadow"),
        explore=config.get("explore"),
        batching=config.get("batching", True),
        preload=True,  # a worker takes connections once it can answer them
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m serving ARTIFACT [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m serving",
        description="Serve a featurekit artifact over HTTP (Open Inference Protocol, "
        "POST /predict, /metrics).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
