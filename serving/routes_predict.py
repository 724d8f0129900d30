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

import reprlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .ids import request_id, row_ids
from .predictor import Predictor
from .responses import bad_request, failure_rows
from .split import Split
from .state import AppState, parse_json, state_of

__all__ = ["ROUTES"]


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


def _predict(
    state: AppState, p: Predictor, body: bytes, split: bool, rid: str
) -> tuple[int, bytes]:
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
    got = state.score(p, records, p.outputs, split, ids, rid)
    out: dict[str, Any] = {
        "model": {
            "name": p.name,
            "version": p.version,
            "sha256": p.sha256,
            "outputs": p.outputs,
        }
    }
    scores = got.scores if isinstance(got, Split) else got
    out["ids"] = ids
    if "explored" in scores:  # --explore: the decisions the policy served, tagged
        out["explored"] = scores["explored"].tolist()
    if p.kind == "classifier":
        out["classes"] = p.classes_.tolist()
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
    return 200, orjson.dumps(out)


def _records(payload: Any) -> list[Any]:
    """The records of a /predict body, each an object of scalars; else 400."""
    if isinstance(payload, dict):
        wrapped = set(payload) in ({"records"}, {"records", "ids"})
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
            if isinstance(value, list | dict):
                # a value is a scalar; nested JSON is malformed, however deep it goes
                raise bad_request(
                    f"Record {i}: column {reprlib.repr(column)} holds a JSON "
                    f"{'list' if isinstance(value, list) else 'object'}; values must "
                    "be numbers, strings, booleans or null."
                )
    return records


ROUTES = [Route("/predict", predict, methods=["POST"])]
