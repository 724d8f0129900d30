"""Fuzz the real server with over a thousand hostile requests: no 5xx, no crash.

Each family of malformed input goes to a ``python -m serving`` process on loopback,
through `http.client` or a raw socket, so that the test controls every byte and
header. A test collects every wrong answer before it fails, so one run reports them
all; then it checks that the server is still ready and still scores `GOOD` exactly as
it did before any fuzzing. Every corpus is deterministic: seeded `random`, and
hypothesis with ``derandomize``.
"""

from __future__ import annotations

import copy
import functools
import http.client
import json
import random
import re
import select
import signal
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from live_server import GOOD, Server, start_server
from prometheus_client.parser import text_string_to_metric_families

MAX_BODY = 65_536
MAX_ROWS = 100
# long enough that a busy host does not turn a slow answer into a 503
TIMEOUT = 5.0
MODEL = "/v2/models/loans"
INFER = MODEL + "/infer"
VERSIONED = MODEL + "/versions/2/infer"
JSON = {"Content-Type": "application/json"}
TYPES = {"income": "FP64", "age": "INT64", "plan": "BYTES", "region": "BYTES"}
#: a template holds this string where a family puts its bytes
MARK = "@@X@@"
#: what the contract reads as a missing category: a client must not smuggle it in
SENTINEL = "\x00featurekit:missing"
#: uvicorn answers bytes that are not HTTP itself, in plain text, before the app runs
UVICORN_400 = b"Invalid HTTP request received."
DROP = object()


# -- requests and answers -------------------------------------------------------------
@dataclass
class Case:
    """One request, and what a right answer to it may be."""

    summary: str
    path: str
    body: bytes | list[bytes] | None  # a list goes out chunked
    invalid: bool = False  # only a 4xx is right
    headers: dict[str, str | bytes] = field(default_factory=lambda: dict(JSON))
    method: str = "POST"
    may_close: bool = False  # over a limit: hanging up without an answer is fine


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def put(template: Any, raw: bytes) -> bytes:
    """`template` as JSON, with the bytes `raw` where it holds `MARK`."""
    return dumps(template).replace(dumps(MARK), raw)


def infer_body(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": n,
                "datatype": t,
                "shape": [len(records)],
                "data": [r[n] for r in records],
            }
            for n, t in TYPES.items()
        ]
    }


def good_case() -> Case:
    return Case("GOOD", "/predict", dumps(GOOD))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A deep copy of `value` with the node at `path` set to `new`, or dropped."""
    if not path:
        return copy.deepcopy(new)
    out = copy.deepcopy(value)
    node = out
    for key in path[:-1]:
        node = node[key]
    if new is DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = copy.deepcopy(new)
    return out


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node below the root of a JSON value, as key paths."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    found = []
    for key, child in items:
        found += [(*prefix, key), *paths(child, (*prefix, key))]
    return found


class Client:
    """Keep-alive HTTP/1.1 over loopback that reconnects when the server hangs up."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(self, case: Case) -> tuple[int | None, bytes]:
        """The status and body, or None and what happened when no answer came."""
        while True:
            fresh = self.conn is None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=30
                )
            try:
                self.conn.request(case.method, case.path, case.body, case.headers)
                response = self.conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
                self.close()
                if fresh:  # not a stale keep-alive connection: the server hung up
                    return None, repr(exc).encode()
                continue
            if response.will_close:
                self.close()
            return response.status, data


def offence(case: Case, status: int | None, body: bytes) -> str | None:
    """What is wrong with this answer, if anything."""
    if status is None:
        return None if case.may_close else "no answer: the server hung up"
    if status >= 500:
        return "a 5xx"
    if case.invalid and not 400 <= status < 500:
        return "a malformed request not refused with a 4xx"
    if 400 <= status < 500 and case.method != "HEAD":
        try:
            error = json.loads(body)["error"]
        except (ValueError, TypeError, KeyError):
            return 'a 4xx whose body is not JSON with an "error"'
        if not isinstance(error, str) or not error:
            return 'a 4xx with an empty or non-string "error"'
    return None


def describe(case: Case, status: int | None, body: bytes, why: str) -> str:
    sent = case.body if isinstance(case.body, bytes) else b"<chunked or none>"
    return (
        f"- {why}: [{case.summary}] {case.method} {case.path[:80]} "
        f"body={sent[:100]!r} -> {status} {body[:200]!r}"
    )


def report(offences: list[str], sent: int, family: str, problems: list[str]) -> str:
    more = f"\n... and {len(offences) - 40} more" if len(offences) > 40 else ""
    health = "\nand then:\n" + "\n".join(problems) if problems else ""
    shown = "\n".join(offences[:40])
    head = f"{len(offences)} of {sent} {family} requests got a wrong answer:"
    return f"{head}\n{shown}{more}{health}"


# -- the families ---------------------------------------------------------------------
def _templates() -> list[tuple[str, Any]]:
    """Valid requests, the seeds of the mutation and substitution families."""
    second = {**GOOD, "income": None, "age": 50, "plan": "basic", "region": None}
    labelled = {"id": "r1", **infer_body([GOOD]), "outputs": [{"name": "label"}]}
    return [
        ("/predict", {"records": [GOOD, second]}),
        ("/predict", GOOD),
        (INFER, infer_body([GOOD, second])),
        (VERSIONED, labelled),
    ]


_INSERTS = (
    b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"null", b"NaN", b"-",
    b"1e999", b"\x00", b"\xff", b"\xc3", b" ", b"\\u", b"\xef\xbb\xbf", b"true",
)  # fmt: skip


