"""Compressed request bodies: ``Content-Encoding`` gzip, deflate and identity.

A body is inflated with a bound: the decompressed size counts against
``max_body_bytes`` as a plain body would, so that a small zip bomb gets 413 after at
most ``max_body_bytes + 1`` bytes of output, never the gigabytes it holds. A corrupt
or truncated stream is a 400 naming what zlib found; a coding this server does not
speak is a 415 listing the ones it does.

``deflate`` is the zlib format (RFC 9110), as tritonclient and browsers send it; a raw
deflate stream, which some clients send under the same name, is accepted too. Several
codings (``gzip, gzip``) are undone in reverse order, as applied.
"""

from __future__ import annotations

import zlib

from .responses import HTTPError, bad_request, too_large

__all__ = ["CODINGS", "codings", "decode"]

#: The codings a request body may carry, and the zlib window of each (gzip and zlib
#: headers are detected; raw deflate is the fallback of "deflate").
CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 0}
#: More codings than this on one body is refused: no client stacks them deeper.
MAX_CODINGS = 4


def codings(header: str | None) -> list[str]:
    """The codings of a ``Content-Encoding`` header, outermost last; 415 if unknown.

    Examples
    --------
    >>> codings("gzip"), codings("identity"), codings(None), codings("Deflate , gzip")
    (['gzip'], [], [], ['deflate', 'gzip'])
    """
    if header is None:
        return []
    names = [name.strip().lower() for name in header.split(",")]
    names = [name for name in names if name and name != "identity"]
    unknown = [name for name in names if name not in CODINGS]
    if unknown or len(names) > MAX_CODINGS:
        what = f"{unknown[0]!r}" if unknown else f"{len(names)} codings"
        raise HTTPError(
            415,
            f"Content-Encoding {what} is not supported; send the body as is "
            "(identity), or compressed with gzip or deflate.",
        )
    return names


def decode(body: bytes, names: list[str], limit: int) -> bytes:
    """`body` with the codings `names` undone; 413 past `limit` bytes, 400 if corrupt.

    Examples
    --------
    >>> import gzip
    >>> decode(gzip.compress(b'{"x": 1}'), ["gzip"], limit=100)
    b'{"x": 1}'
    >>> decode(gzip.compress(b" " * 101), ["gzip"], limit=100)
    Traceback (most recent call last):
    ...
    serving.responses.HTTPError: The gzip request body inflates to over 100 bytes, the limit; split the batch.
    """
    for name in reversed(names):
        body = _inflate(body, name, limit)
    return body


def _inflate(data: bytes, name: str, limit: int) -> bytes:
    """One coding undone, member by member (gzip allows several), within `limit`."""
    out: list[bytes] = []
    size = 0
    rest = data
    while True:
        inflater = _inflater(name, rest)
        try:
            chunk = inflater.decompress(rest, limit + 1 - size)
        except zlib.error as exc:
            raise bad_request(
                f"The {name} body is corrupt ({exc}); send a valid {name} stream "
                "or an uncompressed body."
            ) from None
        size += len(chunk)
        out.append(chunk)
        if size > limit or inflater.unconsumed_tail:
            raise too_large(
                f"The {name} request body inflates to over {limit} bytes, the limit; "
                "split the batch."
            )
        if not inflater.eof:
            raise bad_request(
                f"The {name} body ends before its stream does (truncated); send "
                "the whole stream."
            )
        rest = inflater.unused_data
        if not rest:
            return b"".join(out)
        if name == "deflate":
            raise bad_request(
                f"The deflate body has {len(rest)} bytes after the end of its stream."
            )


def _inflater(name: str, data: bytes) -> zlib._Decompress:
    """A decompressor for `name`: zlib-wrapped deflate unless the header says raw."""
    wbits = CODINGS[name]
    if wbits == 0:  # deflate: zlib format, or a raw stream from a lenient client
        zlib_header = (
            len(data) >= 2
            and (data[0] & 0x0F) == 8
            and ((data[0] << 8) | data[1]) % 31 == 0
        )
        wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
    return zlib.decompressobj(wbits)
