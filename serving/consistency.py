"""Check that an artifact's manifest describes its graph, as onnxruntime loaded it."""

from __future__ import annotations

from typing import Any

from featurekit.errors import ArtifactError

__all__ = ["check_graph", "ort_version"]


def check_graph(
    session: Any, outputs: tuple[str, ...], kind: str, n_classes: int, source: str
) -> None:
    """The manifest's kind, outputs and classes must be what the graph answers.

    Raises
    ------
    ArtifactError
        Naming what the manifest says and what the graph has.
    """
    graph = {o.name: o for o in session.get_outputs()}
    missing = [o for o in outputs if o not in graph]
    if missing:
        raise ArtifactError(
            f"Artifact {source}: the manifest lists outputs {missing!r} that "
            f"model.onnx does not produce (it has {sorted(graph)!r}). Re-export it."
        )
    expected = {"classifier": "label", "regressor": "prediction"}.get(kind)
    if expected is None or expected not in outputs:
        raise ArtifactError(
            f"Artifact {source}: the manifest's kind {kind!r} does not "
            f"fit its outputs {list(outputs)!r}. Re-export it."
        )
    if "probabilities" in graph and kind == "classifier":
        width = graph["probabilities"].shape[-1]
        if isinstance(width, int) and width != n_classes:
            raise ArtifactError(
                f"Artifact {source}: the manifest names {n_classes} "
                f"classes but the graph answers {width} probabilities per row. "
                "Re-export it."
            )


def ort_version() -> str:
    """The onnxruntime this process runs."""
    import onnxruntime

    return str(onnxruntime.__version__)
