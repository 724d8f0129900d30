"""Write a Triton model repository for an artifact's graph: `export_triton`.

Triton's onnxruntime backend runs ``model.onnx`` as it is; ``config.pbtxt`` tells it
the graph's inputs and outputs (one ``TYPE_STRING`` tensor per categorical column, a
numeric type per numeric one), batching, and the session options featurekit's own
`featurekit.runtime.Session` uses: one intra-op and one inter-op thread (tree sums in
scikit-learn's order, and never a thread count of 0, which onnxruntime resolves from
the host's cores rather than the container's CPU limit), and graph optimisations off
(the certificate holds with onnxruntime's ``NoopElimination`` disabled, and Triton
cannot disable one optimiser alone).

What Triton then does not do: check the contract, count drift, answer
``/predict``. docs/scale-out.md says how to put featurekit in front of it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from featurekit.errors import ArtifactError

__all__ = ["export_triton", "triton_config"]

#: ONNX tensor element types and the Triton data type of each.
TRITON_TYPES = {
    1: "TYPE_FP32",
    2: "TYPE_UINT8",
    3: "TYPE_INT8",
    4: "TYPE_UINT16",
    5: "TYPE_INT16",
    6: "TYPE_INT32",
    7: "TYPE_INT64",
    8: "TYPE_STRING",
    9: "TYPE_BOOL",
    10: "TYPE_FP16",
    11: "TYPE_FP64",
    12: "TYPE_UINT32",
    13: "TYPE_UINT64",
    16: "TYPE_BF16",
}
#: Operators whose Triton images need something featurekit cannot put in the
#: repository (StringNormalizer reads the process's locale, which slim images lack).
NEEDS_LOCALE = ("StringNormalizer",)


def _shape(value: Any, source: str) -> tuple[str, list[int]]:
    """A graph input's or output's Triton type and full dims (-1 where symbolic)."""
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        producer = "a ZipMap" if kind in ("sequence_type", "map_type") else kind
        raise ArtifactError(
            f"Artifact {source}: output {value.name!r} is {producer} ({kind}), not "
            "a tensor; Triton serves tensors only. Re-export it with featurekit, "
            "whose graphs answer probabilities as a tensor (no ZipMap)."
        )
    tensor = value.type.tensor_type
    dtype = TRITON_TYPES.get(tensor.elem_type)
    if dtype is None:
        raise ArtifactError(
            f"Artifact {source}: {value.name!r} has ONNX element type "
            f"{tensor.elem_type}, which Triton has no type for."
        )
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    return dtype, dims


def _tensor(name: str, dtype: str, dims: list[int], batched: bool) -> str:
    if batched:
        dims = dims[1:]  # Triton adds the batch dimension itself
    lines = [f'    name: "{name}"', f"    data_type: {dtype}"]
    if not dims:
        # a [batch] tensor: Triton wants dims, so [1] reshaped to the model's []
        lines += ["    dims: [ 1 ]", "    reshape: { shape: [ ] }"]
    else:
        lines.append(f"    dims: [ {', '.join(str(d) for d in dims)} ]")
    return "  {\n" + "\n".join(lines) + "\n  }"


def triton_config(
    model: bytes,
    name: str,
    outputs: list[str],
    *,
    max_batch_size: int = 4096,
    source: str = "model",
) -> str:
    """The ``config.pbtxt`` (protobuf text) that serves `model` with onnxruntime.

    Parameters
    ----------
    model : bytes
        The serialised ONNX graph.
    name : str
        The model's name in the repository.
    outputs : list of str
        The graph outputs to serve (the manifest's), in order.
    max_batch_size : int
        Rows Triton may batch into one run (dynamic batching on); 0 turns Triton's
        batching off and spells the batch dimension in the dims as -1.
    source : str
        How messages name the model.

    Returns
    -------
    str

    Raises
    ------
    ArtifactError
        An output is not a tensor (a ZipMap's sequence of maps), or of an element
        type Triton lacks, or the graph uses an operator that Triton images cannot
        run as featurekit certified it (``StringNormalizer``).

    Examples
    --------
    >>> import onnx
    >>> from onnx import TensorProto, helper
    >>> x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", 1])
    >>> y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", 1])
    >>> graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    >>> text = triton_config(helper.make_model(graph).SerializeToString(), "m", ["y"])
    >>> print(text.splitlines()[1])
    backend: "onnxruntime"
    """
    import onnx

    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int):
        raise ValueError(f"max_batch_size must be an int, got {max_batch_size!r}.")
    if max_batch_size < 0:
        raise ValueError(f"max_batch_size must be 0 or more, got {max_batch_size}.")
    proto = onnx.load_from_string(model)
    ops = {n.op_type for n in proto.graph.node}
    for op in NEEDS_LOCALE:
        if op in ops:
            raise ArtifactError(
                f"Artifact {source}: the graph uses {op}, whose lowercasing depends "
                "on the server's locale (Triton's images set none). featurekit's "
                "own text features do not use it; re-export with them."
            )
    produced = {o.name: o for o in proto.graph.output}
    missing = [o for o in outputs if o not in produced]
    if missing:
        raise ArtifactError(
            f"Artifact {source}: outputs {missing!r} are not in the graph (it has "
            f"{sorted(produced)!r}). Re-export it."
        )
    inputs = [(i.name, *_shape(i, source)) for i in proto.graph.input]
    served = [(o, *_shape(produced[o], source)) for o in outputs]
    batched = max_batch_size > 0 and all(
        dims and dims[0] == -1 for _, _, dims in inputs + served
    )
    tensors_in = ",\n".join(_tensor(n, t, d, batched) for n, t, d in inputs)
    tensors_out = ",\n".join(_tensor(n, t, d, batched) for n, t, d in served)
    lines = [
        f'name: "{name}"',
        'backend: "onnxruntime"',
        f"max_batch_size: {max_batch_size if batched else 0}",
        'default_model_filename: "model.onnx"',
        f"input [\n{tensors_in}\n]",
        f"output [\n{tensors_out}\n]",
        "instance_group [ { kind: KIND_CPU } ]",
        # level 2: all graph optimisations off (see the module's docstring)
        "optimization { graph { level: 2 } }",
        'parameters { key: "intra_op_thread_count" value: { string_value: "1" } }',
        'parameters { key: "inter_op_thread_count" value: { string_value: "1" } }',
    ]
    if batched:
        lines.append("dynamic_batching { }")
    return "\n".join(lines) + "\n"


def export_triton(
    artifact: str | os.PathLike[str],
    repository: str | os.PathLike[str],
    *,
    name: str | None = None,
    version: int = 1,
    max_batch_size: int = 4096,
    overwrite: bool = False,
) -> Path:
    """Write ``REPOSITORY/NAME/config.pbtxt`` and ``REPOSITORY/NAME/VERSION/model.onnx``.

    The artifact is read and verified first (every sha256), and the graph is copied
    byte for byte: Triton runs the certified graph.

    Parameters
    ----------
    artifact : str or Path
        The artifact directory.
    repository : str or Path
        The Triton model repository (created if absent); other models in it stay.
    name : str, optional
        The model's name in Triton (default: the FeatureSet's name).
    version : int
        The version directory (Triton serves the highest by default).
    max_batch_size : int
        See `triton_config`.
    overwrite : bool
        Replace that model's directory when it already exists.

    Returns
    -------
    Path
        The model's directory, ``REPOSITORY/NAME``.

    Raises
    ------
    ArtifactError
        The artifact cannot be read, or its graph cannot be served by Triton as
        certified (see `triton_config`).
    FileExistsError
        The model's directory exists and `overwrite` is False.

    Examples
    --------
    >>> export_triton("no/such/artifact", "models")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/artifact': not a directory.
    """
    import shutil
    import tempfile

    from featurekit import atomic
    from featurekit.artifact import read

    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive int, got {version!r}.")
    files = read(artifact, model=True)
    assert files.model is not None  # read(model=True) returns it
    model_name = name or files.features.name
    if not model_name or "/" in model_name or model_name.startswith("."):
        raise ValueError(f"{model_name!r} is not a usable model directory name.")
    source = repr(str(files.path))
    config = triton_config(
        files.model,
        model_name,
        list(files.manifest["outputs"]),
        max_batch_size=max_batch_size,
        source=source,
    )
    root = Path(repository)
    target = root / model_name
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{str(target)!r} exists; pass overwrite=True (--overwrite) to replace it."
        )
    root.mkdir(parents=True, exist_ok=True)
    # write beside it, then rename: Triton polling the repository never sees half
    tmp = Path(tempfile.mkdtemp(prefix=f".{model_name}.", dir=root))
    try:
        (tmp / str(version)).mkdir()
        atomic.write_synced(tmp / str(version) / "model.onnx", files.model)
        atomic.write_synced(tmp / "config.pbtxt", config.encode())
        os.chmod(tmp, 0o777 & ~atomic.umask())
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
        atomic.sync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
