"""The ``golden.json`` layout: certified rows, their raw inputs and their answers.

Plain JSON, never pickle: records hold JSON scalars (a non-finite float is tagged as
``{"float": "inf"}``), answers are lists, and a tree model's features travel as the
base64 of their little-endian float64 bytes, so every bit survives.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["GOLDEN", "GOLDEN_FORMAT", "GoldenRows"]

GOLDEN = "golden.json"
#: Version of the ``golden.json`` layout.
GOLDEN_FORMAT = 1


@dataclass(frozen=True)
class GoldenRows:
    """Certified rows and their answers, as stored in ``golden.json``.

    Attributes
    ----------
    records : list of dict
        Raw inputs, one record per row, as a client would send them.
    names : list of str
        Where each row comes from, e.g. ``"reference row 12"``, ``"age = 120"`` or
        ``"split value income=31950.5"``.
    expected : dict of str to list
        scikit-learn's answers: ``label`` and ``probabilities``, or ``prediction``.
    features : ndarray or None
        Tree models: the float64 features the trees compare, ``(rows, width)``.
    features_output : str or None
        The graph tensor holding those features (not one of the artifact's outputs).
    feature_names : list of str
        The features' column names, for messages.
    certified_on : str
        The runtime and CPU the features were computed on at export (see `machine`).
    """

    records: list[dict[str, Any]]
    names: list[str]
    expected: dict[str, list[Any]]
    features: np.ndarray | None = None
    features_output: str | None = None
    feature_names: list[str] = field(default_factory=list)
    certified_on: str = ""

    def __len__(self) -> int:
        return len(self.records)

    def to_json(self) -> str:
        """Serialise to JSON text: plain values, non-finite floats tagged, no pickle."""
        features = None
        if self.features is not None:
            bits = np.ascontiguousarray(self.features, dtype="<f8")
            features = {
                "output": self.features_output,
                "names": list(self.feature_names),
                "shape": list(bits.shape),
                "float64_le": base64.b64encode(bits.tobytes()).decode("ascii"),
            }
        return json.dumps(
            {
                "golden_format": GOLDEN_FORMAT,
                "certified_on": self.certified_on,
                "names": list(self.names),
                "records": _encode(self.records),
                "expected": _encode(self.expected),
                "features": features,
            },
            allow_nan=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> GoldenRows:
        """Parse `to_json` output.

        Raises
        ------
        ValueError
            The text is not golden rows of a known format (`featurekit.artifact`
            turns this into an `ArtifactError` naming the artifact).
        """
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("golden_format") != GOLDEN_FORMAT:
            found = doc.get("golden_format") if isinstance(doc, dict) else None
            raise ValueError(
                f"golden_format is {found!r}; this featurekit reads {GOLDEN_FORMAT}"
            )
        records, names = _decode(doc["records"]), doc["names"]
        expected = _decode(doc["expected"])
        if not (
            isinstance(records, list) and all(isinstance(r, dict) for r in records)
        ):
            raise ValueError("records must be a list of objects")
        if not isinstance(names, list) or len(names) != len(records):
            raise ValueError("names must list one name per record")
        if not isinstance(expected, dict) or any(
            not isinstance(v, list) or len(v) != len(records) for v in expected.values()
        ):
            raise ValueError("expected must hold one answer per record and output")
        feats, output, feature_names = None, None, []
        if doc["features"] is not None:
            f = doc["features"]
            shape = tuple(int(s) for s in f["shape"])
            raw = base64.b64decode(f["float64_le"], validate=True)
            feats = np.frombuffer(raw, dtype="<f8").reshape(shape).astype(np.float64)
            if shape[0] != len(records):
                raise ValueError("features must have one row per record")
            output, feature_names = str(f["output"]), [str(n) for n in f["names"]]
        return cls(
            records,
            [str(n) for n in names],
            expected,
            feats,
            output,
            feature_names,
            str(doc.get("certified_on", "")),
        )


def _encode(value: Any) -> Any:
    """Plain JSON values; a non-finite float becomes ``{"float": "nan"|"inf"|"-inf"}``."""
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return {"float": repr(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {"float"}:
            tag = value["float"]
            if tag not in ("nan", "inf", "-inf"):
                raise ValueError(f"unknown tagged float {tag!r}")
            return float(tag)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
