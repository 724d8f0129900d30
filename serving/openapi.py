"""The OpenAPI 3.1 document of the app, generated from the model it serves.

Pure functions over a loaded predictor: `openapi_document` describes ``POST /predict``
(its request records are the contract's `featurekit.contract.jsonschema.record_schema`),
the Open Inference Protocol routes with their tensors, ``GET
/v2/models/{name}/contract`` and ``GET /metrics``, with the answers the routes really
give and the error statuses of `serving.responses`.
"""

from __future__ import annotations

from typing import Any

from featurekit._version import __version__
from featurekit.contract.jsonschema import record_schema

from .oip import DATATYPES

__all__ = ["openapi_document"]

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_ERRORS = {
    "400": _error(
        "Malformed request: JSON, shape, types or query parameters, or a corrupt "
        "gzip/deflate body."
    ),
    "404": _error("Unknown model or version."),
    "408": _error("The request body took longer than the timeout to arrive."),
    "413": _error(
        "Body over the size limit (as sent or inflated), or more rows than allowed."
    ),
    "415": _error(
        "The body is not JSON, or its Content-Encoding is not gzip, deflate or identity."
    ),
    "422": _json(_ref("ContractFailure"), "Contract failure, with the failures table."),
    "503": _error(
        "Not ready, no answer in time, or over the concurrency limit; retry "
        "(Retry-After)."
    ),
}


def _errors(*statuses: str) -> dict[str, Any]:
    return {s: _ERRORS[s] for s in statuses}


def _scalar_type(classes: Any) -> dict[str, Any]:
    """The JSON type of a label, from the predictor's classes."""
    kind = classes.dtype.kind
    if kind in "iu":
        return {"type": "integer"}
    if kind == "f":
        return {"type": "number"}
    if kind == "b":
        return {"type": "boolean"}
    return {"type": "string"}


def _predict_response(p: Any) -> dict[str, Any]:
    matrix = {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}
    props: dict[str, Any] = {
        "model": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "integer"},
                "sha256": {"type": "string"},
                "outputs": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["name", "version", "sha256", "outputs"],
        },
    }
    if p.kind == "classifier":
        label = _scalar_type(p.classes_)
        props["classes"] = {"type": "array", "items": label}
        props["labels"] = {
            "type": "array",
            "items": label,
            "description": "One label per scored row.",
        }
        required = ["model", "classes", "labels"]
        if "probabilities" in p.outputs:
            props["probabilities"] = matrix | {
                "description": "One row per scored row, one column per class."
            }
            required.append("probabilities")
        if "decision_function" in p.outputs:
            two = len(p.classes_) <= 2
            props["decision_function"] = (
                {"type": "array", "items": {"type": "number"}} if two else matrix
            ) | {"description": "scikit-learn's decision_function, per scored row."}
            required.append("decision_function")
    else:
        props["predictions"] = {
            "type": "array",
            "items": {"type": "number"},
            "description": "One prediction per scored row.",
        }
        required = ["model", "predictions"]
    split = "Only with ?on_error=split: "
    props |= {
        "rows": {"type": "integer", "description": split + "records received."},
        "scored": {"type": "integer", "description": split + "records scored."},
        "passed": {
            "type": "array",
            "items": {"type": "boolean"},
            "description": split + "per record, whether it passed the contract.",
        },
        "failures": {
            "type": "array",
            "items": _ref("Failure"),
            "description": split + "the failures of the refused records.",
        },
        "failures_total": {
            "type": "integer",
            "description": split + "failures in all (the list is capped).",
        },
    }
    return {"type": "object", "properties": props, "required": required}


def _schemas(p: Any) -> dict[str, Any]:
    record = {
        k: v
        for k, v in record_schema(p.contract).items()
        if k not in ("$schema", "title")
    }
    any_scalar = {"type": ["string", "number", "boolean", "null"]}
    tensor_meta = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
        "required": ["name", "datatype", "shape"],
    }
    return {
        "Record": record,
        "PredictRequest": {
            "type": "object",
            "description": "A batch of records; a single record object is taken too.",
            "properties": {
                "records": {"type": "array", "items": _ref("Record"), "minItems": 1}
            },
            "required": ["records"],
            "additionalProperties": False,
        },
        "PredictResponse": _predict_response(p),
        "Error": {
            "type": "object",
            "properties": {"error": {"type": "string"}},
            "required": ["error"],
        },
        "Failure": {
            "type": "object",
            "description": "One contract failure: the column, the check that failed, "
            "the value and the record's index (null for a whole-column failure).",
            "properties": {
                "column": {"type": "string"},
                "check": {"type": "string"},
                "failure_case": any_scalar,
                "index": {"type": ["integer", "null"]},
            },
            "required": ["column", "check", "failure_case", "index"],
        },
        "ContractFailure": {
            "type": "object",
            "properties": {
                "error": {"type": "string"},
                "rows_refused": {"type": "integer"},
                "failures": {"type": "array", "items": _ref("Failure")},
                "failures_total": {"type": "integer"},
            },
            "required": ["error", "rows_refused", "failures", "failures_total"],
        },
        "TensorMetadata": tensor_meta,
        "ModelMetadata": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": _ref("TensorMetadata")},
                "outputs": {"type": "array", "items": _ref("TensorMetadata")},
                "parameters": {"type": "object"},
            },
            "required": ["name", "versions", "platform", "inputs", "outputs"],
        },
        "RequestInput": {
            "type": "object",
            "description": "One tensor per input column; null is a missing value.",
            "properties": {
                "name": {"type": "string", "enum": list(p.features.columns)},
                "datatype": {"type": "string", "enum": list(DATATYPES)},
                "shape": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0},
                    "minItems": 1,
                    "maxItems": 2,
                    "description": "[N] or [N, 1].",
                },
                "data": {
                    "type": "array",
                    "items": {},
                    "description": "Flat or row-major nested.",
                },
                "parameters": {"type": "object"},
            },
            "required": ["name", "datatype", "shape", "data"],
        },
        "InferRequest": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "inputs": {
                    "type": "array",
                    "items": _ref("RequestInput"),
                    "minItems": 1,
                },
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "enum": list(p.outputs)}
                        },
                        "required": ["name"],
                    },
                },
                "parameters": {"type": "object"},
            },
            "required": ["inputs"],
        },
        "ResponseOutput": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "datatype": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer"}},
                "data": {
                    "type": "array",
                    "items": {},
                    "description": "Flat, row-major.",
                },
            },
            "required": ["name", "datatype", "shape", "data"],
        },
        "InferResponse": {
            "type": "object",
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "items": _ref("ResponseOutput")},
            },
            "required": ["model_name", "model_version", "outputs"],
        },
    }


