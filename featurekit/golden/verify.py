"""Run golden rows through this machine's runtime and compare with the certificate.

A row passes when its label agrees, its probabilities (classifiers) are within the
certificate's tolerance or its prediction (regressors) or decision function
(classifiers without probabilities) within tolerance × max(scale, |value|), and, for
tree models, every feature is bit-identical: a last-bit difference at a split value
sends a row down the other branch.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from featurekit.errors import ArtifactError, ContractError, ParityWarning
from featurekit.golden.rows import GoldenRows

__all__ = ["MODES", "Verification", "check_mode", "enforce", "machine", "verify"]

MODES = ("strict", "warn", "off")

Status = Literal["passed", "failed", "off", "absent"]
#: ``run(records, outputs)``: the named graph outputs for raw records.
Runner = Callable[[list[dict[str, Any]], list[str]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Verification:
    """What the golden rows said about this machine's runtime.

    Attributes
    ----------
    status : {"passed", "failed", "off", "absent"}
        "off": not run (``verify="off"``); "absent": the artifact has no golden
        rows (exported before featurekit stored them), so there is nothing to run.
    rows : int
        Golden rows run.
    failing : int
        Rows answered otherwise than certified.
    message : str
        For a failure: the first differing row, this runtime and CPU, what to do.
        Otherwise a one-line summary.
    seconds : float
        Time spent reading the rows and running them.
    first : dict or None
        The first differing row: ``index``, ``name``, ``inputs`` and ``differences``.
    """

    status: Status
    rows: int = 0
    failing: int = 0
    message: str = ""
    seconds: float = 0.0
    first: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """False only when the rows ran and some answered otherwise."""
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "rows": self.rows,
            "rows_failing": self.failing,
            "message": self.message,
            "seconds": self.seconds,
            "first": self.first,
        }


def check_mode(verify: str) -> str:
    """Return `verify` if it is a known mode, else raise a ValueError saying which are."""
    if verify not in MODES:
        raise ValueError(
            f"verify must be one of {list(MODES)!r}, got {verify!r}. 'strict' refuses "
            "an artifact whose golden rows answer otherwise on this machine, 'warn' "
            "loads it with a ParityWarning, 'off' does not run them."
        )
    return verify


def verify(
    golden: GoldenRows | None,
    run: Runner,
    *,
    kind: str,
    outputs: Sequence[str],
    certificate: dict[str, Any],
    artifact: str,
) -> Verification:
    """Run the golden rows through `run` and compare with the certified answers.

    Parameters
    ----------
    golden : GoldenRows or None
        None gives ``status="absent"``.
    run : callable
        ``run(records, names)`` returns the named graph outputs for the records, as
        serving computes them (contract, then onnxruntime).
    kind : {"classifier", "regressor"}
    outputs : list of str
        The artifact's outputs, as in its manifest.
    certificate : dict
        The manifest's certificate: ``tolerance`` and ``scale``.
    artifact : str
        Names the artifact in the message.

    Returns
    -------
    Verification
        Never raises on a mismatch; see `enforce`.

    Examples
    --------
    >>> verify(None, None, kind="classifier", outputs=[], certificate={},
    ...        artifact="old").status
    'absent'
    """
    start = time.perf_counter()
    if golden is None:
        return Verification(
            "absent",
            message=f"Artifact {artifact} has no golden rows (exported before "
            "featurekit stored them); nothing to verify on this machine.",
        )
    names = list(outputs)
    if golden.features_output is not None:
        names.append(golden.features_output)
    n = len(golden)
    try:
        got = run(golden.records, names)
    except ContractError as exc:
        refusal = {
            "index": None,
            "name": "(contract)",
            "inputs": None,
            "differences": [
                f"this featurekit refuses them: {str(exc).splitlines()[0]}"
            ],
        }
        return _failed(artifact, n, n, refusal, golden, start)
    bad, why = _compare(golden, got, kind, certificate)
    if not bad.any():
        return Verification(
            "passed",
            n,
            message=f"{n} golden rows answer as certified on onnxruntime "
            f"{_ort_version()}.",
            seconds=time.perf_counter() - start,
        )
    i = int(np.argmax(bad))
    first = {
        "index": i,
        "name": golden.names[i],
        "inputs": golden.records[i],
        "differences": why(i),
    }
    return _failed(artifact, n, int(bad.sum()), first, golden, start)


def enforce(verification: Verification, mode: str) -> None:
    """Raise (``"strict"``) or warn (``"warn"``) about a failed verification."""
    if verification.ok or mode == "off":
        return
    if mode == "strict":
        raise ArtifactError(
            f"{verification.message} To load it anyway, pass verify='warn' "
            "(featurekit serve --verify warn)."
        )
    warnings.warn(verification.message, ParityWarning, stacklevel=3)


def _compare(
    golden: GoldenRows, got: dict[str, np.ndarray], kind: str, cert: dict[str, Any]
) -> tuple[np.ndarray, Callable[[int], list[str]]]:
    """Per row, whether it differs; and a function describing row i's differences."""
    tol = float(cert["tolerance"])
    n = len(golden)
    label_ok = np.ones(n, dtype=bool)
    if "label" in golden.expected:
        want_label = np.asarray(golden.expected["label"], dtype=object)
        got_label = np.asarray(got["label"]).astype(object)
        label_ok = np.asarray(want_label == got_label, dtype=bool)
    scored = [o for o in golden.expected if o != "label"]  # at most one
    diff, what = np.zeros(n), ""
    if scored:
        want = np.asarray(golden.expected[scored[0]], dtype=np.float64).reshape(n, -1)
        have = np.asarray(got[scored[0]], dtype=np.float64).reshape(n, -1)
        with np.errstate(invalid="ignore"):
            delta = np.abs(want - have)
        if scored[0] == "probabilities":
            what = "|Δp|"
        else:  # a prediction or a decision function: relative, as certified
            delta = delta / np.maximum(
                float(cert.get("scale", 1.0)), np.abs(np.where(np.isnan(want), 0, want))
            )
            what = f"|Δ| / max(scale, |{scored[0].replace('_', ' ')}|)"
        # equal values (infinities included) and NaN on both sides agree
        agree = (want == have) | (np.isnan(want) & np.isnan(have))
        delta = np.where(agree, 0.0, np.where(np.isnan(delta), np.inf, delta))
        diff = delta.max(axis=1)
    bad = ~label_ok | (diff > tol)
    feat_bad: np.ndarray = np.zeros(n, dtype=bool)
    same = None
    if golden.features is not None and golden.features_output is not None:
        mine = np.asarray(got[golden.features_output], dtype=np.float64)
        theirs = golden.features
        if mine.shape != theirs.shape:
            same = np.zeros(theirs.shape, dtype=bool)
        else:
            same = (mine.view(np.uint64) == theirs.view(np.uint64)) | (
                np.isnan(mine) & np.isnan(theirs)
            )
        feat_bad = ~np.all(same, axis=1)

    def why(i: int) -> list[str]:
        out = []
        if not label_ok[i]:
            out.append(
                f"label {_plain(got['label'][i])!r}, certified "
                f"{golden.expected['label'][i]!r}"
            )
        if diff[i] > tol:
            out.append(f"{what} {diff[i]:.3g} > tolerance {tol:g}")
        if feat_bad[i] and same is not None:
            j = int(np.argmin(same[i]))
            if mine.shape != theirs.shape:
                out.append(f"features of shape {mine.shape}, certified {theirs.shape}")
            else:
                name = golden.feature_names[j] if j < len(golden.feature_names) else j
                a, b = float(mine[i, j]), float(theirs[i, j])
                out.append(
                    f"feature {name!r} is {a!r} ({a.hex()}), certified {b!r} "
                    f"({b.hex()}) bit for bit"
                )
        return out

    return bad | feat_bad, why


