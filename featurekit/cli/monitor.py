"""``featurekit monitor merge URL... --artifact ARTIFACT``: one drift verdict for a fleet.

Each replica's ``GET /monitor/snapshot`` carries its cumulative drift counters (every
row it counted since it started) and its replica id. `merge_snapshots` adds them up
with `serving.monitor.Monitor.merge`, so a replica reached twice (the same URL given
twice, or two addresses of one process) is counted once: a second snapshot of a
replica adds only what it counted in between. The merged counters are tested as one
window against the artifact's reference profile, and the answer has the shape of
``GET /monitor``.

Exit status: 0 no drift (or too few rows to tell), 1 drift, 2 an error (a replica
unreachable, refusing the token, or answering something that is not a snapshot of
this artifact's profile), reported on one line of stderr naming the URL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from featurekit.errors import ArtifactError

__all__ = ["TOKEN_ENV", "add_monitor", "fetch_snapshot", "merge_snapshots"]

#: The environment variable the servers read their admin token from, and so does this.
TOKEN_ENV = "FEATUREKIT_ADMIN_TOKEN"
_EXIT_OK, _EXIT_DRIFT, _EXIT_ERROR = 0, 1, 2


class SnapshotError(Exception):
    """A replica's snapshot could not be fetched or merged; the message names its URL."""


def add_monitor(sub: Any) -> None:
    """Add ``monitor merge`` to the ``featurekit`` subparsers `sub`.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="featurekit")
    >>> add_monitor(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["monitor", "merge", "http://a:8080", "--artifact", "m"])
    >>> args.urls, args.timeout
    (['http://a:8080'], 10.0)
    """
    monitor = sub.add_parser(
        "monitor",
        help="drift monitoring across serving replicas",
        description="Drift monitoring across replicas of featurekit serve.",
    )
    commands = monitor.add_subparsers(dest="monitor_command", metavar="COMMAND")
    commands.required = True
    merge = commands.add_parser(
        "merge",
        help="merge the drift counters of several replicas into one verdict",
        description=(
            "Fetch GET /monitor/snapshot from every URL (replicas of featurekit "
            "serve for ARTIFACT), add their counters up exactly (a replica reached "
            "twice counts once: snapshots carry replica ids) and test them as one "
            "window against ARTIFACT's reference profile. Prints the verdict in the "
            "shape of GET /monitor. Exit status: 0 no drift (or too few rows), "
            "1 drift, 2 error."
        ),
    )
    merge.add_argument(
        "urls", metavar="URL", nargs="+", help="a replica's base URL (http://host:port)"
    )
    merge.add_argument(
        "--artifact",
        required=True,
        help="the artifact the replicas serve (its profile.json is the reference)",
    )
    merge.add_argument(
        "--token",
        help=f"admin token, sent as Authorization: Bearer (default: ${TOKEN_ENV})",
    )
    merge.add_argument("--json", action="store_true", help="print one JSON object")
    merge.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per replica (default 10)"
    )
    merge.set_defaults(run=_run)


