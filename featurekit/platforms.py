"""One Open Inference Protocol request through a `Predictor`, for other model servers.

`featurekit.kserve` and `featurekit.mlserver` hand their servers' decoded requests
here: the same decoding (`serving.oip.decode_infer`), contract, model and encoding
(`serving.oip.encode_outputs`) as ``featurekit serve``, and the same status for
what is wrong (`serving.responses`): 400 for a request the protocol cannot read,
422 for rows the contract refuses.
"""

from __future__ import annotations

from typing import Any

from featurekit.errors import ContractError

__all__ = ["PlatformError", "infer"]


class PlatformError(Exception):
    """A request featurekit refuses: `status` (4xx) and the message to send back."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def infer(predictor: Any, body: Any) -> dict[str, Any]:
    """Score an OIP inference request (decoded JSON) and return the response's JSON.

    Raises
    ------
    PlatformError
        400 (malformed request) or 422 (rows the contract refuses), with
        featurekit's message.

    Examples
    --------
    >>> infer(None, {"inputs": []})
    Traceback (most recent call last):
    ...
    featurekit.platforms.PlatformError: 'inputs' must be a non-empty list of tensors, one per input column: {"name": ..., "datatype": ..., "shape": [N], "data": [...]}.
    """
    from serving.oip import RequestError, decode_infer, encode_outputs
    from serving.responses import contract_error

    try:
        records, selected, request_id = decode_infer(
            body, [] if predictor is None else predictor.outputs
        )
        scores = predictor.score(records, selected)
    except RequestError as exc:
        raise PlatformError(exc.status, str(exc)) from None
    except ContractError as exc:
        status = contract_error(exc, lambda failures: 0).status
        raise PlatformError(status, str(exc)) from None
    out: dict[str, Any] = {
        "model_name": predictor.name,
        "model_version": str(predictor.version),
        "outputs": encode_outputs(scores),
    }
    if request_id is not None:
        out["id"] = request_id
    return out