def mutated() -> list[Case]:
    """Valid requests with bytes flipped, deleted, inserted, duplicated or cut off."""
    rng = random.Random(20_240_601)
    seeds = [(path, dumps(body)) for path, body in _templates()]
    kinds = ("flip", "delete", "insert", "duplicate", "truncate")
    cases = []
    for i in range(320):
        path, valid = seeds[i % len(seeds)]
        kind = kinds[i // len(seeds) % len(kinds)]
        data = bytearray(valid)
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(data) or 1)
            if kind == "flip" and data:
                data[k] ^= 1 << rng.randrange(8)
            elif kind == "delete":
                del data[k : k + rng.randint(1, 8)]
            elif kind == "insert":
                data[k:k] = rng.choice(_INSERTS)
            elif kind == "duplicate":
                data[k:k] = data[k : k + rng.randint(1, 16)]
            else:
                data = data[:k]
                break
        cases.append(Case(f"{kind} #{i}", path, bytes(data)))
    return cases


_CODECS: dict[str, Callable[[str], bytes]] = {
    "utf-16": lambda t: t.encode("utf-16"),
    "utf-16-le": lambda t: t.encode("utf-16-le"),
    "utf-32": lambda t: t.encode("utf-32"),
    "latin-1": lambda t: t.encode("latin-1"),
    "cp1252": lambda t: t.encode("cp1252"),
    "utf-8 BOM": lambda t: b"\xef\xbb\xbf" + t.encode(),
    "utf-16 BOM then utf-8": lambda t: b"\xff\xfe" + t.encode(),
}
#: inside a JSON string: bytes that are not UTF-8, and escapes that are not JSON
_NOT_UTF8 = {
    "overlong slash": b"\xc0\xaf", "lone continuation": b"\x80",
    "utf-8 encoded surrogate": b"\xed\xa0\x80", "beyond U+10FFFF": b"\xf4\x90\x80\x80",
    "5-byte sequence": b"\xf8\x88\x80\x80\x80", "cut sequence": b"\xe2\x82",
    "raw NUL": b"\x00", "raw newline": b"\n", "lone high surrogate": b"\\ud800",
    "lone low surrogate": b"\\udc00", "reversed pair": b"\\udc00\\ud800",
    "bad escape": b"\\x41", "short escape": b"\\u12G",
}  # fmt: skip
#: inside a JSON string: odd but valid
_ODD_UTF8 = {
    "escaped NUL": b"\\u0000", "escaped pair": b"\\ud83d\\ude00",
    "emoji": "🦀".encode(), "right-to-left override": "\u202e".encode(),
    "zero-width joiner": "\u200d".encode(), "raw DEL and C1": b"\x7f\xc2\x85",
    "the missing sentinel": dumps(SENTINEL)[1:-1],
}  # fmt: skip


def encodings() -> list[Case]:
    """Bytes that are not UTF-8 JSON: BOMs, UTF-16/32, latin-1, broken sequences."""
    record = {**GOOD, "region": "zürich"}
    texts = {"/predict": record, INFER: infer_body([record])}
    latin = {"Content-Type": "application/json; charset=latin-1"}
    cases = []
    for path, body in texts.items():
        text = json.dumps(body, ensure_ascii=False)
        cases.append(
            Case("latin-1, declared", path, text.encode("latin-1"), True, latin)
        )
        for name, encode in _CODECS.items():
            cases.append(Case(f"whole body {name}", path, encode(text)))
    for column in ("plan", "region"):
        for name, chunk in {**_NOT_UTF8, **_ODD_UTF8}.items():
            invalid = name in _NOT_UTF8 or column == "plan"
            record = {**GOOD, column: MARK}
            body = put(record, b'"ab' + chunk + b'cd"')
            cases.append(Case(f"{column} {name}", "/predict", body, invalid))
            body = put(infer_body([record]), b'"' + chunk + b'"')
            cases.append(Case(f"{column} tensor {name}", INFER, body, invalid))
    return cases


_LITERALS = (
    b"NaN", b"nan", b"Infinity", b"-Infinity", b"inf", b"+1", b"1e400", b"-1e400",
    b"1" + b"0" * 400, b"-" + b"9" * 400, b"18446744073709551615",
    b"18446744073709551616", b"9223372036854775808", b"-9223372036854775809",
    b"1e-400", b"-0", b"0x10", b"01", b".5", b"5.", b"1e", b"undefined", b"None",
    b"True", b"1_000",
)  # fmt: skip


def literals() -> list[Case]:
    """NaN, Infinity, huge and not-quite numbers wherever a value goes."""
    one = infer_body([GOOD])
    spots = {
        "income": ("/predict", {**GOOD, "income": MARK}),
        "age": ("/predict", {**GOOD, "age": MARK}),
        "plan": ("/predict", {**GOOD, "plan": MARK}),
        "a record": ("/predict", {"records": [GOOD, MARK]}),
        "FP64 data": (INFER, replaced(one, ("inputs", 0, "data"), [MARK])),
        "INT64 data": (INFER, replaced(one, ("inputs", 1, "data"), [MARK])),
        "a shape": (INFER, replaced(one, ("inputs", 0, "shape"), [MARK])),
        "the body": ("/predict", MARK),
    }
    # no `invalid`: a number the contract takes (a big income, 0, 1e-400) gets 200
    return [
        Case(f"{literal[:20]!r} as {spot}", path, put(template, literal))
        for spot, (path, template) in spots.items()
        for literal in _LITERALS
    ]


_NESTS: dict[str, Callable[[int], bytes]] = {
    "arrays": lambda d: b"[" * d + b"]" * d,
    "objects": lambda d: b'{"a":' * d + b"1" + b"}" * d,
    "open arrays": lambda d: b"[" * d,
}


def nesting() -> list[Case]:
    """Arrays and objects nested up to 10,000 deep, closed and left open."""
    one, bad_plan = infer_body([GOOD]), {**GOOD, "plan": MARK}
    spots = {
        "the body": ("/predict", MARK),
        "income": ("/predict", {**GOOD, "income": MARK}),
        "plan, split": ("/predict?on_error=split", {"records": [GOOD, bad_plan]}),
        "records": ("/predict", {"records": MARK}),
        "tensor data": (INFER, replaced(one, ("inputs", 0, "data"), MARK)),
        "an infer body": (INFER, MARK),
    }
    cases = []
    for spot, (path, template) in spots.items():
        for shape, make in _NESTS.items():
            for depth in (100, 990, 1000, 1020, 1023, 1024, 1025, 10_000):
                body = put(template, make(depth))
                # split mode refuses the row of a readable body and answers 200
                invalid = "split" not in spot or shape == "open arrays"
                big = len(body) > MAX_BODY
                summary = f"{shape} {depth} deep as {spot}"
                cases.append(Case(summary, path, body, invalid, may_close=big))
    return cases


