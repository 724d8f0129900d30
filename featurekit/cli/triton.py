"""``featurekit export-triton ARTIFACT REPO_DIR``: the command around `export_triton`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from featurekit.errors import ArtifactError

__all__ = ["add_export_triton"]


def add_export_triton(sub: Any) -> None:
    """Add the ``export-triton`` subcommand to the ``featurekit`` subparsers `sub`.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="featurekit")
    >>> add_export_triton(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["export-triton", "a", "repo"]).max_batch_size
    4096
    """
    cmd = sub.add_parser(
        "export-triton",
        help="write a Triton model repository (onnxruntime backend) for an artifact",
        description=(
            "Write REPO_DIR/NAME/config.pbtxt and REPO_DIR/NAME/VERSION/model.onnx "
            "for ARTIFACT's certified graph, for Triton's onnxruntime backend. "
            "Triton does not check the contract nor count drift: see "
            "docs/scale-out.md. Exit status: 0 written, 2 usage error."
        ),
    )
    cmd.add_argument("artifact", metavar="ARTIFACT", help="artifact directory")
    cmd.add_argument("repository", metavar="REPO_DIR", help="Triton model repository")
    cmd.add_argument("--name", help="model name in Triton (default: the FeatureSet's)")
    cmd.add_argument(
        "--model-version", type=int, default=1, help="version directory (default 1)"
    )
    cmd.add_argument(
        "--max-batch-size",
        type=int,
        default=4096,
        help="rows Triton may batch into one run; 0 turns batching off (default 4096)",
    )
    cmd.add_argument(
        "--overwrite", action="store_true", help="replace the model's directory"
    )
    cmd.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from featurekit.triton import export_triton

    try:
        path = export_triton(
            args.artifact,
            args.repository,
            name=args.name,
            version=args.model_version,
            max_batch_size=args.max_batch_size,
            overwrite=args.overwrite,
        )
    except (ArtifactError, ValueError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"featurekit export-triton: error: {message}", file=sys.stderr)
        return 2
    print(
        f"wrote {path / 'config.pbtxt'} and {path / str(args.model_version)}/model.onnx"
    )
    return 0
