"""``POST /labels``: late labels for served rows, joined by id.

``{"ids": [...], "labels": [...], "timestamps": [...]}`` (timestamps optional: when
each outcome happened, ISO 8601 or epoch seconds). Labels are checked against the
model's classes (or as numbers for a regressor) and appended to the prediction log
(``DIR/labels/``); the answer says how many were accepted and lists the ids that
were never served (their labels are kept: the row may be in another replica's log).
The online figures (``/metrics``, ``/monitor``) take in every label whose row is
found.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from featurekit.outcomes.labels import check_labels, write_labels

from .predictor import Predictor
from .responses import bad_request, not_found
from .state import AppState, parse_json, state_of

__all__ = ["MAX_UNKNOWN_LISTED", "ROUTES"]

#: Unknown ids listed in one answer (and looked up on disk); the count covers all.
MAX_UNKNOWN_LISTED = 1000
_DISK = threading.Lock()


async def labels(request: Request) -> Response:
    state = state_of(request)
    p = state.loaded()
    if p.log is None:
        raise not_found(
            "This server keeps no prediction log, so labels have nothing to join: "
            "start it with --log DIR."
        )
    body = await state.read_body(request)
    return await state.run(_labels, state, p, body)


def _labels(state: AppState, p: Predictor, body: bytes) -> tuple[int, bytes]:
    payload = parse_json(body)
    if not isinstance(payload, dict) or not {"ids", "labels"} <= set(payload):
        raise bad_request(
            'Send {"ids": [...], "labels": [...]} (and optionally "timestamps").'
        )
    extra = sorted(set(payload) - {"ids", "labels", "timestamps"})
    if extra:
        raise bad_request(f"Unknown fields {extra}; send ids, labels and timestamps.")
    ids = payload["ids"]
    if isinstance(ids, list):
        state.check_rows(len(ids))
    try:
        batch = check_labels(
            ids,
            payload["labels"],
            kind=p.kind,
            classes=p.manifest.get("classes"),
            timestamps=payload.get("timestamps"),
        )
    except ValueError as exc:
        return 422, orjson.dumps({"error": str(exc)})
    if not batch[0]:
        raise bad_request("The request has 0 labels.")
    assert p.log is not None
    write_labels(p.log.root, batch)
    state.metrics.labels.labels("accepted").inc(len(batch[0]))
    unknown = _join(state, p, batch[0], batch[1])
    state.metrics.labels.labels("unknown_id").inc(len(unknown))
    out: dict[str, Any] = {
        "accepted": len(batch[0]),
        "unknown": len(unknown),
        "unknown_ids": unknown[:MAX_UNKNOWN_LISTED],
    }
    return 200, orjson.dumps(out)


def _join(state: AppState, p: Predictor, ids: list[str], texts: list[str]) -> list[str]:
    """Feed labels to the online figures; returns the ids found nowhere."""
    online = state.online
    if online is None:
        return []
    missing = online.label(ids, texts)
    if not missing:
        return []
    # older rows than the online memory holds: look for them in the log on disk, one
    # lookup at a time (a scan of the log is not something clients may pile up)
    from featurekit.outcomes.reading import PredictionLog

    assert p.log is not None
    found: dict[str, Any] = {}
    if _DISK.acquire(blocking=False):
        try:
            p.log.flush()
            found = PredictionLog(p.log.root).answers(
                missing[:MAX_UNKNOWN_LISTED], model=p.sha256
            )
        finally:
            _DISK.release()
    by_id = dict(zip(ids, texts, strict=True))
    online.found(list(found), [by_id[i] for i in found], found)
    unknown = [i for i in missing if i not in found]
    online.count_unknown(len(unknown))
    return unknown


ROUTES = [Route("/labels", labels, methods=["POST"])]
