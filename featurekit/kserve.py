"""A KServe model server for an artifact: `FeaturekitModel` (``featurekit[kserve]``).

Run it as ``python -m featurekit.kserve --artifact PATH [--model_name NAME]
[--http_port 8080]`` (KServe's own flags apply), or build `FeaturekitModel` and pass
it to ``kserve.ModelServer().start``. Requests are read, checked and answered by
`featurekit.platforms.infer`, as ``featurekit serve`` does: a contract failure is a
422, a malformed request a 400. ``GET /v2/models/NAME`` lists the inputs and outputs
(names, datatypes, shapes) as ``featurekit serve``'s metadata does
(`serving.oip.model_metadata`).
"""

from __future__ import annotations

import sys
from typing import Any

from featurekit.platforms import PlatformError, infer

__all__ = ["FeaturekitModel", "main"]

try:
    import kserve

    _Model: Any = kserve.Model
except ImportError as _missing:  # the module still imports (docs, doctests)
    _why = _missing

    class _Model:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(
                "featurekit.kserve needs KServe: pip install 'featurekit[kserve]'."
            ) from _why


class FeaturekitModel(_Model):
    """A ``kserve.Model`` that scores with `serving.Predictor`.

    Parameters
    ----------
    name : str
        The model's name in the URL (``/v2/models/NAME/infer``).
    artifact : str or Path
        The artifact directory; loaded (and verified) at once.
    """

    def __init__(self, name: str, artifact: Any) -> None:
        super().__init__(name)
        self.artifact = artifact
        self.predictor: Any = None
        self.load()

    def load(self) -> bool:
        from serving import Predictor

        self.predictor = Predictor.load(self.artifact)
        self.ready = True
        return True

    def get_input_types(self) -> list[dict[str, Any]]:
        """The inputs of ``GET /v2/models/NAME``: what ``featurekit serve`` lists."""
        from serving.oip import model_metadata

        return [dict(t) for t in model_metadata(self.predictor)["inputs"]]

    def get_output_types(self) -> list[dict[str, Any]]:
        """The outputs of ``GET /v2/models/NAME``: what ``featurekit serve`` lists."""
        from serving.oip import model_metadata

        return [dict(t) for t in model_metadata(self.predictor)["outputs"]]

    async def predict(
        self,
        payload: Any,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Any:
        from fastapi import HTTPException
        from kserve import InferRequest, InferResponse

        body = payload.to_rest()[0] if isinstance(payload, InferRequest) else payload
        try:
            answer = infer(self.predictor, body)
        except PlatformError as exc:
            raise HTTPException(status_code=exc.status, detail=str(exc)) from None
        return InferResponse.from_rest(answer)


def main(argv: list[str] | None = None) -> None:
    """Serve ``--artifact PATH`` with KServe's model server (its flags apply too)."""
    import argparse

    from kserve import ModelServer
    from kserve.model_server import parser as kserve_parser

    parser = argparse.ArgumentParser(
        parents=[kserve_parser], conflict_handler="resolve"
    )
    parser.add_argument("--artifact", required=True, help="artifact directory")
    parser.add_argument(
        "--model_name", default=None, help="name in the URL (default: the FeatureSet's)"
    )
    args, _ = parser.parse_known_args(argv)
    model = FeaturekitModel(args.model_name or "", args.artifact)
    if not args.model_name:  # the FeatureSet's name, as featurekit serve uses
        model.name = model.predictor.name
    ModelServer().start([model])


if __name__ == "__main__":
    main(sys.argv[1:])
