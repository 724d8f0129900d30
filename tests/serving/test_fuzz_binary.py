"""Fuzz the binary tensor extension with over a thousand seeded hostile messages.

Every body starts as tritonclient.http builds it (``generate_request_body``: a JSON
inference header, then the tensors' bytes, with ``Inference-Header-Content-Length``)
and is then made hostile four ways: hostile values and datatypes that tritonclient
itself encodes, structural edits of the JSON header (with a consistent header
length, so that the edit is what the server reads), byte-level mutations of the
whole body, and hostile header-length values and compressed bodies; then gzip and
deflate JSON bodies on ``/predict`` and ``infer``, mutated or mislabelled. A seeded
`random.Random` draws each family, so every run sends the same bytes.

The server must answer each with a 200 or a 4xx whose JSON names the problem, never a
5xx or a hang-up; afterwards ``/v2/health/ready`` is 200, a good request scores as it
did before, and the log holds no traceback.
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from live_server import GOOD
from test_fuzz import (
    MAX_ROWS,
    Case,
    Fuzzed,
    assert_family,
    assert_healthy,
    serve_fuzzed,
)

pytestmark = pytest.mark.filterwarnings(
    # tritonclient.http imports gevent, which warns about its own monkey-patching
    "ignore::DeprecationWarning:gevent.*",
    "ignore::DeprecationWarning:geventhttpclient.*",
)

INFER = "/v2/models/loans/infer"
HEADER = "Inference-Header-Content-Length"
COLUMNS = ("income", "age", "plan", "region")
DATATYPES = ("FP64", "FP32", "INT64", "INT32", "BOOL", "BYTES")
#: hostile values per kind; tritonclient encodes each in the datatype drawn
FLOATS = [
    np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308, -1e308,
    52000.0, 3.4e38, 2.0**63, -(2.0**63), 18.0, 120.5, 1e-45, 1e39,
]  # fmt: skip
INTS = [0, -1, 1, 17, 18, 37, 120, 121, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63)]
NATURAL = {"income": "FP64", "age": "INT64", "plan": "BYTES", "region": "BYTES"}
GOODS: dict[str, list[Any]] = {
    "income": [52000.0, 18.0, 120.5, 0.0, np.nan],
    "age": [18, 37, 120],
    "plan": [b"plus", b"basic", b"premium"],
    "region": [b"north", "söuth".encode(), b"mars"],
}
STRINGS = [
    b"", b"plus", b"basic", b"premium", b"north", b"mars", b"\xff\xfe", b"\xed\xa0\x80",
    b"\x00featurekit:missing", b"\x00", "söuth".encode(), b"a" * 5000, b"NaN", b"null",
    b"\xc0\x80", b"\xf4\x90\x80\x80", "\U0001f600".encode(),
]  # fmt: skip


# -- tritonclient's bodies ------------------------------------------------------------
def tensor(name: str, datatype: str, values: list[Any], shape: list[int]) -> Any:
    """An InferInput holding `values` as `datatype`, binary (tritonclient's default)."""
    t = triton.InferInput(name, shape, datatype)
    if datatype == "BYTES":
        data = [v if isinstance(v, bytes) else str(v).encode() for v in values]
        array = np.array(data, dtype=object)
    elif datatype == "BOOL":
        array = np.array([bool(v) if v == v else True for v in values], dtype=bool)
    else:
        dtype = {"FP64": np.float64, "FP32": np.float32}.get(datatype)
        if dtype is None:  # ints: wrap what does not fit, as a careless client would
            info = np.iinfo(np.int64 if datatype == "INT64" else np.int32)
            values = [int(v) if np.isfinite(v) else 0 for v in values]
            array = np.array(
                [(v - info.min) % (info.max - info.min + 1) + info.min for v in values],
                dtype=info.dtype,
            )
        else:
            with np.errstate(over="ignore"):
                array = np.array(values, dtype=np.float64).astype(dtype)
    t.set_data_from_numpy(array.reshape(shape))
    return t


def body_of(inputs: list[Any], **options: Any) -> tuple[bytes, int]:
    body, size = triton.InferenceServerClient.generate_request_body(inputs, **options)
    return body, len(body) if size is None else size


def binary_case(
    summary: str, body: bytes, size: Any, invalid: bool = False, **headers: str
) -> Case:
    length = size if isinstance(size, bytes) else str(size)
    return Case(summary, INFER, body, invalid, {HEADER: length, **headers})


def good_inputs(rows: int = 2) -> list[Any]:
    values = {
        "income": [GOOD["income"], np.nan][:rows] * rows,
        "age": [37, 50][:rows] * rows,
        "plan": [b"plus", b"basic"][:rows] * rows,
        "region": [b"north", b"south"][:rows] * rows,
    }
    types = {"income": "FP64", "age": "INT64", "plan": "BYTES", "region": "BYTES"}
    return [tensor(n, types[n], values[n][:rows], [rows]) for n in COLUMNS]


def hostile_values() -> list[Case]:
    """tritonclient's own bodies, with hostile values in any datatype and shape."""
    rng = random.Random(1601)
    cases = []
    for i in range(400):
        rows = rng.choice([1, 1, 2, 3, 7, MAX_ROWS, MAX_ROWS + 1])
        inputs = []
        for name in COLUMNS:
            if rng.random() < 0.05:  # a missing input
                continue
            natural = rng.random() < 0.6  # the column's own datatype and values
            datatype = NATURAL[name] if natural else rng.choice(DATATYPES)
            n = rows if rng.random() < 0.9 else rng.choice([0, 1, rows + 1])
            pool = {"BYTES": STRINGS, "BOOL": INTS}.get(datatype, FLOATS + INTS)
            good = [v for v in pool if v in GOODS[name]] if natural else []
            values = [rng.choice(good or pool) for _ in range(n)]
            if natural and n and rng.random() < 0.5:  # one hostile among good ones
                values[rng.randrange(n)] = rng.choice(pool)
            shape = [n] if rng.random() < 0.7 else [n, 1]
            inputs.append(tensor(name, datatype, values, shape))
        if rng.random() < 0.05:  # a duplicated or an unknown input
            inputs.append(tensor(rng.choice([*COLUMNS, "extra"]), "FP64", [1.0], [1]))
        outputs = rng.choice(
            [None, [triton.InferRequestedOutput("label", binary_data=False)]]
        )
        body, size = body_of(inputs, outputs=outputs, request_id=str(i))
        cases.append(binary_case(f"values #{i}", body, size))
    return cases


# -- the JSON header, edited ----------------------------------------------------------
def _edits(rng: random.Random, header: dict[str, Any]) -> tuple[str, Any]:
    """One structural edit of the inference header: (what, the edited header)."""
    k = rng.randrange(len(header["inputs"]))
    edited = json.loads(json.dumps(header))
    t = edited["inputs"][k]
    hostile = rng.choice(
        [
            -1,
            0,
            1,
            2**31,
            2**64,
            10**30,
            1.5,
            "8",
            "",
            None,
            True,
            [],
            {},
            [2],
            -(2**63),
        ]
    )
    edit = rng.randrange(14)
    if edit == 0:
        t["parameters"]["binary_data_size"] = hostile
    elif edit == 1:
        t["shape"] = rng.choice(
            [hostile, [hostile], [2, hostile], [], [[2]], [2, 2, 2]]
        )
    elif edit == 2:
        t["datatype"] = rng.choice(
            ["FP16", "UINT8", "fp64", "", None, 7, "BF16", "STRING"]
        )
    elif edit == 3:
        t["name"] = rng.choice(["", None, 3, "INCOME", "income ", "\x00", "x" * 10_000])
    elif edit == 4:
        t["parameters"] = rng.choice([None, [], "binary", {"binary_data_size": None}])
    elif edit == 5:
        del t["parameters"]  # its bytes stay in the body: the data no longer lines up
    elif edit == 6:
        t["data"] = rng.choice([[1.0, 2.0], [], None, "x"])  # JSON and binary at once
    elif edit == 7:
        edited["inputs"].append(json.loads(json.dumps(t)))  # the same input twice
    elif edit == 8:
        del edited["inputs"][k]  # its bytes are read by the next input
    elif edit == 9:
        edited["parameters"] = rng.choice(
            [{"binary_data_output": hostile}, hostile, {"classification": 2}]
        )
    elif edit == 10:
        edited["outputs"] = rng.choice(
            [
                [{"name": "nope", "parameters": {"binary_data": True}}],
                [{"name": "label", "parameters": {"binary_data": hostile}}],
                [{"name": "label"}, {"name": "label"}],
                hostile,
            ]
        )
    elif edit == 11:
        edited["inputs"] = rng.choice([hostile, [], [hostile], {"0": t}])
    elif edit == 12:
        edited["id"] = rng.choice([hostile, "x" * 100_000])
    else:
        edited = rng.choice([[edited], "inputs", hostile, {}])
    return f"edit {edit} of inputs/{k}", edited


def header_edits() -> list[Case]:
    """Structural edits of the JSON header, the header length kept consistent."""
    rng = random.Random(1602)
    body, size = body_of(good_inputs())
    header, data = json.loads(body[:size]), body[size:]
    cases = []
    for i in range(300):
        what, edited = _edits(rng, header)
        head = json.dumps(edited).encode()
        cases.append(binary_case(f"#{i} {what}", head + data, len(head)))
    return cases


# -- bytes, mutated -------------------------------------------------------------------
def _mutate(rng: random.Random, body: bytes, start: int = 0) -> bytes:
    """`body` with 1 to 6 random edits, at or after `start`."""
    out = bytearray(body)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(min(start, len(out)), len(out) + 1)
        how = rng.randrange(5)
        if how == 0 and at < len(out):  # flip a bit
            out[at] ^= 1 << rng.randrange(8)
        elif how == 1:  # delete a run
            del out[at : at + rng.randint(1, 16)]
        elif how == 2:  # insert random bytes
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif how == 3:  # repeat a run
            out[at:at] = out[at : at + rng.randint(1, 64)]
        else:  # an extreme 4-byte length or value
            word = rng.choice([0, 1, 2**31, 2**32 - 1, 0x7FF80000])
            out[at : at + 4] = struct.pack("<I", word)
    return bytes(out)


def byte_mutations() -> list[Case]:
    """Bit flips, cuts, insertions and repeats anywhere in tritonclient's bodies."""
    rng = random.Random(1603)
    seeds = [body_of(good_inputs(rows)) for rows in (1, 2)]
    seeds.append(
        body_of(
            good_inputs(2),
            outputs=[triton.InferRequestedOutput("probabilities")],
            request_id="r",
        )
    )
    cases = []
    for i in range(300):
        body, size = rng.choice(seeds)
        # half in the tensor data, where the JSON parser does not catch it first
        mutated = _mutate(rng, body, size if rng.random() < 0.5 else 0)
        # the header length as sent, or moved by what the mutation added or removed
        length = rng.choice([size, size + len(mutated) - len(body), rng.randrange(400)])
        cases.append(binary_case(f"mutation #{i}", mutated, length))
    return cases


# -- the length header and compression ------------------------------------------------
def lengths_and_codings() -> list[Case]:
    """Hostile header lengths, and binary bodies that are compressed, or claim to be."""
    rng = random.Random(1604)
    body, size = body_of(good_inputs())
    cases = [binary_case("valid", body, size)]
    # HTTP strips the whitespace around a header value: these two are valid
    cases += [binary_case(f"length {v!r}", body, v) for v in (f"{size} ", f" {size}")]
    for value in (
        "", " ", "-0", f"+{size}", f"{size}.0", "٣".encode(), "0x10", "1e2",
        "9" * 400, str(2**64), f"{size},{size}", "NaN", str(size + 1), "-1",
    ):  # fmt: skip
        cases.append(binary_case(f"length {value[:20]!r}", body, value, True))
    for coding in ("gzip", "deflate"):
        packed = gzip.compress(body) if coding == "gzip" else _zlib(body)
        cases.append(
            binary_case(f"{coding} valid", packed, size, **{"Content-Encoding": coding})
        )
        for i in range(40):
            junk = _mutate(rng, packed)
            cases.append(
                binary_case(
                    f"{coding} mutated #{i}", junk, size, **{"Content-Encoding": coding}
                )
            )
        # the header length counts the inflated body: the compressed one is shorter
        cases.append(
            binary_case(
                f"{coding} length past the inflated body",
                packed,
                len(body) + 1,
                True,
                **{"Content-Encoding": coding},
            )
        )
    return cases


def compressed_json() -> list[Case]:
    """gzip and deflate JSON bodies on /predict and infer: mutated, mislabelled, nested."""
    rng = random.Random(1605)
    plain = {
        "/predict": json.dumps({"records": [GOOD, {**GOOD, "age": 50}]}).encode(),
        INFER: json.dumps(
            {
                "inputs": [
                    {"name": n, "datatype": t, "shape": [1], "data": [GOOD[n]]}
                    for n, t in NATURAL.items()
                ]
            }
        ).encode(),
    }
    packers = {"gzip": gzip.compress, "deflate": _zlib}
    cases = []
    for path, body in plain.items():
        for coding, pack in packers.items():
            packed = pack(body)
            headers = {"Content-Type": "application/json", "Content-Encoding": coding}
            cases.append(Case(f"{coding} valid", path, packed, headers=headers))
            for i in range(30):
                junk = _mutate(rng, packed)
                cases.append(
                    Case(f"{coding} mutated #{i}", path, junk, headers=headers)
                )
            other = "deflate" if coding == "gzip" else "gzip"
            for summary, data, sent in (
                ("labelled as the other coding", packed, other),
                ("compressed twice, labelled once", pack(packed), coding),
                ("labelled twice, compressed once", packed, f"{coding}, {coding}"),
                ("not compressed", body, coding),
                ("empty", b"", coding),
                ("identity but compressed", packed, "identity"),
                ("unknown coding", packed, rng.choice(["br", "zstd", "x", "gzip;q=1"])),
            ):
                headers = {"Content-Type": "application/json", "Content-Encoding": sent}
                cases.append(Case(summary, path, data, True, headers))
    return cases


def _zlib(data: bytes) -> bytes:
    import zlib

    return zlib.compress(data)


FAMILIES: dict[str, Callable[[], list[Case]]] = {
    f.__name__: f
    for f in (
        hostile_values,
        header_edits,
        byte_mutations,
        lengths_and_codings,
        compressed_json,
    )
}


@functools.cache
def corpus(family: str) -> list[Case]:
    return FAMILIES[family]()


@pytest.fixture(scope="module")
def fuzzed(
    http_artifact: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    log = tmp_path_factory.mktemp("fuzz_binary") / "server.log"
    yield from serve_fuzzed(http_artifact, log)


def test_the_binary_corpus_holds_over_a_thousand_seeded_messages() -> None:
    counts = {family: len(corpus(family)) for family in FAMILIES}
    assert sum(counts.values()) >= 1000, counts
    again = header_edits() + byte_mutations()
    assert [c.body for c in again] == [
        c.body for c in corpus("header_edits") + corpus("byte_mutations")
    ]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_no_binary_message_gets_a_5xx_or_a_bare_4xx(
    fuzzed: Fuzzed, family: str
) -> None:
    assert_family(fuzzed, family, corpus(family))


def test_the_server_is_ready_and_scores_as_before_after_the_fuzzing(
    fuzzed: Fuzzed,
) -> None:
    for family in FAMILIES:  # whatever order the tests ran in, all was sent
        for case in corpus(family):
            fuzzed.client.send(case)
    assert fuzzed.server.get("/v2/health/ready")[0] == 200
    assert_healthy(fuzzed, "every binary message")
    body, size = body_of(good_inputs())
    status, answer = fuzzed.client.send(binary_case("valid", body, size))
    assert status == 200, answer
