"""Altering artifacts after export, as an attacker or a broken copy would.

Every helper rewrites the changed file's sha256 in manifest.json, so the hashes match
and only the golden rows (or refusing to unpickle) can tell.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
from onnx import numpy_helper


def replace_file(path: Path, name: str, data: bytes) -> None:
    """Write `name` in the artifact at `path` and record its new sha256."""
    (path / name).write_bytes(data)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


def alter_model(path: Path, edit: Callable[[Any], None]) -> None:
    """Apply `edit` to model.onnx's graph with the onnx package; rewrite the hash."""
    model = onnx.load(path / "model.onnx")
    edit(model.graph)
    replace_file(path, "model.onnx", model.SerializeToString())


def change_initializer(
    name: str, change: Callable[[np.ndarray], np.ndarray]
) -> Callable[[Any], None]:
    """An `alter_model` edit: the initializer `name` (or ending in it) changed."""

    def edit(graph: Any) -> None:
        for init in graph.initializer:
            if init.name == name or init.name.endswith(name):
                value = change(numpy_helper.to_array(init).copy())
                init.CopyFrom(numpy_helper.from_array(value, init.name))
                return
        raise AssertionError(f"no initializer {name!r}")

    return edit


def move_root_split(graph: Any) -> None:
    """An `alter_model` edit: the first tree's root threshold moved far away."""
    (node,) = [n for n in graph.node if n.op_type == "TreeEnsemble"]
    (attr,) = [a for a in node.attribute if a.name == "nodes_splits"]
    splits = numpy_helper.to_array(attr.t).copy()
    splits[0] = -5.0
    attr.t.CopyFrom(numpy_helper.from_array(splits))


def pickled(obj: Any) -> bytes:
    buf = io.BytesIO()
    joblib.dump(obj, buf)
    return buf.getvalue()


class LeavesAMark:
    """Unpickles into a call that writes a file: what a hostile pipeline.joblib does."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self) -> tuple[Any, ...]:
        return exec, (f"with open({str(self.mark)!r}, 'w') as f: f.write('pwned')",)
