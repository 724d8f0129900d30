"""Write artifact directories, and read and verify them: the one artifact reader.

Layout::

    model.onnx       transforms + model, one graph
    features.json    the FeatureSet, exactly as declared
    contract.json    the pandera schema (pandera's serialisation) and featurekit's policy
    profile.json     the reference profile drift is measured against
    golden.json      certified rows and their answers, re-run at load (optional: older
                     artifacts have none)
    manifest.json    format version, sha256 of every file, versions, inputs, certificate
    pipeline.joblib  optional, training side only; serving never reads it

`read` is what both `featurekit.load` and `serving.Predictor.load` call: every way
reading can fail (a missing file, a changed hash, JSON that does not parse, a
declaration that no longer validates) comes out as `ArtifactError`.

Light core: no scikit-learn, skl2onnx or joblib here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from featurekit import atomic
from featurekit.contract.schema import Contract
from featurekit.declare.featureset import FeatureSet
from featurekit.errors import ArtifactError, SpecError
from featurekit.golden.rows import GOLDEN, GoldenRows

__all__ = [
    "FORMAT_VERSION",
    "ArtifactFiles",
    "Manifest",
    "read",
    "read_manifest",
    "read_profile",
    "sha256",
    "write_atomic",
]

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


class Holdout(TypedDict):
    """``fk.export(..., holdout_y=)``: `featurekit.outcomes.holdout.holdout_record`."""

    rows: int
    metrics: dict[str, dict[str, Any]]
    labels: dict[str, Any]


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
    holdout: NotRequired[Holdout]
    # "argmax(probabilities)": the label output is classes[argmax(probabilities)]
    label_rule: NotRequired[str]


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

    Everything goes to a temporary sibling directory first, written and fsynced, then
    takes the place of `path`. An existing artifact is swapped out in one atomic step
    where the filesystem can (Linux ``renameat2(RENAME_EXCHANGE)``), so a reader or a
    crash never finds the path empty or half-written; elsewhere it is renamed aside
    first. The directory gets the usual permissions (0o777 less the umask). Temporary
    directories a crashed writer left beside `path` over an hour ago are removed.
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
    atomic.remove_stale(target.parent, f".{target.name}.")  # a crashed writer's
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        hashes = {}
        for name, data in files.items():
            atomic.write_synced(tmp / name, data)
            hashes[name] = hashlib.sha256(data).hexdigest()
        manifest = {**manifest, "files": hashes}
        text = json.dumps(manifest, indent=2, sort_keys=False)
        atomic.write_synced(tmp / MANIFEST, text.encode())
        os.chmod(tmp, 0o777 & ~atomic.umask())  # mkdtemp makes it 0o700
        atomic.sync_dir(tmp)
        if target.exists() and atomic.exchange(tmp, target):
            atomic.sync_dir(target.parent)
            shutil.rmtree(tmp, ignore_errors=True)  # the previous artifact, now
            return target
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
        atomic.sync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and verify an artifact directory's manifest and every file's sha256.

    Raises
    ------
    ArtifactError
        If the directory, the manifest or a file is missing, a hash differs, the
        format version is unknown, or the manifest lacks an entry serving needs.
    """
    root = Path(path)
    manifest = _manifest(root)
    for name, expected in manifest["files"].items():
        if sha256(root / name) != expected:
            raise _modified(root, name, sha256(root / name), expected)
    return manifest