def _model_paths(p: Any) -> dict[str, Any]:
    """The per-model routes, unversioned and versioned."""
    name_param = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "example": p.name,
    }
    version_param = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "example": str(p.version),
    }
    obj = {"type": "object"}
    operations = {
        "": (
            "get",
            "model_metadata",
            "Inputs and outputs with OIP datatypes.",
            None,
            _json(_ref("ModelMetadata"), "Model metadata."),
        ),
        "/ready": (
            "get",
            "model_ready",
            "Model readiness.",
            None,
            _json(
                {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "ready": {"type": "boolean"},
                    },
                    "required": ["name", "ready"],
                },
                "Ready.",
            ),
        ),
        "/infer": (
            "post",
            "infer",
            "Score tensors (Open Inference Protocol).",
            _ref("InferRequest"),
            _json(_ref("InferResponse"), "The output tensors."),
        ),
        "/contract": (
            "get",
            "model_contract",
            "The JSON Schema (draft 2020-12) of one record the contract accepts.",
            None,
            _json(obj, "A JSON Schema: see the Record component."),
        ),
    }
    paths: dict[str, Any] = {}
    for versioned in (False, True):
        base = "/v2/models/{name}" + ("/versions/{version}" if versioned else "")
        params = [name_param, *([version_param] if versioned else [])]
        for suffix, (method, op, summary, body, ok) in operations.items():
            operation: dict[str, Any] = {
                "operationId": (f"{op}_version" if versioned else op),
                "summary": summary,
                "parameters": params,
                "responses": {"200": ok},
            }
            if body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {_JSON: {"schema": body}},
                }
                operation["responses"] |= _errors(
                    "400", "404", "408", "413", "415", "422", "503"
                )
            else:
                operation["responses"] |= _errors("404", "503")
            if suffix == "/infer":
                operation["description"] = (
                    "Also takes and answers the binary tensor data extension: "
                    "header Inference-Header-Content-Length, the JSON header, then "
                    "the raw tensor data (docs/http.md, Binary tensors)."
                )
            paths[base + suffix] = {method: operation}
    return paths


def openapi_document(p: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the app serving predictor `p`.

    Parameters
    ----------
    p : serving.Predictor
        The loaded model.

    Returns
    -------
    dict
        The document, ready for JSON.
    """
    predict = {
        "operationId": "predict",
        "summary": "Score plain JSON records.",
        "description": (
            'Send {"records": [record, ...]} (or a single record object, see the '
            "Record schema). With ?on_error=split the records that pass the contract "
            "are scored and the others listed; otherwise one failure refuses the "
            "batch with a 422."
        ),
        "parameters": [
            {
                "name": "on_error",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["raise", "split"]},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {"schema": {"oneOf": [_ref("PredictRequest"), _ref("Record")]}}
            },
        },
        "responses": {
            "200": _json(_ref("PredictResponse"), "The model's answers."),
            **_errors("400", "408", "413", "415", "422", "503"),
        },
    }
    status = {"type": "object", "additionalProperties": {"type": "boolean"}}
    paths: dict[str, Any] = {
        "/predict": {"post": predict},
        "/v2/health/live": {
            "get": {
                "operationId": "live",
                "summary": "Liveness.",
                "responses": {"200": _json(status, "Live.")},
            }
        },
        "/v2/health/ready": {
            "get": {
                "operationId": "ready",
                "summary": "Readiness: 503 until the model is loaded.",
                "responses": {"200": _json(status, "Ready."), **_errors("503")},
            }
        },
        "/v2": {
            "get": {
                "operationId": "server_metadata",
                "summary": "Server metadata.",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "version": {"type": "string"},
                                "extensions": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                },
                            },
                            "required": ["name", "version", "extensions"],
                        },
                        "Server name and version.",
                    )
                },
            }
        },
        **_model_paths(p),
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics.",
                "responses": {
                    "200": {
                        "description": "Prometheus text format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": p.name,
            "version": str(p.version),
            "description": (
                f"Model {p.name!r} version {p.version} (model.onnx sha256 "
                f"{p.sha256}), served by featurekit {__version__}."
            ),
        },
        "paths": paths,
        "components": {"schemas": _schemas(p)},
    }
