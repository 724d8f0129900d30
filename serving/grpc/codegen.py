"""Regenerate the protobuf and gRPC modules of `serving.grpc` from its .proto.

Run ``python -m serving.grpc.codegen`` (or ``make grpc-proto``) after changing
``grpc_predict_v2.proto``; it needs grpcio-tools 1.81.1 (the dev extra), the last
release whose protoc writes code for protobuf 6, which the project pins (``<7``).

One change is made to what protoc writes: the messages are registered in a
descriptor pool of their own, not protobuf's default pool. tritonclient (and KServe)
register the same ``inference.*`` names in the default pool, and a second
registration there is a ``TypeError``; with a pool of its own, featurekit's server
and their clients can share one process.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["generate", "main"]

HERE = Path(__file__).resolve().parent
PROTO = HERE / "grpc_predict_v2.proto"
#: What protoc writes, and what it becomes.
_DEFAULT_POOL = "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile("
_OWN_POOL = (
    "# featurekit: a pool of its own, so that tritonclient's identical inference.*\n"
    "# names (registered in the default pool) never clash (serving/grpc/codegen.py)\n"
    "_POOL = _descriptor_pool.DescriptorPool()\n"
    "DESCRIPTOR = _POOL.AddSerializedFile("
)


def generate(out: Path) -> list[Path]:
    """Write the generated modules for `PROTO` under `out` (a repository root).

    Returns the files written, e.g. ``out/serving/grpc/grpc_predict_v2_pb2.py``.

    Examples
    --------
    >>> generate(Path("/tmp/regenerated"))  # doctest: +SKIP
    [PosixPath('/tmp/regenerated/serving/grpc/grpc_predict_v2_pb2.py'), ...]
    """
    from grpc_tools import protoc  # the dev extra: pip install 'featurekit[dev]'

    root = HERE.parent.parent
    target = out / "serving" / "grpc"
    target.mkdir(parents=True, exist_ok=True)
    status = protoc.main(
        [
            "protoc",
            f"-I{root}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            str(PROTO.relative_to(root)),
        ]
    )
    if status != 0:
        raise RuntimeError(f"protoc failed with status {status} on {PROTO}.")
    pb2 = target / "grpc_predict_v2_pb2.py"
    text = pb2.read_text()
    if _DEFAULT_POOL not in text:
        raise RuntimeError(
            f"protoc's output changed: {_DEFAULT_POOL!r} is not in {pb2}; update "
            "serving/grpc/codegen.py for this grpcio-tools."
        )
    pb2.write_text(text.replace(_DEFAULT_POOL, _OWN_POOL))
    return sorted(target.glob("grpc_predict_v2_pb2*.py*"))


def main() -> int:
    """Regenerate the modules in place."""
    for path in generate(HERE.parent.parent):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
