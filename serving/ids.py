"""Request ids and row ids: what names a served row so that its label can find it.

A request's id is its ``X-Request-ID`` header when that is a plain token (letters,
digits, ``.``, ``_``, ``:``, ``-``; at most 128 characters), else one the server
makes. A row's id is the client's own (``"ids"`` in /predict, ``parameters.ids`` in
OIP) or ``<request id>-<row>``.
"""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any

from featurekit.outcomes.labels import check_id

from .responses import bad_request

__all__ = ["request_id", "row_ids"]

_TOKEN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_PREFIX = secrets.token_hex(4)
_COUNTER = itertools.count()


def request_id(header: str | None) -> str:
    """The client's ``X-Request-ID`` if it is a plain token, else a new random id.

    >>> request_id("abc-1")
    'abc-1'
    >>> len(request_id("no spaces please"))
    16
    """
    if header is not None and _TOKEN.fullmatch(header):
        return header
    # a random process prefix and a counter: unique across replicas and restarts,
    # without drawing random bytes per request
    return f"{_PREFIX}{next(_COUNTER):08x}"


def row_ids(ids: Any, n: int, rid: str) -> list[str]:
    """The client's ids checked (one per record, unique), or ``<rid>-<row>``; else 400."""
    if ids is None:
        return [f"{rid}-{i}" for i in range(n)]
    if not isinstance(ids, list):
        raise bad_request(
            f'"ids" must be a list with one id per record, got {type(ids).__name__}.'
        )
    if len(ids) != n:
        raise bad_request(
            f'"ids" has {len(ids)} entries for {n} records; send one id per record.'
        )
    try:
        out = [check_id(v, i) for i, v in enumerate(ids)]
    except ValueError as exc:
        raise bad_request(f'"ids": {exc}.') from None
    if len(set(out)) != n:
        seen: set[str] = set()
        dup = next(i for i in out if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise bad_request(f'"ids" repeats {dup!r}; each row needs an id of its own.')
    return out
