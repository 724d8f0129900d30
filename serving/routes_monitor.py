"""Operations routes: drift status and snapshots under ``/monitor``, and ``/metrics``."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .monitor import Monitor
from .responses import bad_request, not_found
from .state import AppState, parse_json, state_of

__all__ = ["ROUTES"]


async def scrape(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(state_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def monitor_status(request: Request) -> Response:
    state = state_of(request)
    m = _monitor_of(state)

    def status() -> tuple[int, bytes]:
        out = m.status()
        if state.online is not None:  # labels joined to served rows (--log)
            out["online"] = state.online.status()
        if state.shadow is not None:  # the challenger of --shadow
            out["shadow"] = state.shadow.status()
        elif state.shadow_error is not None:
            out["shadow"] = {"error": state.shadow_error}
        return 200, orjson.dumps(out)

    return await state.run(status)


async def monitor_snapshot(request: Request) -> Response:
    """GET: this process's drift counts; POST (admin token): merge another replica's."""
    state = state_of(request)
    m = _monitor_of(state)
    if request.method == "GET":
        return await state.run(lambda: (200, orjson.dumps(m.snapshot())))
    state.require_admin(request)
    body = await state.read_body(request)

    def merge() -> tuple[int, bytes]:
        snapshot = parse_json(body)
        if not isinstance(snapshot, dict):
            raise bad_request("A snapshot is a JSON object: what GET returns.")
        try:
            added = m.merge(snapshot)
        except (ValueError, KeyError, TypeError) as exc:
            raise bad_request(f"Cannot merge this snapshot: {exc}") from None
        return 200, orjson.dumps(
            {
                "merged": True,
                "rows_added": added,
                "rows_total": m.status()["rows_total"],
            }
        )

    return await state.run(merge)


def _monitor_of(state: AppState) -> Monitor:
    m = state.loaded().monitor
    if m is None:
        raise not_found(
            "Drift monitoring is off: the artifact has no profile.json (re-export "
            "it) or the server was started with --no-monitor."
        )
    return m


ROUTES = [
    Route("/metrics", scrape, methods=["GET"]),
    Route("/monitor", monitor_status, methods=["GET"]),
    Route("/monitor/snapshot", monitor_snapshot, methods=["GET", "POST"]),
]
