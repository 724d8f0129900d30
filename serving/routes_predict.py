"""``POST /predict``: plain JSON records in, labels or predictions out.

A classifier answers its labels and probabilities, or, without ``predict_proba``,
its ``decision_function`` (``model.outputs`` names what the model answers).

``{"records": [{column: value, ...}, ...]}`` or one record object;
``?on_error=split`` scores the rows that pass the contract and lists the others.
``{"records": [...], "ids": [...]}`` names the rows by the client's own keys (a loan
id); the answer's ``"ids"`` holds them, or the ids the server made
(``<request id>-<row>``), which labels are posted against later (``POST /labels``).
"""

from __future__ import annotations

import logging
import reprlib
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from . import bodies
from .answers import unanswerable
from .batching import Batcher
from .ids import request_id, row_ids
from .limits import IN_FLIGHT, INLINE_BODY_BYTES
from .predictor import Predictor
from .responses import (
    HTTPError,
    bad_request,
    contract_error,
    error_response,
    failure_rows,
    internal_error,
)
from .split import Split
from .state import AppState, parse_json, state_of

__all__ = ["ROUTES", "answer"]

_log = logging.getLogger("featurekit.serving")
_JSON = (b"content-type", b"application/json")
#: Requests in progress where the server does not count them: batch.
_MANY = (None, None)


async def predict(request: Request) -> Response:
    state = state_of(request)
    p = state.loaded()
    # parse the query string only when there is one: most calls have none
    query = request.scope.get("query_string")
    mode = request.query_params.get("on_error", "raise") if query else "raise"
    if mode not in ("raise", "split"):
        raise bad_request(f"on_error must be 'raise' or 'split', got {mode!r}.")
    body = await state.read_body(request)
    rid = request_id(request.headers.get("x-request-id"))
    return await state.run(_predict, state, p, body, mode == "split", rid)


async def answer(
    state: AppState,
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
) -> int | None:
    """``POST /predict`` of plain JSON, as raw ASGI: the status it answered.

    The common request, on the fewest steps: no routing, no `Request`, the headers
    read once. It answers as `predict` does, byte for byte, with the same checks
    (`serving.bodies.receive_body`: size and time; `_predict`: shape, rows,
    contract). A small body is scored on the event loop (`INLINE_BODY_BYTES`), a
    larger one on the worker threads. None, having read nothing, declines anything
    else (a query string, a compressed or non-JSON body, a model not yet loaded):
    `predict` answers it.
    """
    p = state.predictor
    headers = scope["headers"]
    if (
        p is None
        or scope.get("query_string")
        or not bodies.plain(headers, state.limits)
    ):
        return None
    sent = next((v for k, v in headers if k == b"x-request-id"), None)
    try:
        body = await bodies.receive_body(receive, state.limits)
        rid = request_id(None if sent is None else sent.decode("latin-1"))
        if len(body) <= INLINE_BODY_BYTES:
            # alone on the server (featurekit serve's protocol counts the requests in
            # progress), a request has nobody to wait for: scored at once
            alone = len(scope.get(IN_FLIGHT, _MANY)) < 2
            batcher = None if alone else _batcher(state, p)
            if batcher is None:
                status, data = _predict(state, p, body, False, rid)
            else:
                records, ids = _parse(state, body, rid)
                status, data = await batcher.answer(records, ids, rid)
        else:
            status, data = await state.call(_predict, state, p, body, False, rid)
        out = [_JSON, (b"content-length", b"%d" % len(data))]
    except ClientDisconnect:
        return 499
    except Exception as exc:
        if isinstance(exc, HTTPError):
            response = error_response(exc)
        else:  # as Starlette's handler would, with the traceback in the log
            _log.exception("POST /predict failed")
            response = internal_error(exc)
        status, data = response.status_code, bytes(response.body)
        out = response.raw_headers
    if state.model_header is not None:
        out.append((b"x-featurekit-model", state.model_header))
    try:
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": data})
    except (OSError, RuntimeError):  # the client hung up (`serving.app._Observed`)
        return 499
    return status


def _predict(
    state: AppState, p: Predictor, body: bytes, split: bool, rid: str
) -> tuple[int, bytes]:
    records, ids = _parse(state, body, rid)
    got = state.score(p, records, p.outputs, split, ids, rid)
    return 200, _answered(p, got, ids)


def _parse(state: AppState, body: bytes, rid: str) -> tuple[list[Any], list[str]]:
    """The records of a /predict body and their ids (sent, or made from `rid`)."""
    payload = parse_json(body)
    records = _records(payload)
    state.check_rows(len(records))
    ids = row_ids(
        payload.get("ids")
        if isinstance(payload, dict) and "records" in payload
        else None,
        len(records),
        rid,
    )
    return records, ids


