"""An artifact's lineage: what it replaces, and which rows it was certified on."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from featurekit.errors import ExportError

__all__ = ["fingerprint", "parent"]


def parent(path: str | os.PathLike[str], overwrite: bool) -> dict[str, Any] | None:
    """The artifact `path` already holds (refused without `overwrite`), or None."""
    target = Path(path)
    if not (target / "manifest.json").is_file():
        return None
    try:
        old = json.loads((target / "manifest.json").read_text())
        parent = {
            "name": old.get("name"),
            "version": old.get("version"),
            "sha256": old.get("files", {}).get("model.onnx"),
        }
    except (OSError, ValueError, AttributeError):
        parent = {"name": None, "version": None, "sha256": None}
    if not overwrite:
        raise ExportError(
            f"{str(target)!r} already holds artifact {parent['name']!r} "
            f"v{parent['version']} (model sha256 {str(parent['sha256'])[:12]}); pass "
            "overwrite=True to replace it (the new one records it as its parent), or "
            "choose another path. Nothing was done."
        )
    return parent


def fingerprint(reference: pd.DataFrame) -> dict[str, Any]:
    """Which data the model was certified on: a sha256 of the rows, and their count."""
    hashed = pd.util.hash_pandas_object(reference, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update("\x00".join(map(str, reference.columns)).encode())
    return {"sha256": digest.hexdigest(), "rows": len(reference)}
