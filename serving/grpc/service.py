"""The KServe v2 ``GRPCInferenceService``: six RPCs over the app's `AppState`.

ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata and ModelInfer
answer from the state the HTTP routes use, so an inference is the same over both
protocols: `AppState.model` finds the model, `serving.grpc.tensors` turns the
message into the REST payload, and `AppState.infer` does what the REST route does
with it (`serving.oip.decode_infer`, the row limit, row ids, the contract, the model,
the drift monitor, the prediction log and the counters). Each RPC is counted in the same request
metrics, under its method's path (``/inference.GRPCInferenceService/ModelInfer``)
and with the HTTP status the same request gets over REST, so the shipped alert
rules read both protocols alike.

Failures become gRPC status codes here, from the HTTP status `serving.responses`
gives them (`CODES`): a contract failure (422) or a malformed message (400) is
INVALID_ARGUMENT, an unknown model NOT_FOUND, a model not loaded UNAVAILABLE. A
contract failure's message carries the failure table, bounded (`MAX_MESSAGE_BYTES`)
because it travels in the HTTP/2 trailers, which clients cap (8 KiB by default).
Requests are parsed here, not by grpcio, so that bytes that are no protobuf message
(or carry invalid UTF-8 in a string field) are INVALID_ARGUMENT, not INTERNAL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, NoReturn

import grpc
from google.protobuf.message import DecodeError, Message

from featurekit._version import __version__

from ..oip import RequestError
from ..responses import HTTPError, protocol_error
from ..state import AppState
from . import grpc_predict_v2_pb2 as pb
from .tensors import metadata_response, to_payload, to_response

__all__ = ["CODES", "MAX_MESSAGE_BYTES", "SERVICE", "InferenceService"]

_log = logging.getLogger("featurekit.serving")

#: The service's full name in the .proto (package ``inference``).
SERVICE = "inference.GRPCInferenceService"

#: The gRPC status of each HTTP status `serving.responses` gives a failure.
CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,  # malformed message or tensors
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,  # unknown model or version
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,  # more rows than --max-rows
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,  # the contract refused the input
    499: grpc.StatusCode.CANCELLED,
    503: grpc.StatusCode.UNAVAILABLE,  # not loaded yet, or no answer in time
}

#: A status message's limit in UTF-8 bytes: trailers are percent-encoded (up to 3
#: bytes per byte) and clients refuse trailers over 8 KiB.
MAX_MESSAGE_BYTES = 2000
#: Failures listed in a contract failure's message (the count is always complete).
FAILURES_SHOWN = 20

_Handler = Callable[[Any], Message]


class InferenceService:
    """The six core OIP RPCs over one app's state (model, limits, metrics).

    Parameters
    ----------
    state : serving.state.AppState
        What the HTTP app of the same server uses: ``create_app(...).state``.

    Examples
    --------
    >>> from serving.limits import Limits
    >>> from serving.state import AppState
    >>> service = InferenceService(AppState(Limits()))
    >>> service.server_ready(pb.ServerReadyRequest()).ready  # nothing loaded
    False
    """

    def __init__(self, state: AppState) -> None:
        self.state = state

    # -- the RPCs --------------------------------------------------------------------
    def server_live(self, request: pb.ServerLiveRequest) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    def server_ready(self, request: pb.ServerReadyRequest) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.state.predictor is not None)

    def model_ready(self, request: pb.ModelReadyRequest) -> pb.ModelReadyResponse:
        if self.state.predictor is None:
            return pb.ModelReadyResponse(ready=False)
        self.state.model(request.name, request.version or None)  # NOT_FOUND
        return pb.ModelReadyResponse(ready=True)

    def server_metadata(
        self, request: pb.ServerMetadataRequest
    ) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name="featurekit", version=__version__)

    def model_metadata(
        self, request: pb.ModelMetadataRequest
    ) -> pb.ModelMetadataResponse:
        return metadata_response(
            self.state.model(request.name, request.version or None)
        )

    def model_infer(self, request: pb.ModelInferRequest) -> pb.ModelInferResponse:
        p = self.state.model(request.model_name, request.model_version or None)
        try:
            payload = to_payload(request)
        except RequestError as exc:
            raise protocol_error(exc) from None
        scores, request_id, ids = self.state.infer(p, payload)
        response = to_response(
            p.name,
            str(p.version),
            scores,
            request_id,
            raw=bool(request.raw_input_contents),
        )
        # the rows' ids (<request id>-<row>), for labels; a parameter holds no list
        response.parameters["ids"].string_param = ",".join(ids)
        return response

    # -- serving them ----------------------------------------------------------------
    def handler(self) -> Any:
        """The `grpc.GenericRpcHandler` of the service, for ``server.add_generic_rpc_handlers``."""
        rpcs: dict[str, tuple[type[Message], _Handler]] = {
            "ServerLive": (pb.ServerLiveRequest, self.server_live),
            "ServerReady": (pb.ServerReadyRequest, self.server_ready),
            "ModelReady": (pb.ModelReadyRequest, self.model_ready),
            "ServerMetadata": (pb.ServerMetadataRequest, self.server_metadata),
            "ModelMetadata": (pb.ModelMetadataRequest, self.model_metadata),
            "ModelInfer": (pb.ModelInferRequest, self.model_infer),
        }
        # no (de)serializers: the handlers take and give bytes, see _rpc
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                name: grpc.unary_unary_rpc_method_handler(self._rpc(name, *rpc))
                for name, rpc in rpcs.items()
            },
        )

    def _rpc(
        self, name: str, request_type: type[Message], fn: _Handler
    ) -> Callable[[bytes, Any], bytes]:
        endpoint = f"/{SERVICE}/{name}"
        state = self.state

        def call(data: bytes, context: Any) -> bytes:
            start = time.perf_counter()
            status = 500
            try:
                header = state.model_header
                # gRPC metadata is printable ASCII; a model named otherwise goes unsaid
                if (
                    header is not None
                    and header.isascii()
                    and header.decode().isprintable()
                ):
                    context.set_trailing_metadata(
                        (("x-featurekit-model", header.decode()),)
                    )
                try:
                    request = request_type.FromString(data)
                except DecodeError as exc:
                    raise protocol_error(
                        RequestError(
                            f"The {name} request is not a valid "
                            f"{request_type.DESCRIPTOR.full_name} message: {exc}."
                        )
                    ) from None
                answer: bytes = fn(request).SerializeToString()
                status = 200
                return answer
            except HTTPError as exc:
                status = exc.status
                _abort(
                    context,
                    CODES.get(status, grpc.StatusCode.INTERNAL),
                    message(exc.body),
                )
            except Exception as exc:
                _log.exception("%s failed", endpoint)
                _abort(
                    context,
                    grpc.StatusCode.INTERNAL,
                    f"Internal error: {type(exc).__name__}.",
                )
            finally:
                state.metrics.observe(endpoint, status, time.perf_counter() - start)

        return call


def _abort(context: Any, code: Any, text: str) -> NoReturn:
    context.abort(code, text)
    raise RuntimeError("grpc's context.abort returned")  # it raises, always


def message(body: dict[str, Any]) -> str:
    """A failure's status message: the error, then its failure table, bounded.

    Examples
    --------
    >>> print(message({"error": "1 of 1 rows failed", "rows_refused": 1,
    ...     "failures_total": 1, "failures": [{"column": "age", "check":
    ...     "greater_than_or_equal_to(18)", "failure_case": 7, "index": 0}]}))
    1 of 1 rows failed
    failures (1 in all, 1 rows refused): column | check | row | value
    age | greater_than_or_equal_to(18) | 0 | 7
    """
    lines = [str(body["error"])]
    failures = body.get("failures")
    if failures:
        lines.append(
            f"failures ({body['failures_total']} in all, {body['rows_refused']} rows "
            "refused): column | check | row | value"
        )
        for f in failures[:FAILURES_SHOWN]:
            lines.append(
                f"{f['column']} | {f['check']} | {f['index']} | {f['failure_case']!r}"
            )
        if len(failures) > FAILURES_SHOWN:
            lines.append(f"... and {body['failures_total'] - FAILURES_SHOWN} more")
    text = "\n".join(lines)
    raw = text.encode()
    if len(raw) <= MAX_MESSAGE_BYTES:
        return text
    cut = raw[: MAX_MESSAGE_BYTES - 40].decode("utf-8", errors="ignore")
    return f"{cut}... ({len(raw) - len(cut.encode())} more bytes)"