def _failed(
    artifact: str,
    n: int,
    failing: int,
    first: dict[str, Any],
    golden: GoldenRows,
    start: float,
) -> Verification:
    where = (
        f"golden row {first['index']} ({first['name']}) {_short(first['inputs'])}"
        if first["index"] is not None
        else "the golden rows"
    )
    certified = f" (certified on {golden.certified_on})" if golden.certified_on else ""
    message = (
        f"Artifact {artifact} fails its golden rows on this machine: {failing} of {n} "
        f"certified rows answer otherwise than at export{certified}. First: {where}: "
        f"{'; '.join(first['differences'])}. This machine: {machine()}. Serve it "
        "where its golden rows pass (featurekit check ARTIFACT DATA tells), with the "
        "onnxruntime version it was certified with, or re-export it and compare."
    )
    return Verification(
        "failed", n, failing, message, time.perf_counter() - start, first
    )


def _short(record: Any) -> str:
    if not isinstance(record, dict):
        return repr(record)
    parts = []
    for k, v in record.items():
        text = repr(v)
        parts.append(f"{k!r}: {text if len(text) <= 40 else text[:37] + '...'}")
    return "{" + ", ".join(parts) + "}"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# -- this machine ---------------------------------------------------------------------
def _ort_version() -> str:
    import onnxruntime as ort

    return str(ort.__version__)


def machine(*, simd: bool = True) -> str:
    """Describe the runtime here: onnxruntime version, CPU and numpy's SIMD features.

    Parameters
    ----------
    simd : bool
        Also list the SIMD features numpy detected (long, but what tells two CPUs of
        one architecture apart).

    Examples
    --------
    >>> machine().startswith("onnxruntime ")
    True
    """
    import platform

    arch = platform.machine() or "unknown architecture"
    model = _cpu_model() or platform.processor()
    cpu = f"{arch} ({model})" if model and model != arch else arch
    described = f"onnxruntime {_ort_version()}, CPU {cpu}"
    return f"{described}, numpy SIMD {_simd()}" if simd else described


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return ""


def _simd() -> str:
    import importlib

    features: dict[str, bool] = {}
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:  # numpy 2, then numpy 1
            features = importlib.import_module(module).__cpu_features__
            break
        except (ImportError, AttributeError):
            continue
    else:
        return "unknown"
    found = [name for name, on in features.items() if on]
    return " ".join(found) or "none"