def _at_size(template: Any, size: int) -> bytes:
    short = put(template, b'""')
    return put(template, b'"' + b"x" * (size - len(short)) + b'"')


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def sizes() -> list[Case]:
    """Bodies at and over the byte limit, batches at and over the row limit."""
    one = infer_body([GOOD])
    huge = {  # where a huge string goes, and whether that alone is refused
        "plan": ("/predict", {**GOOD, "plan": MARK}, True),
        "region": ("/predict", {**GOOD, "region": MARK}, False),
        "a column name": ("/predict", {**GOOD, MARK: 1}, False),
        "a tensor name": (INFER, replaced(one, ("inputs", 0, "name"), MARK), True),
        "the id": (INFER, {"id": MARK, **one}, False),
    }
    cases = []
    for what, (path, template, invalid) in huge.items():
        body = _at_size(template, MAX_BODY)
        cases.append(Case(f"{what} fills the limit", path, body, invalid))
        body = _at_size(template, MAX_BODY + 1)
        cases.append(Case(f"{what} 1 byte over", path, body, True, may_close=True))
    for times in (4, 16):
        records = [GOOD] * (times * MAX_BODY // len(dumps(GOOD)))
        body = dumps({"records": records})
        cases.append(
            Case(f"{times}x the limit", "/predict", body, True, may_close=True)
        )
    fill = _at_size({**GOOD, "region": MARK}, MAX_BODY)
    over = _at_size({**GOOD, "region": MARK}, 4 * MAX_BODY)
    rows, too_many = [GOOD] * MAX_ROWS, [GOOD] * (MAX_ROWS + 1)
    nulls = infer_body([dict.fromkeys(TYPES)] * 2000)
    long_data = replaced(one, ("inputs", 0, "data"), [1.5] * 10_000)
    extra = {**GOOD, **{f"k{i}": i for i in range(3000)}}
    cases += [
        Case("chunked at the limit", "/predict", _chunks(fill, 1024)),
        Case("chunked 1 byte over", "/predict", [fill, b" "], True, may_close=True),
        Case("chunked 4x over", "/predict", _chunks(over, 8192), True, may_close=True),
        Case("chunked and empty", "/predict", [], True),
        Case("no body", "/predict", None, True),
        Case("empty body", INFER, b"", True),
        Case("whitespace", "/predict", b" \r\n\t ", True),
        Case(f"{MAX_ROWS} records", "/predict", dumps({"records": rows})),
        Case(f"{MAX_ROWS} rows of tensors", INFER, dumps(infer_body(rows))),
        Case("a row over, as records", "/predict", dumps({"records": too_many}), True),
        Case("a row over, as tensors", INFER, dumps(infer_body(too_many)), True),
        Case("5,000 empty records", "/predict", dumps({"records": [{}] * 5000}), True),
        Case("2,000 rows of null", INFER, dumps(nulls), True),
        Case("10,000 values for [1]", INFER, dumps(long_data), True),
        Case("3,000 extra columns", "/predict", dumps(extra)),
    ]  # fmt: skip
    return cases


def _tensor_edits(k: int, tensor: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(path, value, invalid) that break input tensor `k`, and a few that don't."""
    at, name, datatype = ("inputs", k), tensor["name"], tensor["datatype"]
    x0, x1 = tensor["data"]
    wrong = (
        ["BYTES", "BOOL"] if datatype != "BYTES" else ["FP64", "INT64", "BOOL", "FP32"]
    )
    edits: list[tuple[Any, ...]] = [
        *[(at, v, True) for v in (None, 1, name, [], [tensor], DROP)],
        *[((*at, "name"), v, True)
          for v in (DROP, None, 1, [], {}, True, "", name.upper(), name + " ")],
        *[((*at, "datatype"), v, True)
          for v in (DROP, None, 64, [], datatype.lower(), "FLOAT64", "FP16", "UINT8",
                    "STRING", "INT8", "BF16", "", *wrong)],
        *[((*at, "shape"), v, True)
          for v in (DROP, None, 2, "2", {}, [], [-1], [1, 2], [2, 2], [2, 1, 1], [1],
                    [3], [0], [2.0], ["2"], [True, 1], [-2], [2, 0], [2, -1],
                    [18446744073709551615], [10**18])],
        ((*at, "shape"), [2, 1], False),
        *[((*at, "data"), v, True)
          for v in (DROP, None, "abc", {}, 1, [], [x0], [x0, x1, x0], [[x0], [x1]],
                    [{"a": 1}, x1], [[x0, x1]], [[[x0]], [[x1]]])],
        ((*at, "parameters"), {"binary_data_size": 16}, True),
        *[((*at, "parameters"), v, False) for v in ("x", [], {"content_type": "str"})],
    ]  # fmt: skip
    return edits


#: per input tensor, data of the right length: (values, invalid)
_TENSOR_DATA: dict[int, list[tuple[list[Any], bool]]] = {
    0: [(["1", "2"], True), ([True, False], True), (["NaN", "Infinity"], True),
        ([[1], 2], True), ([-1, 1], True), ([None, None], False),
        ([1e308, 5e-324], False), ([18446744073709551615, 1], False)],
    1: [([1.5, 2.0], True), ([37.0, 50.0], True), ([9223372036854775808, 1], True),
        ([18446744073709551615, 1], True), (["37", "50"], True), ([True, 1], True),
        ([None, 37], True), ([1500, 37], True), ([17, 37], True),
        ([-9223372036854775808, 37], True)],
    2: [([1, 2], True), ([True, False], True), ([None, "plus"], True),
        (["gold", "plus"], True), (["PLUS", "plus"], True), ([SENTINEL, "plus"], True),
        ([["plus"], ["basic"]], True)],
    3: [([1, 2], True), (["atlantis", ""], False), ([None, None], False)],
}  # fmt: skip


def oip() -> list[Case]:
    """Wrong types and shapes everywhere in an Open Inference Protocol request."""
    base = infer_body([GOOD, {**GOOD, "age": 50, "plan": "basic"}])
    tensors = base["inputs"]
    extra = {"name": "zzz", "datatype": "FP64", "shape": [2], "data": [1, 2]}
    longer = {**tensors[1], "shape": [3], "data": [30, 40, 50]}
    edits: list[tuple[Any, ...]] = [
        *[((), v, True) for v in ([], [base], "inputs", 0, None, True, {})],
        *[(("inputs",), v, True)
          for v in (DROP, None, {}, "x", 1, [], [None], [1], ["income"], [[]],
                    tensors[0], [*tensors, tensors[0]], tensors[:1] + tensors[2:],
                    [tensors[0], longer, *tensors[2:]], tensors * 30,
                    [{**t, "shape": [0], "data": []} for t in tensors])],
        (("inputs",), [*tensors, extra], False),
        *[(("id",), v, True) for v in (1, 1.5, True, [], {}, {"a": 1})],
        *[(("id",), v, False) for v in (None, "", "x" * 1000, "\x00")],
        *[(("outputs",), v, True)
          for v in ("label", {"name": "label"}, [{"name": "nope"}], [{"name": 1}],
                    [{}], ["label"], [None], 1, [{"name": "LABEL"}])],
        *[(("outputs",), v, False)
          for v in ([], None, [{"name": "label"}, {"name": "label"}],
                    [{"name": "label", "parameters": {"binary_data": True}}])],
        *[(("parameters",), v, False) for v in ("x", [], {"binary_data_output": True})],
        *[e for k, tensor in enumerate(tensors) for e in _tensor_edits(k, tensor)],
        *[(("inputs", k, "data"), v, invalid)
          for k, values in _TENSOR_DATA.items() for v, invalid in values],
    ]  # fmt: skip
    cases = []
    for i, (path, value, invalid) in enumerate(edits):
        what = "dropped" if value is DROP else f"{value!r:.40}"
        summary = f"{'/'.join(map(str, path)) or 'body'} = {what}"
        url = VERSIONED if i % 2 else INFER
        cases.append(Case(summary, url, dumps(replaced(base, path, value)), invalid))
    return cases


#: per column, a value in one record: (value, refused)
_VALUES: dict[str, list[tuple[Any, bool]]] = {
    "income": [("52000", True), ("", True), (True, True), (False, True), ([], True),
               ({}, True), ([1], True), (-1, True), (-1e-300, True), (1e308, False),
               (5e-324, False), (18446744073709551615, False), (None, False),
               (-0.0, False)],
    "age": [(1500, True), (17, True), (121, True), (37.5, True), ("37", True),
            (True, True), (None, True), (-9223372036854775808, True),
            (9223372036854775807, True), (18446744073709551615, True), (1e20, True),
            (37.0, False), (0, True), (18, False), (120, False)],
    "plan": [("gold", True), ("PLUS", True), ("plus ", True), ("", True), (None, True),
             (1, True), (True, True), (["plus"], True), ({"plus": 1}, True),
             (SENTINEL, True), ("basic", False)],
    "region": [("atlantis", False), (1, True), (True, True), ([], True), (None, False),
               ("", False), ("\x00", False), ("x" * 10_000, False), (SENTINEL, False)],
}  # fmt: skip


def predict() -> list[Case]:
    """Wrong records and wrong values for ``POST /predict``, raising and splitting."""
    bodies = (
        [], [GOOD], "x", 1, None, True, {}, {"records": None}, {"records": {}},
        {"records": "x"}, {"records": GOOD}, {"records": []}, {"records": [1]},
        {"records": [None]}, {"records": [[1, 2]]}, {"records": ["GOOD"]},
        {"records": [GOOD, 1]}, {"records": [[]]}, {"records": [{}]},
        {"records": [GOOD], "x": 1}, {"RECORDS": [GOOD]},
        {"records": [GOOD] * 2, "records ": []},
    )  # fmt: skip
    cases = [Case(f"body = {v!r:.40}", "/predict", dumps(v), True) for v in bodies]
    for column, values in _VALUES.items():
        # a column absent from one record of a batch is missing there, which only
        # the non-nullable columns refuse; absent from every record, it is refused
        dropped = (DROP, True, column in ("age", "plan"))
        for value, refused, in_batch in [*[(v, r, r) for v, r in values], dropped]:
            bad = replaced(GOOD, (column,), value)
            what = "dropped" if value is DROP else f"{value!r:.40}"
            batch = dumps({"records": [GOOD, bad, GOOD]})
            cases += [
                Case(f"{column} = {what}", "/predict", dumps(bad), refused),
                Case(f"{column} = {what} in a batch", "/predict", batch, in_batch),
                Case(f"{column} = {what}, split", "/predict?on_error=split", batch),
            ]
    cases.append(Case("an extra column", "/predict", dumps({**GOOD, "zzz": [{}]})))
    queries = ("on_error=SPLIT", "on_error=", "on_error=split%00", "on_error=%00",
               "on_error=raise&on_error=nope", "on_error=" + "x" * 5000,
               "on_error[]=split", "%ff=%ff", "=&&&=", "x=" + "y" * 5000)  # fmt: skip
    for query in queries:
        refused = query.startswith("on_error=")  # other parameters are ignored
        path = "/predict?" + query
        cases.append(Case(f"?{query:.30}", path, dumps(GOOD), refused))
    return cases


_WRONG_PATHS = (
    "/", "/v1", "/v2/models", "/v2/models/", "/v2/models/nope", "/v2/models/LOANS",
    MODEL + "/versions/1", MODEL + "/versions/02", MODEL + "/versions/-1",
    MODEL + "/versions/%00", "/v2/models/%00", "/v2/models/%00/ready",
    MODEL + "/ready/x", "/v2/health", "/v2/health/nope", "/metrics/x",
    "/%2e%2e/%2e%2e/etc/passwd", "/v2/models/..%2f..%2fetc", "/v2/models/%ff%fe",
    "/v2/models/%E2%80%AE", "//v2", "/v2/models/loans;x=1", "/v2/models/" + "a" * 2000,
    "/v2/models/" + "%41" * 2000, "/v2/models/" + "a" * 32_000, "/" + "a/" * 20_000,
)  # fmt: skip
_WRONG_INFER = (
    "/v2/models/nope/infer", MODEL + "/versions/1/infer", MODEL + "/versions/2.0/infer",
    "/v2/models/%00/infer", MODEL + "/versions//infer", "/v2/models//infer",
    "/v2/models/LOANS/infer", MODEL + "/infer/x", "/infer", "/v2/infer", "/PREDICT",
    "/predict/x", "/v2/models/nope/versions/2/infer",
)  # fmt: skip
_METHODS = {
    "/predict": "POST", INFER: "POST", VERSIONED: "POST", "/v2/health/live": "GET",
    "/v2/health/ready": "GET", "/v2": "GET", MODEL: "GET", MODEL + "/ready": "GET",
    MODEL + "/versions/2": "GET", "/metrics": "GET",
}  # fmt: skip


def routes() -> list[Case]:
    """Unknown models and versions, wrong methods, odd and very long paths."""
    body = dumps(infer_body([GOOD]))
    cases = [Case(f"GET {p:.40}", p, None, True, {}, "GET") for p in _WRONG_PATHS]
    # a trailing slash redirects; an encoded slash is a slash
    for path in ("/v2/", MODEL + "/ready/", "/v2/models/loans%2Fready", "/metrics/"):
        cases.append(Case(f"GET {path}", path, None, False, {}, "GET"))
    cases += [Case(f"POST {path}", path, body, True) for path in _WRONG_INFER]
    for path, allowed in _METHODS.items():
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
            if method != allowed and (method, allowed) != ("HEAD", "GET"):
                summary = f"{method} {path}"
                cases.append(Case(summary, path, body, True, dict(JSON), method))
    return cases


_CONTENT_TYPES: dict[str, str | bytes] = {
    "text/plain": "text/plain", "form": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data; boundary=xyz",
    "octet-stream": "application/octet-stream",
    "json latin-1": "application/json; charset=latin-1",
    "json utf-8": "application/json; charset=utf-8", "upper": "APPLICATION/JSON",
    "problem+json": "application/problem+json", "text/json": "text/json",
    "jsonp": "application/jsonp", "bare json": "json", "no subtype": "application/",
    "any": "*/*", "semicolon": ";", "empty": "", "blank": " ",
    "json;;;": "application/json;;;", "bytes": b"\xff\xfe\x80",
    "list": "application/json, text/plain", "html": "text/html", "png": "image/png",
    "xml": "application/xml", "x-ndjson": "application/x-ndjson",
}  # fmt: skip


def content_types() -> list[Case]:
    """Every kind of Content-Type, and the binary tensor extension's header."""
    cases = []
    for path, body in (("/predict", dumps(GOOD)), (INFER, dumps(infer_body([GOOD])))):
        cases.append(Case("no Content-Type", path, body, headers={}))
        for name, value in _CONTENT_TYPES.items():
            headers: dict[str, str | bytes] = {"Content-Type": value}
            cases.append(Case(f"Content-Type {name}", path, body, headers=headers))
        for value in ("0", "16", "", "x", str(len(body))):
            headers = {**JSON, "Inference-Header-Content-Length": value}
            summary = f"Inference-Header-Content-Length {value!r}"
            # the whole body as the JSON header, no binary data: a valid infer
            valid = path == INFER and value == str(len(body))
            cases.append(Case(summary, path, body, not valid, headers))
    part = b'Content-Disposition: form-data; name="f"\r\n\r\n{}'
    for name, path, body in (
        ("form", "/predict", b"income=1&age=37&plan=plus"),
        ("multipart", "/predict", b"--xyz\r\n" + part + b"\r\n--xyz--\r\n"),
        ("octet-stream", INFER, struct.pack("<4d", 1, 2, 3, 4)),
    ):
        headers = {"Content-Type": _CONTENT_TYPES[name]}
        cases.append(Case(f"a {name} body", path, body, True, headers))
    return cases


def _binary_request(records: list[dict[str, Any]]) -> tuple[dict[str, Any], bytes]:
    """`records` as the binary tensor extension's JSON header and tensor data."""
    header = infer_body(records)
    chunks = []
    for tensor in header["inputs"]:
        values = tensor.pop("data")
        if tensor["datatype"] == "BYTES":
            data = b"".join(
                struct.pack("<I", len(v.encode())) + v.encode() for v in values
            )
        else:
            code = "d" if tensor["datatype"] == "FP64" else "q"
            data = struct.pack(f"<{len(values)}{code}", *values)
        tensor["parameters"] = {"binary_data_size": len(data)}
        chunks.append(data)
    return header, b"".join(chunks)


def binary_bodies() -> list[Case]:
    """The binary tensor extension: cut, padded, mis-sized and scrambled bodies."""
    header, data = _binary_request([GOOD, {**GOOD, "age": 50, "plan": "basic"}])
    head = dumps(header)

    def case(summary: str, body: bytes, length: Any, invalid: bool = True) -> Case:
        headers = {"Inference-Header-Content-Length": str(length)}
        return Case(summary, INFER, body, invalid, headers)

    cases = [case("valid", head + data, len(head), False)]
    cases += [
        case(f"data cut at {k}", head + data[:k], len(head)) for k in range(len(data))
    ]
    cases += [
        case(f"{k} bytes extra", head + data + b"\x00" * k, len(head))
        for k in (1, 4, 8, 1000)
    ]
    cases += [
        case(f"header length {n}", head + data, n)
        for n in (
            0,
            1,
            len(head) - 1,
            len(head) + 1,
            len(head) + len(data),
            len(head) + len(data) + 1,
            10**30,
            -1,
            "1e3",
            " 5",
            "0x10",
        )
    ]
    for k, tensor in enumerate(header["inputs"]):
        for size in (
            -1,
            tensor["parameters"]["binary_data_size"] + 1,
            0,
            "8",
            8.0,
            True,
            None,
            [],
            2**64,
        ):
            bad = copy.deepcopy(header)
            bad["inputs"][k]["parameters"]["binary_data_size"] = size
            body = dumps(bad)
            cases.append(
                case(f"inputs/{k} binary_data_size {size!r}", body + data, len(body))
            )
    rng = random.Random(16)
    for i in range(200):  # scrambled bytes: any 4xx or a 200, never a 5xx
        body = bytearray(head + data)
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(head) - 20, len(body))] = rng.randrange(256)
        cases.append(case(f"scrambled #{i}", bytes(body), len(head), False))
    return cases


