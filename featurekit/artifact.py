"""Write, verify and read artifact directories (light core: no scikit-learn here).

Layout::

    model.onnx       transforms + model, one graph
    features.json    the FeatureSet, exactly as declared
    contract.json    the pandera schema (pandera's serialisation) and featurekit's policy
    manifest.json    format version, sha256 of every file, versions, inputs, certificate
    pipeline.joblib  optional, training side only; serving never reads it
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, TypedDict

from featurekit.errors import ArtifactError

__all__ = ["FORMAT_VERSION", "Manifest", "read_manifest", "sha256", "write_atomic"]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED = ("model.onnx", "features.json", "contract.json")


class Certificate(TypedDict):
    passed: bool
    rows: int
    reference_rows: int
    edge_rows: int
    label_agreement: float | None
    max_abs_diff: float
    tolerance: float
    compared: str
    scale: float
    precision_plan: str


class Manifest(TypedDict):
    format_version: int
    name: str
    version: int
    created_at: str
    kind: str
    classes: list[Any] | None
    inputs: dict[str, dict[str, Any]]
    outputs: list[str]
    opset: dict[str, int]
    versions: dict[str, str]
    certificate: Certificate
    files: dict[str, str]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(
    path: str | os.PathLike[str], files: dict[str, bytes], manifest: dict[str, Any]
) -> Path:
    """Write `files` plus a manifest holding their hashes; appear all at once at `path`.

    Everything goes to a temporary sibling directory first, which is then renamed.
    An existing artifact at `path` is replaced only after the new one is complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not target.is_dir():
        raise ArtifactError(
            f"{str(target)!r} is a file, not an artifact directory; refusing to replace "
            "it. Choose another path or remove it."
        )
    if target.exists() and not (target / MANIFEST).exists() and any(target.iterdir()):
        raise ArtifactError(
            f"{str(target)!r} exists and is not an artifact; refusing to replace it. "
            "Choose another path or remove it."
        )
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        hashes = {}
        for name, data in files.items():
            (tmp / name).write_bytes(data)
            hashes[name] = hashlib.sha256(data).hexdigest()
        manifest = {**manifest, "files": hashes}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False))
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent)
            )
            os.rename(target, old / "a")
            try:
                os.rename(tmp, target)
            except BaseException:
                os.rename(old / "a", target)  # put the previous artifact back
                shutil.rmtree(old, ignore_errors=True)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and verify an artifact directory's manifest and every file's sha256.

    Raises
    ------
    ArtifactError
        If the directory, the manifest or a file is missing, a hash differs, or the
        format version is unknown.
    """
    root = Path(path)
    if not root.is_dir():
        raise ArtifactError(f"No artifact at {str(root)!r}: not a directory.")
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise ArtifactError(
            f"{str(root)!r} has no {MANIFEST}; it is not a featurekit artifact or its "
            "export did not finish. Export it again."
        )
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"{str(mpath)!r} is not valid JSON ({exc}); the artifact is damaged."
        ) from None
    if not isinstance(manifest, dict):
        raise ArtifactError(
            f"{str(mpath)!r} is not a JSON object; the artifact is damaged."
        )
    fmt = manifest.get("format_version")
    if fmt != FORMAT_VERSION:
        raise ArtifactError(
            f"Artifact {str(root)!r}: {MANIFEST} has format version {fmt!r}, but this featurekit reads "
            f"version {FORMAT_VERSION}. Re-export it with this featurekit, or install the "
            "featurekit that wrote it."
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{str(mpath)!r} lists no files; the artifact is damaged.")
    for name in REQUIRED:
        if name not in files:
            raise ArtifactError(
                f"Artifact {str(root)!r} does not list {name!r} in its manifest."
            )
    for name, expected in files.items():
        fpath = root / name
        if "/" in name or name.startswith("."):
            raise ArtifactError(f"Manifest lists a suspicious file name {name!r}.")
        if not fpath.is_file():
            raise ArtifactError(
                f"Artifact {str(root)!r} is partial: {name!r} is missing."
            )
        actual = sha256(fpath)
        if actual != expected:
            raise ArtifactError(
                f"Artifact {str(root)!r} was modified: sha256 of {name!r} is "
                f"{actual[:12]}..., the manifest says {str(expected)[:12]}.... Re-export it."
            )
    return manifest  # type: ignore[return-value]


def read_profile(root: Path, manifest: Manifest) -> dict[str, Any]:
    """The artifact's ``profile.json`` (its hash was checked with the manifest).

    Raises
    ------
    ArtifactError
        The artifact predates drift profiles, or the file is not a profile.
    """
    if "profile.json" not in manifest["files"]:
        raise ArtifactError(
            f"Artifact {str(root)!r} has no profile.json (exported before featurekit "
            "profiled reference data); re-export it to monitor drift."
        )
    try:
        profile: dict[str, Any] = json.loads((root / "profile.json").read_text())
        profile["features"], profile["settings"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(
            f"Artifact {str(root)!r} has an unreadable profile.json: {exc!r}"
        ) from None
    return profile
