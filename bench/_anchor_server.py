"""The bare server of ``bench/anchors.py``: starlette + orjson + onnxruntime, no checks.

What a team writes when it serves the skl2onnx wrapper itself (issue 18): one POST
route that loads the body with orjson, builds one ``[1, 1]`` array per column, runs a
1-thread session and dumps the probabilities with orjson. uvicorn with uvloop and
httptools, access log off, one worker.

Run it as ``python bench/_anchor_server.py MODEL.onnx COLUMNS.json --port PORT``,
where COLUMNS.json is ``{"numeric": [...], "categorical": [...]}``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app(model: str, columns: dict[str, list[str]]) -> Starlette:
    """The 25-line server: POST /predict {"records": [...]} -> {"probabilities": ...}."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    num, cat = columns["numeric"], columns["categorical"]

    async def predict(request: Request) -> Response:
        records = orjson.loads(await request.body())["records"]
        feeds: dict[str, Any] = {
            c: np.array(
                [[r[c] if r[c] is not None else np.nan] for r in records],
                dtype=np.float32,
            )
            for c in num
        }
        feeds.update({c: np.array([[r[c]] for r in records]) for c in cat})
        proba = session.run(["probabilities"], feeds)[0]
        return Response(
            orjson.dumps({"probabilities": proba}, option=orjson.OPT_SERIALIZE_NUMPY),
            media_type="application/json",
        )

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("columns")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    args = parser.parse_args()
    with open(args.columns) as f:
        columns = json.load(f)
    uvicorn.run(
        create_app(args.model, columns),
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
