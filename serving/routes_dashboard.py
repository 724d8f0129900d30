"""``GET /dashboard``: the live monitoring page of the model this server answers with.

One HTML page (`serving.dashboard_html`) with drift per feature over the recent
windows, confidence, the online metrics with their intervals and the label coverage,
from the same objects ``/monitor`` reads. It is self-contained, and its
Content-Security-Policy lets the browser fetch nothing but this server's own
``/monitor`` and ``/dashboard``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from featurekit.monitoring.profile import OUTPUT_SCORE

from .dashboard_html import render
from .predictor import Predictor
from .state import AppState, state_of

__all__ = ["ROUTES"]

#: No external resource at all: inline style and script, requests to this server only.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'"
)


def _gather(state: AppState, p: Predictor) -> dict[str, Any]:
    """What the page shows, read from the monitor and the online figures now."""
    monitor: dict[str, Any] | None = None
    m = p.monitor
    if m is not None:
        score = m.profile["features"].get(OUTPUT_SCORE) or {}
        monitor = {
            "status": m.status(),
            "windows": m.recent(),
            "confidence_reference": score.get("confidence_mean"),
        }
    online = state.online
    return {
        "model": {"name": p.name, "version": p.version, "sha256": p.sha256},
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "log": p.log is not None,
        "monitor": monitor,
        "online": None
        if online is None or p.log is None
        else {**online.status(), "blocks": online.blocks()},
    }


async def dashboard(request: Request) -> Response:
    state = state_of(request)
    p = state.loaded()

    def page() -> Response:
        return HTMLResponse(
            render(_gather(state, p)),
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
        )

    return await state.run(page)


ROUTES = [Route("/dashboard", dashboard, methods=["GET"])]