def _raw_requests() -> dict[str, bytes]:
    """Bytes that break HTTP itself, to send on fresh sockets."""
    body = dumps(GOOD)
    host = b"Host: x\r\n"
    get = b"GET /v2 HTTP/1.1\r\n" + host
    post = b"POST /predict HTTP/1.1\r\n" + host
    sized = post + b"Content-Length: %d\r\n\r\n" % len(body) + body
    chunked = post + b"Transfer-Encoding: chunked\r\n"
    end = b"\r\n0\r\n\r\n"  # the last chunk
    ws = (
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    h2c = (
        b"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
    )

    def length(*values: bytes) -> bytes:
        return post + b"".join(b"Content-Length: " + v + b"\r\n" for v in values)

    return {
        "unknown method": b"BREW /predict HTTP/1.1\r\n" + host + b"\r\n",
        "asterisk target": b"GET * HTTP/1.1\r\n" + host + b"\r\n",
        "OPTIONS *": b"OPTIONS * HTTP/1.1\r\n" + host + b"\r\n",
        "no leading slash": b"GET predict HTTP/1.1\r\n" + host + b"\r\n",
        "query only": b"GET ?x=1 HTTP/1.1\r\n" + host + b"\r\n",
        "absolute form": sized.replace(b"/predict", b"http://elsewhere/predict"),
        "HTTP/0.9": b"GET /\r\n\r\n",
        "HTTP/1.0 without Host": b"GET /v2/health/live HTTP/1.0\r\n\r\n",
        "HTTP/9.9": get.replace(b"HTTP/1.1", b"HTTP/9.9") + b"\r\n",
        "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "TLS hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
        "websocket upgrade": get + ws,
        "websocket on /predict": post.replace(b"POST", b"GET") + ws,
        "h2c upgrade": get + h2c,
        "Transfer-Encoding gzip": post + b"Transfer-Encoding: gzip\r\n\r\n" + body,
        "chunked and Content-Length": chunked + b"Content-Length: 5\r\n\r\n0\r\n\r\n",
        "bad chunk size": chunked + b"\r\nzz\r\n{}" + end,
        "huge chunk size": chunked + b"\r\nffffffffffffffff\r\n{}" + end,
        "chunk extension": chunked + b"\r\n%x;a=b\r\n" % len(body) + body + end,
        "Content-Length short of the body": length(b"2") + b"\r\n{}garbage",
        "Content-Length superscript two": length(b"\xb2") + b"\r\n{}",
        "Content-Length 10^23": length(b"9" * 23) + b"\r\n{}",
        "Content-Length -1": length(b"-1") + b"\r\n{}",
        "Content-Length +2": length(b"+2") + b"\r\n{}",
        "Content-Length 1e3": length(b"1e3") + b"\r\n{}",
        "two Content-Lengths": length(b"2", b"3") + b"\r\n{}",
        "header without colon": get + b"Nocolon\r\n\r\n",
        "header name with a space": get + b"Content Type: x\r\n\r\n",
        "NUL in a header": get + b"X: a\x00b\r\n\r\n",
        "folded header": get + b"X: a\r\n b\r\n\r\n",
        "100 KB header": get + b"X: " + b"a" * 100_000 + b"\r\n\r\n",
        "2,000 headers": get + b"X: 1\r\n" * 2000 + b"\r\n",
        "100 KB path": get.replace(b"/v2", b"/v2/models/" + b"a" * 100_000) + b"\r\n",
        "raw bytes in the path": get.replace(b"/v2", b"/v2/models/\xff\xfe") + b"\r\n",
        "raw bytes in Host": get.replace(b"x", b"\xff") + b"\r\n",
        "bare LF line ends": b"GET /v2 HTTP/1.1\nHost: x\n\n",
        "Expect: 100-continue": sized.replace(host, host + b"Expect: 100-continue\r\n"),
        "three pipelined": sized * 3,
    }


def raw_exchange(port: int, data: bytes) -> list[tuple[int | None, bytes]]:
    """Send `data` on a new socket; read an answer per request, or until hung up."""
    got: list[tuple[int | None, bytes]] = []
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT + 10) as sock:
        try:
            sock.sendall(data)
        except ConnectionError as exc:
            return [(None, repr(exc).encode())]
        # read every answer: hanging up on pipelined requests is another test's bug
        while not got or got[-1][0] is not None:
            response = http.client.HTTPResponse(sock)
            try:
                response.begin()
                got.append((response.status, response.read()))
            except (ConnectionError, http.client.HTTPException, TimeoutError) as exc:
                got.append((None, repr(exc).encode()))
            finally:
                response.close()
            if len(got) >= data.count(b" HTTP/1.") or response.will_close:
                break
    return got


