"""The servers of ``bench/http_protocol.py``: one app, with or without the header timeout.

Run it as ``python bench/_http_protocol_server.py ARTIFACT PORT guarded|stock``. Both
serve ``serving.create_app(ARTIFACT, monitor=False)`` (no drift windows closing in the
background after the batch cells, which only the guarded server gets) on uvicorn with uvloop, log level warning, the
keep-alive and concurrency options ``featurekit serve`` uses by default; ``guarded``
runs ``serving.protocol.GuardedHttpTools`` (as ``featurekit serve`` does), ``stock``
uvicorn's own httptools protocol.
"""

from __future__ import annotations

import os
import sys

import uvicorn

from serving.app import create_app
from serving.limits import HEADER_TIMEOUT_ENV


def main(artifact: str, port: str, protocol: str) -> None:
    os.environ[HEADER_TIMEOUT_ENV] = "10"
    http = {"guarded": "serving.protocol:GuardedHttpTools", "stock": "httptools"}
    uvicorn.run(
        create_app(artifact, monitor=False),
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        loop="auto",
        http=http[protocol],
        timeout_keep_alive=5,
        limit_concurrency=1000,
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
