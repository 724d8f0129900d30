"""Late labels: checked against the model, then appended under ``DIR/labels/``.

One rule for every way in (``POST /labels``, ``featurekit labels``,
`PredictionLog.add_labels`): ids are non-empty text (numbers are taken as their
text), one label per id, and a label is one of the model's classes (compared as
text, as the log stores them) or, for a regressor, a finite number. The latest label
per id wins when the log is read.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from featurekit.missing import is_missing
from featurekit.outcomes.files import publish
from featurekit.outcomes.log import LABELS

__all__ = ["LabelBatch", "check_id", "check_labels", "write_labels"]

LabelBatch = tuple[list[str], list[str], list[int | None] | None]
_MAX_ID = 256  # characters of an id; longer ones are refused


def _bad(message: str, at: int | None = None) -> ValueError:
    return ValueError(message if at is None else f"{message} (at position {at})")


def check_id(value: Any, at: int) -> str:
    """One id as text: a non-empty string or an integer, at most 256 characters."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _bad(f"An id must be text or an integer, got {value!r}", at)
    text = str(value)
    if not text or len(text) > _MAX_ID:
        raise _bad(f"An id must have 1 to {_MAX_ID} characters, got {len(text)}", at)
    return text


def _timestamp(value: Any, at: int) -> int | None:
    """Microseconds since the epoch, UTC, from ISO 8601 text or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise _bad(f"A timestamp must be finite, got {value!r}", at)
        return int(value * 1_000_000)
    if isinstance(value, str):
        try:
            t = _dt.datetime.fromisoformat(value)
        except ValueError:
            raise _bad(
                f"A timestamp must be ISO 8601 text, got {value[:40]!r}", at
            ) from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.UTC)
        return int(t.timestamp() * 1_000_000)
    raise _bad(f"A timestamp must be ISO 8601 text or epoch seconds, got {value!r}", at)


def check_labels(
    ids: Any,
    labels: Any,
    *,
    kind: str,
    classes: Sequence[Any] | None,
    timestamps: Any = None,
) -> LabelBatch:
    """Check one batch of labels; returns ids, labels as text, and timestamps (µs).

    Raises
    ------
    ValueError
        Naming the first bad entry and its position.

    Examples
    --------
    >>> check_labels(["a", 7], [1, "0"], kind="classifier", classes=[0, 1])
    (['a', '7'], ['1', '0'], None)
    >>> check_labels(["a"], ["maybe"], kind="classifier", classes=[0, 1])
    Traceback (most recent call last):
    ...
    ValueError: Label 'maybe' is none of the model's classes [0, 1] (at position 0)
    """
    for name, value in (("ids", ids), ("labels", labels)):
        if isinstance(value, str | bytes | dict) or not isinstance(
            value, Sequence | np.ndarray
        ):
            raise ValueError(f"{name} must be a list, got {type(value).__name__}.")
    if len(ids) != len(labels):
        raise ValueError(
            f"ids has {len(ids)} entries and labels {len(labels)}; give one label per id."
        )
    if timestamps is not None:
        if isinstance(timestamps, str | bytes | dict) or len(timestamps) != len(ids):
            raise ValueError("timestamps must be a list with one entry per id.")
    out_ids = [check_id(v, i) for i, v in enumerate(ids)]
    texts: list[str] = []
    known = {str(c) for c in classes or []}
    for i, v in enumerate(labels):
        if is_missing(v) or isinstance(v, dict | list):
            raise _bad(f"Label {v!r} is not a label; send one value per id", i)
        if kind == "classifier":
            text = str(v)
            if text not in known:
                raise _bad(
                    f"Label {v!r} is none of the model's classes {list(classes or [])}",
                    i,
                )
            texts.append(text)
        else:
            if isinstance(v, bool) or not isinstance(v, int | float | np.number):
                raise _bad(f"Label {v!r} must be a number for a regressor", i)
            if not math.isfinite(float(v)):
                raise _bad(f"Label {v!r} must be finite", i)
            texts.append(repr(float(v)))
    stamps = (
        None
        if timestamps is None
        else [_timestamp(t, i) for i, t in enumerate(timestamps)]
    )
    return out_ids, texts, stamps


def write_labels(root: str | os.PathLike[str], batch: LabelBatch) -> Path:
    """Append a checked batch as one Parquet file under ``labels/date=<today>/``."""
    from featurekit.outcomes.schema import labels_table

    ids, texts, stamps = batch
    now = time.time_ns()
    day = _dt.datetime.fromtimestamp(now / 1e9, _dt.UTC).strftime("%Y-%m-%d")
    folder = Path(root) / LABELS / f"date={day}"
    # the receipt time leads the name: files sorted by name are in time order, so the
    # latest label per id is found without sorting every label (`PredictionLog`)
    name = f"part-{now:020d}-{os.getpid()}-{secrets.token_hex(6)}.parquet"
    return publish(folder, name, labels_table(ids, texts, stamps, now))
