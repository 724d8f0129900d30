"""What clients read to call the model: the contract as JSON Schema, and OpenAPI.

``GET /v2/models/{name}[/versions/{v}]/contract`` answers the JSON Schema of one record
(`featurekit.contract.jsonschema.record_schema`); ``GET /openapi.json`` the OpenAPI 3.1
document of the app (`serving.openapi`), from which a client can be generated.
Both answer 503 until the model is loaded.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from featurekit.contract.jsonschema import record_schema

from .openapi import openapi_document
from .responses import respond
from .routes_oip import _model_for
from .state import state_of

__all__ = ["ROUTES"]


async def contract(request: Request) -> Response:
    p = _model_for(state_of(request), request)
    return respond(200, record_schema(p.contract))


async def openapi(request: Request) -> Response:
    return respond(200, openapi_document(state_of(request).loaded()))


ROUTES = [
    Route("/v2/models/{name}/contract", contract, methods=["GET"]),
    Route("/v2/models/{name}/versions/{version}/contract", contract, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