def _answered(p: Predictor, got: Any, ids: list[str]) -> bytes:
    """The JSON body of a 200 answer: the model, the ids, then what it answered."""
    model, classes = _constant_parts(p)
    out: dict[str, Any] = {"model": model}
    scores = got.scores if isinstance(got, Split) else got
    out["ids"] = ids
    if "explored" in scores:  # --explore: the decisions the policy served, tagged
        out["explored"] = scores["explored"].tolist()
    if p.kind == "classifier":
        out["classes"] = classes
        out["labels"] = scores["label"].tolist()
        # probabilities, or the decision function of a model without them
        for name in ("probabilities", "decision_function"):
            if name in scores:
                out[name] = scores[name].tolist()
    else:
        out["predictions"] = scores["prediction"].tolist()
    if isinstance(got, Split):
        out["rows"] = len(got.passed)
        out["scored"] = int(got.passed.sum())
        out["passed"] = got.passed.tolist()
        out["failures"] = failure_rows(got.failures)
        out["failures_total"] = len(got.failures)
    return orjson.dumps(out)


def _batcher(state: AppState, p: Predictor) -> Batcher | None:
    """The dynamic batcher of `p` in this app (`serving.batching`), or None.

    None with batching off, with a log, a shadow or exploration (whose records
    carry each request's id), and for a graph whose golden rows answer otherwise in
    a batch (`Predictor.rows_independent`, checked as the model loads).
    """
    if not state.batching or p.log is not None or p.explores or state.shadow:
        return None
    batcher = state.batcher
    if batcher is None or batcher.predictor is not p:  # a model (re)loaded
        if not p.rows_independent:
            return None

        def alone(records: list[Any], ids: list[str], rid: str) -> tuple[int, bytes]:
            got = state.score(p, records, p.outputs, False, ids, rid)
            return 200, _answered(p, got, ids)

        def refuse() -> BaseException:
            return contract_error(
                unanswerable(p.features, [0], 1),
                lambda failures: state.metrics.contract_failures(failures, 1),
            )

        batcher = state.batcher = Batcher(
            p,
            lambda scores, ids: _answered(p, scores, ids),
            alone,
            refuse,
            state.metrics.rows.inc,
        )
    return batcher


#: Per predictor, what every answer repeats, serialised once (`_constant_parts`).
_CONSTANT: weakref.WeakKeyDictionary[Predictor, tuple[Any, Any]] = (
    weakref.WeakKeyDictionary()
)


def _constant_parts(p: Predictor) -> tuple[Any, Any]:
    """The answer's ``model`` object and ``classes`` list, as JSON made once."""
    parts = _CONSTANT.get(p)
    if parts is None:
        model = {
            "name": p.name,
            "version": p.version,
            "sha256": p.sha256,
            "outputs": p.outputs,
        }
        classes = p.classes_.tolist() if p.kind == "classifier" else None
        parts = _CONSTANT[p] = (
            orjson.Fragment(orjson.dumps(model)),
            orjson.Fragment(orjson.dumps(classes)),
        )
    return parts


#: What a record's value may not be: nested JSON.
_NESTED = (list, dict)


def _records(payload: Any) -> list[Any]:
    """The records of a /predict body, each an object of scalars; else 400."""
    if isinstance(payload, dict):
        wrapped = "records" in payload and (
            len(payload) == 1 or (len(payload) == 2 and "ids" in payload)
        )
        records = payload.get("records") if wrapped else [payload]
    else:
        records = None
    if not isinstance(records, list):
        raise bad_request(
            'Send {"records": [{column: value, ...}, ...]} or a single record object; '
            f"got {type(payload).__name__}"
            + (" with a non-list 'records'" if isinstance(payload, dict) else "")
            + "."
        )
    if not records:
        raise bad_request("The request has 0 rows; send at least one record.")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise bad_request(
                f"Record {i} is a {type(rec).__name__}, not an object of column to "
                "value."
            )
        for column, value in rec.items():
            if isinstance(value, _NESTED):
                # a value is a scalar; nested JSON is malformed, however deep it goes
                raise bad_request(
                    f"Record {i}: column {reprlib.repr(column)} holds a JSON "
                    f"{'list' if isinstance(value, list) else 'object'}; values must "
                    "be numbers, strings, booleans or null."
                )
    return records


ROUTES = [Route("/predict", predict, methods=["POST"])]
