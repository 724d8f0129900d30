"""The OIP model-repository extension: list the model, and reload it from disk.

``POST /v2/repository/index`` and ``POST /v2/repository/models/{name}/load`` are admin
routes (``FEATUREKIT_ADMIN_TOKEN``, ``Authorization: Bearer``). A load runs the new
artifact's golden rows before it is swapped in; if they fail, the old model keeps
serving and the answer says why. SIGHUP does the same load without HTTP.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .responses import conflict, not_found, respond
from .state import AppState, state_of

__all__ = ["ROUTES"]


async def index(request: Request) -> Response:
    state = state_of(request)
    state.require_admin(request)
    return respond(200, [_entry(state)])


async def load(request: Request) -> Response:
    state = state_of(request)
    state.require_admin(request)
    name = request.path_params["name"]
    p = state.predictor
    if p is not None and name != p.name:
        raise not_found(f"Unknown model {name!r}; this server serves {p.name!r}.")
    outcome = await state.run(lambda: (200, orjson.dumps(state.reload())))
    if not state.last_reload or not state.last_reload["ok"]:
        reason = (state.last_reload or {}).get("reason", "unknown")
        raise conflict(
            f"The artifact was not swapped in; the model that was serving keeps "
            f"serving. Reason: {reason}"
        )
    return outcome


def _entry(state: AppState) -> dict[str, object]:
    p = state.predictor
    reason = state.load_error or ""
    if state.last_reload and not state.last_reload["ok"]:
        reason = f"last reload refused: {state.last_reload['reason']}"
    return {
        "name": None if p is None else p.name,
        "version": None if p is None else str(p.version),
        "sha256": None if p is None else p.sha256,
        "state": "READY" if p is not None else "UNAVAILABLE",
        "reason": reason,
    }


ROUTES = [
    Route("/v2/repository/index", index, methods=["POST"]),
    Route("/v2/repository/models/{name}/load", load, methods=["POST"]),
]