def _manifest(root: Path) -> Manifest:
    """The manifest, its structure checked and its files present; hashes not yet."""
    if not root.is_dir():
        raise ArtifactError(f"No artifact at {str(root)!r}: not a directory.")
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise ArtifactError(
            f"{str(root)!r} has no {MANIFEST}; it is not a featurekit artifact or its "
            "export did not finish. Export it again."
        )
    try:
        manifest = json.loads(mpath.read_bytes())
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError
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
            f"Artifact {str(root)!r}: {MANIFEST} has format version {fmt!r}, but this "
            f"featurekit reads version {FORMAT_VERSION}. Re-export it with this "
            "featurekit, or install the featurekit that wrote it."
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(v, str) for v in files.values()
    ):
        raise ArtifactError(f"{str(mpath)!r} lists no files; the artifact is damaged.")
    for name in REQUIRED:
        if name not in files:
            raise ArtifactError(
                f"Artifact {str(root)!r} does not list {name!r} in its manifest."
            )
    for name in files:
        if "/" in name or "\\" in name or name.startswith("."):
            raise ArtifactError(f"Manifest lists a suspicious file name {name!r}.")
        if not (root / name).is_file():
            raise ArtifactError(
                f"Artifact {str(root)!r} is partial: {name!r} is missing."
            )
    wrong = [
        f"{key!r} ({want})"
        for key, want, ok in _ENTRIES
        if not ok(manifest.get(key, _ABSENT))
    ]
    if wrong:
        raise ArtifactError(
            f"Artifact {str(root)!r}: {MANIFEST} lacks or mistypes {', '.join(wrong)}; "
            "the artifact is damaged. Re-export it."
        )
    return manifest  # type: ignore[return-value]