# -- hypothesis: arbitrary JSON -------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _drawn(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """`n` examples of `strategy`, the same ones on every run."""
    out: list[Any] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out[:n]


def arbitrary_bodies() -> list[Case]:
    """Arbitrary JSON values as whole bodies."""
    urls = ("/predict", INFER, "/predict?on_error=split", VERSIONED)
    return [
        Case(f"arbitrary body #{i}", urls[i % len(urls)], dumps(value))
        for i, value in enumerate(_drawn(JSON_VALUES, 220))
    ]


def arbitrary_substitutions() -> list[Case]:
    """Arbitrary JSON values put at any node of a valid request."""
    templates = _templates()
    which = st.integers(0, len(templates) - 1)
    cases = []
    for i, (t, where, value) in enumerate(
        _drawn(st.tuples(which, st.integers(0, 10**6), JSON_VALUES), 340)
    ):
        url, template = templates[t]
        nodes = paths(template)
        node = nodes[where % len(nodes)]
        body = dumps(replaced(template, node, value))
        cases.append(
            Case(f"#{i} {'/'.join(map(str, node))} = {value!r:.40}", url, body)
        )
    return cases


FAMILIES: dict[str, Callable[[], list[Case]]] = {
    f.__name__: f
    for f in (mutated, encodings, literals, nesting, sizes, oip, predict, routes,
              content_types, binary_bodies, arbitrary_bodies, arbitrary_substitutions)
}  # fmt: skip


