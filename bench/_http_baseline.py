"""The baseline of ``bench/http_server.py``: a FastAPI app as a typical team would write it.

It serves the same artifact the way a scikit-learn service usually does: unpickle the
fitted pipeline (``pipeline.joblib``), load the pandera schema from the artifact's
``contract.json`` with pandera's own JSON loader, and for every request build a pandas
DataFrame, ``schema.validate`` it (coercing to the contract's dtypes, as JSON numbers
and strings do not arrive typed) and return ``pipeline.predict_proba``. The endpoint is
a sync ``def``, so FastAPI runs it in its thread pool.

Run it as ``python bench/_http_baseline.py ARTIFACT --port PORT``. It runs uvicorn
with one worker, uvloop and httptools, log level warning: the settings of featurekit's
own server.

Endpoints: ``POST /predict`` with ``{"records": [{column: value, ...}, ...]}`` returns
``{"classes": [...], "probabilities": [[...], ...]}``; ``GET /healthz`` returns 200 once
the model is loaded (uvicorn binds the port only after that).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class PredictRequest(BaseModel):
    records: list[dict[str, Any]]


def create_app(artifact: str | Path) -> Any:
    """A FastAPI app that scores `artifact` with scikit-learn and pandera."""
    import joblib
    import pandas as pd
    from fastapi import FastAPI, HTTPException

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandera.pandas as pa

    path = Path(artifact)
    pipeline = joblib.load(path / "pipeline.joblib")
    contract = json.loads((path / "contract.json").read_text())
    schema = pa.DataFrameSchema.from_json(json.dumps(contract["pandera"]))
    # JSON brings plain ints, floats and strings: let pandera cast them to the
    # contract's dtypes (nullable Int64, string) before it checks them
    schema = pa.DataFrameSchema(
        schema.columns, coerce=True, strict=schema.strict, name=schema.name
    )
    classes = [c.item() if hasattr(c, "item") else c for c in pipeline.classes_]

    app = FastAPI(title=f"{schema.name} (scikit-learn + pandera baseline)")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict[str, Any]:
        frame = pd.DataFrame(request.records)
        try:
            frame = schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            raise HTTPException(
                status_code=422, detail=exc.failure_cases.to_dict("records")
            ) from exc
        proba = pipeline.predict_proba(frame)
        return {"classes": classes, "probabilities": proba.tolist()}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("artifact", help="artifact directory with pipeline.joblib")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(args.artifact),
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        log_level="warning",
    )


if __name__ == "__main__":
    main()