_ABSENT = object()
#: Manifest entries everything downstream relies on: (key, expected, check).
_ENTRIES: tuple[tuple[str, str, Any], ...] = (
    ("name", "a string", lambda v: isinstance(v, str)),
    ("version", "an int", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    ("kind", "'classifier' or 'regressor'", lambda v: v in ("classifier", "regressor")),
    ("classes", "a list or null", lambda v: v is None or isinstance(v, list)),
    ("inputs", "an object", lambda v: isinstance(v, dict)),
    (
        "outputs",
        "a list of strings",
        lambda v: isinstance(v, list) and all(isinstance(o, str) for o in v),
    ),
    (
        "certificate",
        "an object with a numeric tolerance",
        lambda v: (
            isinstance(v, dict)
            and isinstance(v.get("tolerance"), int | float)
            and not isinstance(v.get("tolerance"), bool)
        ),
    ),
    ("versions", "an object", lambda v: isinstance(v, dict)),
)


def _modified(root: Path, name: str, actual: str, expected: str) -> ArtifactError:
    return ArtifactError(
        f"Artifact {str(root)!r} was modified: sha256 of {name!r} is "
        f"{actual[:12]}..., the manifest says {expected[:12]}.... Re-export it."
    )


@dataclass(frozen=True)
class ArtifactFiles:
    """An artifact directory, read and verified, as the training side and serving see it.

    Attributes
    ----------
    path : Path
    manifest : Manifest
        Format version, hashes, library versions, inputs and the parity certificate.
    features : FeatureSet
        From ``features.json``.
    contract : Contract
        From ``contract.json``; declares the same features.
    profile : dict or None
        ``profile.json``; None for artifacts exported before drift profiles.
    golden : GoldenRows or None
        ``golden.json``; None for artifacts exported before golden rows.
    model : bytes or None
        ``model.onnx`` as hashed, when `read` was asked for it.
    """

    path: Path
    manifest: Manifest
    features: FeatureSet
    contract: Contract
    profile: dict[str, Any] | None
    golden: GoldenRows | None
    model: bytes | None = None


def read(path: str | os.PathLike[str], *, model: bool = False) -> ArtifactFiles:
    """Read and verify an artifact directory; every failure is an `ArtifactError`.

    The files parsed here are hashed from the very bytes parsed, so a file replaced
    between the check and the use is still caught; the others (``pipeline.joblib``)
    are hashed on disk.

    Parameters
    ----------
    path : str or Path
        The directory `featurekit.export` wrote.
    model : bool
        Also return ``model.onnx``'s bytes (serving needs them; the training side
        does not).

    Returns
    -------
    ArtifactFiles

    Raises
    ------
    ArtifactError
        The directory or a file is missing, a hash differs, the format is unknown,
        or a file does not parse (the message names the file).

    Examples
    --------
    >>> read("no/such/dir")
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: No artifact at 'no/such/dir': not a directory.
    """
    root = Path(path)
    manifest = _manifest(root)
    files = manifest["files"]
    parsed = ["features.json", "contract.json", "profile.json", GOLDEN]
    if model:
        parsed.append("model.onnx")
    data: dict[str, bytes] = {}
    for name, expected in files.items():
        if name not in parsed:
            if sha256(root / name) != expected:
                raise _modified(root, name, sha256(root / name), expected)
            continue
        try:
            data[name] = (root / name).read_bytes()
        except OSError as exc:
            raise ArtifactError(
                f"Artifact {str(root)!r}: cannot read {name!r} ({exc})."
            ) from None
        actual = hashlib.sha256(data[name]).hexdigest()
        if actual != expected:
            raise _modified(root, name, actual, expected)
    if "model.onnx" in data and (tensors := external_tensors(data["model.onnx"])):
        raise ArtifactError(
            f"Artifact {str(root)!r}: model.onnx keeps tensors {tensors[:3]!r} in "
            "external files, which onnxruntime would read relative to the server's "
            "working directory; an artifact holds its whole graph. Re-export it."
        )
    features = _parse(root, "features.json", data, FeatureSet.from_json)
    contract = _parse(root, "contract.json", data, Contract.from_json)
    if contract.features != features:
        raise ArtifactError(
            f"Artifact {str(root)!r}: contract.json declares other features than "
            "features.json; the artifact is inconsistent. Re-export it."
        )
    profile = None
    if "profile.json" in data:
        profile = _parse(root, "profile.json", data, _profile)
    golden = None
    if GOLDEN in data:
        golden = _parse(root, GOLDEN, data, GoldenRows.from_json)
        _check_golden(root, golden, manifest)
    return ArtifactFiles(
        root, manifest, features, contract, profile, golden, data.get("model.onnx")
    )


#: TensorProto.data_location (field 14, a varint) set to EXTERNAL (1): no graph that
#: lacks these two bytes can hold an external tensor, so most loads skip the parse
_EXTERNAL_TAG = b"\x70\x01"


def external_tensors(model: bytes) -> list[str]:
    """The tensors of an ONNX model whose data lives in files outside it.

    Examples
    --------
    >>> external_tensors(b"")
    []
    """
    if _EXTERNAL_TAG not in model:
        return []
    import onnx

    try:
        proto = onnx.load_from_string(model)
    except Exception:  # unparseable: onnxruntime will say what is wrong with it
        return []
    found: list[str] = []

    def walk(graph: Any) -> None:
        tensors = [*graph.initializer]
        tensors += [t for s in graph.sparse_initializer for t in (s.values, s.indices)]
        for node in graph.node:
            for a in node.attribute:
                tensors += [a.t, *a.tensors]
                for g in (a.g, *a.graphs):
                    walk(g)
        found.extend(
            t.name or "(unnamed)"
            for t in tensors
            if t.data_location == onnx.TensorProto.EXTERNAL
        )

    walk(proto.graph)
    return found


def _parse(root: Path, name: str, data: dict[str, bytes], parse: Any) -> Any:
    try:
        return parse(data[name].decode("utf-8"))
    except (SpecError, ValueError, KeyError, TypeError, IndexError) as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ArtifactError(
            f"Artifact {str(root)!r} has an invalid {name}: {str(exc).rstrip('.')}. "
            "Its hash matches "
            "the manifest, so it was written like this: re-export it with this "
            "featurekit, or install the featurekit that wrote it."
        ) from None


def _profile(text: str) -> dict[str, Any]:
    profile = json.loads(text)
    if not isinstance(profile, dict):
        raise ValueError("not a JSON object")
    profile["features"], profile["settings"]
    return profile


def _check_golden(root: Path, golden: GoldenRows, manifest: Manifest) -> None:
    want = set(manifest["outputs"])
    if set(golden.expected) != want:
        raise ArtifactError(
            f"Artifact {str(root)!r}: {GOLDEN} holds the answers "
            f"{sorted(golden.expected)!r} but a {manifest['kind']} answers "
            f"{sorted(want)!r}; the artifact is inconsistent. Re-export it."
        )


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
        return _profile((root / "profile.json").read_text())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(
            f"Artifact {str(root)!r} has an unreadable profile.json: {exc!r}"
        ) from None
