"""Opening the prediction log for a `Predictor`: ``Predictor.load(path, log=DIR)``.

The writer is `featurekit.outcomes.log.LogWriter`; this module describes the model to
it (name, version, sha256, classes, outputs), the raw inputs and their kinds, the
columns declared ``pii=True``, and the contract's notes (unseen categories, values
outside the observed range).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from featurekit.contract.schema import Contract
from featurekit.outcomes.log import LogWriter, parse_duration

__all__ = ["SALT_ENV", "open_log"]

#: The environment variable holding the secret salt of hashed personal data.
SALT_ENV = "FEATUREKIT_LOG_SALT"
_OPTIONS = {
    "served_by",
    "pii",
    "salt",
    "retention",
    "flush_seconds",
    "flush_rows",
    "max_buffered_rows",
}


def open_log(
    directory: str | os.PathLike[str],
    contract: Contract,
    manifest: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
) -> LogWriter:
    """A `LogWriter` for the model of `manifest` and `contract`.

    Options: ``served_by`` ("champion"), ``pii`` ("drop", default, or "hash" for the
    columns declared ``pii=True``), ``salt`` (default: ``$FEATUREKIT_LOG_SALT``),
    ``retention`` (e.g. "30d"), ``flush_seconds`` (1), ``flush_rows`` (10,000),
    ``max_buffered_rows`` (100,000).
    """
    from featurekit.outcomes.schema import contract_notes

    opts = dict(options or {})
    unknown = sorted(set(opts) - _OPTIONS)
    if unknown:
        raise ValueError(f"Unknown log options {unknown}; use {sorted(_OPTIONS)}.")
    how = opts.pop("pii", "drop")
    if how not in ("drop", "hash"):
        raise ValueError(f"The log's pii option is 'drop' or 'hash', got {how!r}.")
    features = contract.features
    retention = opts.pop("retention", None)
    return LogWriter(
        directory,
        model={
            "name": features.name,
            "version": features.version,
            "sha256": manifest["files"]["model.onnx"],
            "kind": manifest["kind"],
            "classes": manifest.get("classes"),
            "outputs": list(manifest["outputs"]),
            "label_rule": manifest.get("label_rule"),
            # Datetime(timezone="UTC") inputs: read back as aware date-times
            "utc_datetimes": [
                f.name for f in features.inputs if getattr(f, "timezone", None) == "UTC"
            ],
        },
        inputs={f.name: f.kind for f in features.inputs},
        pii={f.name: how for f in features.inputs if getattr(f, "pii", False)},
        salt=opts.pop("salt", None) or os.environ.get(SALT_ENV),
        retention=None if retention is None else parse_duration(retention),
        notes=contract_notes(contract.categories, contract.observed),
        **opts,
    )
