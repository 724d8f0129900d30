"""An MLServer inference runtime for an artifact: `FeaturekitRuntime` (``featurekit[mlserver]``).

In ``model-settings.json``::

    {"name": "credit",
     "implementation": "featurekit.mlserver.FeaturekitRuntime",
     "parameters": {"uri": "artifacts/credit"}}

then ``mlserver start DIR``. Requests are read, checked and answered by
`featurekit.platforms.infer`, as ``featurekit serve`` does: a contract failure is a
422, a malformed request a 400; ``GET /v2/models/NAME`` lists the inputs and outputs
as ``featurekit serve`` does (`serving.oip.model_metadata`). Each MLServer worker loads its own `Predictor`
(one session each: MLServer's memory grows with models times workers, mlserver#1232,
so keep ``parallel_workers`` to the cores you give it).
"""

from __future__ import annotations

from typing import Any

from featurekit.platforms import PlatformError, infer

__all__ = ["FeaturekitRuntime"]

try:
    from mlserver import MLModel as _Runtime
except ImportError as _missing:  # the module still imports (docs, doctests)
    _why = _missing

    class _Runtime:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(
                "featurekit.mlserver needs MLServer: pip install 'featurekit[mlserver]'."
            ) from _why


class FeaturekitRuntime(_Runtime):
    """An ``mlserver.MLModel`` that scores with `serving.Predictor`.

    The artifact is ``parameters.uri`` of the model's settings (relative paths are
    resolved as MLServer resolves them: against the settings file's folder).
    """

    predictor: Any = None

    async def load(self) -> bool:
        from mlserver.utils import get_model_uri

        from serving import Predictor

        self.predictor = Predictor.load(await get_model_uri(self.settings))
        return True

    async def metadata(self) -> Any:
        """``GET /v2/models/NAME``: the inputs and outputs ``featurekit serve`` lists."""
        from mlserver.types import MetadataModelResponse, MetadataTensor

        from serving.oip import model_metadata

        listed = model_metadata(self.predictor)
        return MetadataModelResponse(
            name=self.name,
            versions=self._settings.versions,
            platform=self._settings.platform,
            inputs=[MetadataTensor.model_validate(t) for t in listed["inputs"]],
            outputs=[MetadataTensor.model_validate(t) for t in listed["outputs"]],
        )

    async def predict(self, payload: Any) -> Any:
        from mlserver.errors import MLServerError
        from mlserver.types import InferenceResponse

        body = payload.model_dump(exclude_none=True)
        try:
            answer = infer(self.predictor, body)
        except PlatformError as exc:
            raise MLServerError(str(exc), status_code=exc.status) from None
        answer["model_name"] = self.name
        return InferenceResponse.model_validate(answer)