def fetch_snapshot(url: str, token: str | None = None, timeout: float = 10.0) -> Any:
    """``GET URL/monitor/snapshot`` as parsed JSON.

    Raises
    ------
    SnapshotError
        Unreachable, an HTTP error (401 and 403 say what the token needs), or a body
        that is not a JSON snapshot; the message names `url`.

    Examples
    --------
    >>> fetch_snapshot("ftp://example.invalid")
    Traceback (most recent call last):
    ...
    featurekit.cli.monitor.SnapshotError: 'ftp://example.invalid' is not an http(s) URL; give a replica's base URL such as http://10.0.0.5:8080.
    """
    if not url.startswith(("http://", "https://")):
        raise SnapshotError(
            f"{url!r} is not an http(s) URL; give a replica's base URL such as "
            "http://10.0.0.5:8080."
        )
    address = url.rstrip("/") + "/monitor/snapshot"
    request = urllib.request.Request(address, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        hint = {
            401: f"the admin token is missing or wrong (--token or ${TOKEN_ENV})",
            403: f"the server refuses admin requests (start it with ${TOKEN_ENV} set)",
            404: "no drift monitor there (not featurekit serve, monitoring off, or "
            "an artifact without profile.json)",
        }.get(exc.code, "the replica answered with an error")
        raise SnapshotError(f"{address}: HTTP {exc.code}: {hint}.") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SnapshotError(f"{address}: cannot reach the replica: {reason}.") from None
    try:
        snapshot = json.loads(body)
    except ValueError:
        raise SnapshotError(
            f"{address}: the answer is not JSON (is this featurekit serve?)."
        ) from None
    if not isinstance(snapshot, dict) or not {"replica", "total", "current"} <= set(
        snapshot
    ):
        raise SnapshotError(
            f"{address}: the answer is not a monitor snapshot (it needs 'replica', "
            "'total' and 'current', as featurekit serve's GET /monitor/snapshot has)."
        )
    return snapshot


def merge_snapshots(
    profile: dict[str, Any], snapshots: Sequence[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    """One verdict over the snapshots `(url, snapshot)` of replicas of one artifact.

    Every replica's cumulative counters are added once (by replica id, through
    `serving.monitor.Monitor.merge`) and tested as one window.

    Returns
    -------
    dict
        ``GET /monitor``'s shape (``last_window`` holds the merged window, unless no
        row was counted), plus ``replicas``: per URL, the replica id, the rows it had
        counted and whether it was ``counted`` (False: a replica already merged
        through another URL).

    Raises
    ------
    SnapshotError
        A snapshot does not fit `profile` or is malformed; the message names its URL.

    Examples
    --------
    >>> import numpy as np
    >>> from featurekit.monitoring.profile import build_profile
    >>> from serving.monitor import Monitor
    >>> profile = build_profile({"x": np.arange(500.0)}, {})
    >>> a = Monitor(profile)
    >>> a.observe({"x": np.arange(300.0).reshape(-1, 1)})
    >>> out = merge_snapshots(profile, [("a", a.snapshot()), ("a2", a.snapshot())])
    >>> out["rows_total"], [r["counted"] for r in out["replicas"]]
    (300, [True, False])
    """
    from featurekit.monitoring.counts import Counts
    from serving.monitor import Monitor

    rows: dict[str, int] = {}
    described = []
    for url, snapshot in snapshots:
        try:
            count = sum(
                Counts.from_dict(profile, snapshot[part]).rows
                for part in ("total", "current")
            )
            replica = str(snapshot["replica"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SnapshotError(f"{url}: cannot merge this snapshot: {exc}") from None
        described.append(
            {
                "url": url,
                "replica": replica,
                "rows": count,
                "counted": replica not in rows,
            }
        )
        rows[replica] = max(count, rows.get(replica, 0))
    # one window holding every row: it closes (and is tested) as the last rows arrive
    monitor = Monitor(profile, window=max(sum(rows.values()), 1), persistence=(1, 1))
    for url, snapshot in snapshots:
        try:
            monitor.merge(snapshot)
        except (ValueError, KeyError, TypeError) as exc:
            raise SnapshotError(f"{url}: cannot merge this snapshot: {exc}") from None
    status = monitor.status()
    status["replicas"] = described
    return status


def _run(args: argparse.Namespace) -> int:
    from featurekit.artifact import read

    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
    try:
        profile = read(args.artifact).profile  # every sha256 checked
        if profile is None:
            raise ArtifactError(
                f"Artifact {args.artifact!r} has no profile.json; re-export it to "
                "monitor drift."
            )
        snapshots = [
            (url, fetch_snapshot(url, token, args.timeout)) for url in args.urls
        ]
        status = merge_snapshots(profile, snapshots)
    except (ArtifactError, SnapshotError) as exc:
        message = " ".join(str(exc).split())
        print(f"featurekit monitor merge: error: {message}", file=sys.stderr)
        return _EXIT_ERROR
    last = status["last_window"]
    verdict = "insufficient data" if last is None else last["verdict"]
    if args.json:
        print(json.dumps(status, indent=2, default=str, allow_nan=False))
    else:
        print(_summary(status, verdict))
    return _EXIT_DRIFT if verdict == "drift" else _EXIT_OK


def _summary(status: dict[str, Any], verdict: str) -> str:
    from featurekit.monitoring.report import summary_row

    lines = []
    for r in status["replicas"]:
        note = "" if r["counted"] else ", already counted through another URL"
        lines.append(f"{r['url']}: replica {r['replica'][:12]}, {r['rows']} rows{note}")
    features = (
        [] if status["last_window"] is None else status["last_window"]["features"]
    )
    columns = ["feature", "verdict", "signals", "effect / threshold", "p / adjusted p"]
    table = [columns] + [[summary_row(f)[c] for c in columns] for f in features]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    if features:
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in table
        ]
    drifted = [f["feature"] for f in features if f["verdict"] == "drift"]
    result = f"result: {verdict} over {status['rows_total']} rows"
    if drifted:
        result += f" ({', '.join(drifted)})"
    return "\n".join([*lines, result])