@functools.cache
def corpus(family: str) -> list[Case]:
    return FAMILIES[family]()


# -- the server -----------------------------------------------------------------------
@dataclass
class Fuzzed:
    server: Server
    client: Client
    baseline: list[list[float]]  # GOOD's probabilities before any fuzzing
    checked: int = 0  # how much of the log earlier checks read


@pytest.fixture(scope="module")
def fuzzed(
    http_artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    yield from serve_fuzzed(http_artifact, log, "--timeout", f"{TIMEOUT:g}")


def serve_fuzzed(artifact: Path, log: Path, *args: str) -> Iterator[Fuzzed]:
    """The server under fuzzing, with this module's limits, checked when it stops."""
    limits = ("--max-body-bytes", str(MAX_BODY), "--max-rows", str(MAX_ROWS))
    server = start_server(artifact, log, *limits, *args, "--log-level", "warning")
    client = Client(server.port)
    try:
        status, body = client.send(good_case())
        assert status == 200, body
        yield Fuzzed(server, client, json.loads(body)["probabilities"])
    finally:
        client.close()
        code = server.stop()
    text = log.read_text()
    assert "Traceback" not in text, (
        f"{text.count('Traceback')} tracebacks:\n{text[:4000]}"
    )
    assert code in (0, -signal.SIGTERM), text[-4000:]


def health_problems(fuzzed: Fuzzed) -> list[str]:
    """What is wrong with the server now, and in its log since the last look."""
    if fuzzed.server.process.poll() is not None:
        return [f"- the server exited with {fuzzed.server.process.returncode}"]
    problems = []
    status, body = fuzzed.server.get("/v2/health/ready")
    if status != 200:
        problems.append(f"- /v2/health/ready answers {status} {body[:200]!r}")
    status, body = fuzzed.client.send(good_case())
    for _ in range(3):  # 503 asks to retry (Retry-After: 1): work for clients that
        if status != 503:  # hung up may still occupy the workers on a busy host
            break
        time.sleep(1)
        status, body = fuzzed.client.send(good_case())
    if status != 200 or json.loads(body)["probabilities"] != fuzzed.baseline:
        problems.append(f"- GOOD now gets {status} {body[:300]!r}")
    log = fuzzed.server.log.read_text()
    new, fuzzed.checked = log[fuzzed.checked :], len(log)
    if "Traceback" in new:
        errors = [
            line
            for line in new.splitlines()
            if re.match(r"[A-Za-z_][\w.]*: ", line)
            and not line.startswith(("ERROR:", "WARNING:", "INFO:"))
        ]
        count = new.count("Traceback")
        problems.append(f"- the server logged {count} tracebacks: {errors[:5]}")
    return problems


def assert_healthy(fuzzed: Fuzzed, after: str) -> None:
    problems = health_problems(fuzzed)
    assert not problems, f"after {after}:\n" + "\n".join(problems)


def request(path: str, body: bytes, *, length: int | None = None) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    size = len(body) if length is None else length
    return head.encode() + b"Content-Length: %d\r\n\r\n" % size + body


# -- tests ----------------------------------------------------------------------------
def test_the_corpus_holds_over_a_thousand_deterministic_requests() -> None:
    counts = {family: len(corpus(family)) for family in FAMILIES}
    assert sum(counts.values()) + len(_raw_requests()) >= 1000, counts
    again = mutated() + arbitrary_substitutions()
    first = corpus("mutated") + corpus("arbitrary_substitutions")
    assert [c.body for c in again] == [c.body for c in first]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_no_request_of_a_family_gets_a_5xx_or_a_bare_4xx(
    fuzzed: Fuzzed, family: str
) -> None:
    assert_family(fuzzed, family, corpus(family))


def assert_family(fuzzed: Fuzzed, family: str, cases: list[Case]) -> None:
    """Send every case; fail with every wrong answer, and the server's health after."""
    offences = []
    for case in cases:
        status, body = fuzzed.client.send(case)
        why = offence(case, status, body)
        if why is not None:
            offences.append(describe(case, status, body, why))
    problems = health_problems(fuzzed)
    assert not offences and not problems, report(offences, len(cases), family, problems)


def test_bytes_that_are_not_http_get_no_5xx(fuzzed: Fuzzed) -> None:
    raws = _raw_requests()
    offences = []
    for summary, data in raws.items():
        case = Case(summary, "-", data, may_close=True)
        for status, body in raw_exchange(fuzzed.server.port, data):
            why = offence(case, status, body)
            # uvicorn refuses what is not HTTP, and websockets, before the app runs
            ours = (status, body) not in ((400, UVICORN_400), (403, b""))
            if why is not None and ours:
                offences.append(describe(case, status, body, why))
    problems = health_problems(fuzzed)
    assert not offences and not problems, report(offences, len(raws), "raw", problems)


_CUT_SHORT = {
    "body cut short": request("/predict", b'{"records": [', length=1000),
    "tensor body cut short": request(INFER, b'{"inputs": [{', length=1000),
    "oversized body cut short": request("/predict", b"[" * 30_000, length=4 * MAX_BODY),
    "half a request line": b"POST /pred",
    "headers cut short": b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Le",
    "answer never read": request("/predict", dumps(GOOD)),
    "batch answer never read": request(INFER, dumps(infer_body([GOOD] * MAX_ROWS))),
}


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
@pytest.mark.parametrize("sent", list(_CUT_SHORT.values()), ids=list(_CUT_SHORT))
def test_a_client_hanging_up_mid_request_does_not_hurt_the_server(
    fuzzed: Fuzzed, sent: bytes, reset: bool
) -> None:
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", fuzzed.server.port)) as sock:
            if reset:  # RST instead of FIN
                linger = struct.pack("ii", 1, 0)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            sock.sendall(sent)
    assert_healthy(fuzzed, f"{len(sent)} bytes and a hang-up")


def test_stalled_bodies_get_408_and_block_no_one(fuzzed: Fuzzed) -> None:
    # the socket timeout bounds the wait: --timeout plus a wide margin
    address = ("127.0.0.1", fuzzed.server.port)
    stalled = [socket.create_connection(address, timeout=TIMEOUT + 10) for _ in "ab"]
    try:
        for sock, path in zip(stalled, ("/predict", INFER), strict=True):
            sock.sendall(request(path, b"", length=100))
        status, body = fuzzed.client.send(good_case())  # another connection
        assert status == 200, body
        answered, _, _ = select.select(stalled, [], [], 0)
        assert not answered, "a stalled request was answered before the others"
        for sock in stalled:
            response = http.client.HTTPResponse(sock)
            try:
                response.begin()
                assert response.status == 408
                assert json.loads(response.read())["error"]
            except http.client.RemoteDisconnected:
                pass  # hanging up is an answer too
            finally:
                response.close()
    finally:
        for sock in stalled:
            sock.close()
    assert_healthy(fuzzed, "stalled bodies")


def test_metrics_still_scrape_and_count_every_4xx_status(fuzzed: Fuzzed) -> None:
    too_many = dumps({"records": [GOOD] * (MAX_ROWS + 1)})
    one_of_each = {
        400: Case("malformed", "/predict", b"{"),
        404: Case("unknown model", "/v2/models/nope/infer", dumps(infer_body([GOOD]))),
        405: Case("wrong method", "/predict", None, headers={}, method="GET"),
        413: Case("too many rows", "/predict", too_many),
        415: Case("not JSON", "/predict", dumps(GOOD), headers={"Content-Type": "x/y"}),
        422: Case("contract", "/predict", dumps({**GOOD, "age": 1500})),
    }  # fmt: skip
    for expected, case in one_of_each.items():
        assert fuzzed.client.send(case)[0] == expected, case.summary
    status, text = fuzzed.server.get("/metrics")
    assert status == 200
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == "featurekit_requests_total":
                key = f"{sample.labels['endpoint']} {sample.labels['status']}"
                counts[key] = counts.get(key, 0) + sample.value
    statuses = {key.rsplit(" ", 1)[1] for key in counts}
    assert {"400", "404", "405", "413", "415", "422"} <= statuses, counts
    assert_healthy(fuzzed, "a scrape")


def test_split_mode_refuses_a_bad_int_row_without_a_500(fuzzed: Fuzzed) -> None:
    # found by the predict family: in a batch, one unreadable or missing value of the
    # int64 column ('age' 37.5, "37", true, null, 1e20, absent) made onnxruntime
    # raise InvalidArgument (500): the rows that passed went in as double
    body = dumps({"records": [GOOD, {**GOOD, "age": 37.5}]})
    status, answer = fuzzed.client.send(Case("split", "/predict?on_error=split", body))
    assert status == 200, f"on_error=split, one 'age' of 37.5: {status} {answer!r}"
    assert json.loads(answer)["passed"] == [True, False]
    assert_healthy(fuzzed, "a split batch with a bad int row")


def test_a_value_nested_a_thousand_deep_is_refused_without_a_500(
    fuzzed: Fuzzed,
) -> None:
    # found by the nesting family: orjson reads 1024 levels, but the contract's error
    # message repr()s the value, which overflows the recursion limit from about 980
    # levels (RecursionError, 500)
    body = put({**GOOD, "income": MARK}, b"[" * 1000 + b"]" * 1000)
    status, answer = fuzzed.client.send(Case("deep", "/predict", body))
    assert 400 <= status < 500, f"'income' nested 1000 deep: {status} {answer[:200]!r}"
    assert_healthy(fuzzed, "a value nested 1000 deep")


def test_a_client_that_pipelines_and_hangs_up_leaves_no_traceback(
    http_artifact: Path, tmp_path: Path
) -> None:
    # a server of its own, so that the traceback fails this test alone
    log = tmp_path / "server.log"
    server = start_server(http_artifact, log, "--log-level", "warning")
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", server.port)) as sock:
                sock.sendall(request("/predict", dumps(GOOD)) * 2)
        assert server.get("/v2/health/ready")[0] == 200
    finally:
        code = server.stop()
    text = log.read_text()[:4000]
    assert code in (0, -signal.SIGTERM), text
    assert "Traceback" not in text, (
        "Two pipelined requests, then the client hangs up without reading: the "
        "server writes an answer to the closed transport and logs 'Exception in "
        f"ASGI application' (RuntimeError: ... the handler is closed):\n{text}"
    )
