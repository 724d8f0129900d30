"""`PredictionLog`: the prediction log read back, with its labels.

The log is plain Parquet (pandas, pyarrow, DuckDB and Spark read it as it is); this
class adds what featurekit needs on top: one model's rows, the latest label per id, a
training frame of what was served, and files that are corrupt or half-written
skipped and reported instead of failing the read.

Examples
--------
>>> import tempfile
>>> log = PredictionLog(tempfile.mkdtemp())
>>> log.frame().shape
(0, 0)
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from featurekit.outcomes.labels import check_labels, write_labels
from featurekit.outcomes.log import LABELS, MODELS, PREDICTIONS
from featurekit.outcomes.schema import META

__all__ = ["PredictionLog", "SelectiveLabelsWarning"]

TimeArg = str | _dt.datetime | None  # pandas Timestamps are datetimes


def _utc(value: TimeArg) -> pd.Timestamp | None:
    if value is None:
        return None
    t = pd.Timestamp(value)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


class PredictionLog:
    """A prediction log directory (`serving.Predictor.load(path, log=DIR)`, ``--log``).

    Attributes
    ----------
    skipped : list of (str, str)
        Files left out by the last read: their path and why (corrupt, truncated).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = Path(directory)
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"{str(self.root)!r} is not a log directory.")
        self.skipped: list[tuple[str, str]] = []
        #: Called with the number of files read so far, during a read (optional).
        self.progress: Any = None

    def __repr__(self) -> str:
        return f"PredictionLog({str(self.root)!r})"

    # -- what is there -------------------------------------------------------------------
    def models(self) -> dict[str, dict[str, Any]]:
        """The models that wrote to this log, by sha256 of model.onnx."""
        out = {}
        for f in sorted((self.root / MODELS).glob("*.json")):
            try:
                info = json.loads(f.read_text())
            except (OSError, ValueError):
                self.skipped.append((str(f), "unreadable model description"))
                continue
            out[f.stem] = info
        return out

    def files(
        self, *, model: str | None = None, since: TimeArg = None, until: TimeArg = None
    ) -> list[Path]:
        """The prediction files, of one model (sha256) and hours when given."""
        lo, hi = _utc(since), _utc(until)
        prefix = f"part-{model[:16]}-" if model else "part-"
        out = []
        for hour_dir in sorted((self.root / PREDICTIONS).glob("date=*/hour=*")):
            try:
                start = pd.Timestamp(
                    f"{hour_dir.parent.name[5:]} {hour_dir.name[5:]}:00", tz="UTC"
                )
            except ValueError:
                continue
            if (lo is not None and start + pd.Timedelta(hours=1) <= lo) or (
                hi is not None and start > hi
            ):
                continue
            out.extend(sorted(hour_dir.glob(f"{prefix}*.parquet")))
        return out

    def _read(
        self, files: Sequence[Path], columns: list[str] | None, made_ids: bool = False
    ) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = []
        for done, f in enumerate(files, 1):
            if self.progress is not None:
                self.progress(done)
            try:
                handle = pq.ParquetFile(f)
                if columns is None:
                    table = handle.read()
                else:  # a column some files lack (exploration's) comes back null
                    have = set(handle.schema_arrow.names)
                    table = handle.read(columns=[c for c in columns if c in have])
                if made_ids:
                    made = _made_ids(handle.schema_arrow.metadata)
                    table = table.append_column(
                        "_made_ids", pa.repeat(pa.scalar(made), table.num_rows)
                    )
            except (OSError, pa.ArrowException, ValueError) as exc:
                self.skipped.append((str(f), f"{type(exc).__name__}: {str(exc)[:200]}"))
                continue
            tables.append(table.replace_schema_metadata(None))
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="permissive")

    def predictions(
        self,
        *,
        model: str | None = None,
        columns: list[str] | None = None,
        since: TimeArg = None,
        until: TimeArg = None,
        made_ids: bool = False,
    ) -> Any:
        """The logged rows as a `pyarrow.Table` (None when there are none).

        Parameters
        ----------
        model : str, optional
            The sha256 of one model's model.onnx (`Predictor.sha256`).
        columns : list of str, optional
            Read only these columns (much faster on a big log).
        made_ids : bool
            Add ``_made_ids``: whether the row's file says every id in it was made
            by the writer (so none can repeat; `fk.evaluate` skips looking).
        since, until : str or datetime, optional
            Scored at or after `since` and before `until` (UTC when naive).
        """
        import pyarrow.compute as pc

        self.skipped = []
        files = self.files(model=model, since=since, until=until)
        table = self._read(files, columns, made_ids)
        if table is None:
            return None
        if model is not None and "model_sha256" in table.column_names:
            table = table.filter(pc.equal(table["model_sha256"], model))
        if (since or until) and "timestamp" in table.column_names:
            mask = None
            if since is not None:
                mask = pc.greater_equal(table["timestamp"], _utc(since))
            if until is not None:
                before = pc.less(table["timestamp"], _utc(until))
                mask = before if mask is None else pc.and_(mask, before)
            table = table.filter(mask)
        return table

    def label_table(self, *, latest: bool = True) -> Any:
        """The latest label per row id, as a `pyarrow.Table` (None when there are none).

        With ``latest=False``: every label, in the order they were received (an id's
        latest label is its last), which `featurekit.outcomes.joining.attach` takes
        without the cost of dropping the older ones first.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        from featurekit.outcomes.joining import last_per_id

        files = sorted((self.root / LABELS).glob("date=*/*.parquet"))
        table = self._read(files, None)  # adds to `skipped`
        if table is None or table.num_rows == 0:
            return None
        # the latest received wins; among equal times, the later file and row. Files
        # are named by receipt time, so the table is usually in order already
        received = pc.cast(table["received_at"], pa.int64()).to_numpy(
            zero_copy_only=False
        )
        if received.size > 1 and (np.diff(received) < 0).any():
            table = table.take(np.argsort(received, kind="stable"))
        return last_per_id(table) if latest else table

    def labels(self) -> pd.DataFrame:
        """The latest label per row id: ``row_id``, ``label``, ``label_timestamp``, ``received_at``."""
        table = self.label_table()
        if table is None:
            return pd.DataFrame(
                {"row_id": [], "label": [], "label_timestamp": [], "received_at": []}
            )
        return table.to_pandas()

    def answers(self, ids: Sequence[str], *, model: str) -> dict[str, tuple[Any, Any]]:
        """What `model` answered for `ids`: ``{id: (class index or prediction, probabilities)}``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        info = self.models().get(model)
        if info is None or not ids:
            return {}
        outs = [
            o for o in ("label", "probabilities", "prediction") if o in info["outputs"]
        ]
        table = self.predictions(model=model, columns=["row_id", *outs])
        if table is None:
            return {}
        table = table.filter(pc.is_in(table["row_id"], value_set=pa.array(list(ids))))
        index = {str(c): i for i, c in enumerate(info.get("classes") or [])}
        rows = table.to_pylist()
        out: dict[str, tuple[Any, Any]] = {}
        for r in rows:
            if "label" in r:
                out[r["row_id"]] = (index.get(r["label"], -1), r.get("probabilities"))
            else:
                out[r["row_id"]] = (r["prediction"], None)
        return out

    # -- writing labels ------------------------------------------------------------------
    def add_labels(
        self, ids: Sequence[Any], labels: Sequence[Any], *, timestamps: Any = None
    ) -> dict[str, Any]:
        """Store labels for served rows; the latest label per id wins.

        Labels are checked against the classes of the model that served the log
        (or as numbers, for a regressor). A label for an id that is not in the log is
        stored too (its row may still be in a server's buffer) and listed.

        Returns
        -------
        dict
            ``accepted`` (int) and ``unknown_ids`` (ids not in the log).

        Examples
        --------
        >>> import tempfile
        >>> PredictionLog(tempfile.mkdtemp()).add_labels(["a"], [1])
        Traceback (most recent call last):
        ...
        ValueError: No model has written to this log yet: labels are checked against the classes of the model that served the rows.
        """
        models = self.models()
        if not models:
            raise ValueError(
                "No model has written to this log yet: labels are checked against the "
                "classes of the model that served the rows."
            )
        kinds = {m["kind"] for m in models.values()}
        if len(kinds) > 1:
            raise ValueError(
                f"This log holds classifiers and regressors ({sorted(kinds)})."
            )
        classes = sorted(
            {str(c) for m in models.values() for c in m.get("classes") or []}
        )
        batch = check_labels(
            ids, labels, kind=kinds.pop(), classes=classes, timestamps=timestamps
        )
        write_labels(self.root, batch)
        import pyarrow as pa
        import pyarrow.compute as pc

        served = self.predictions(columns=["row_id"])
        sent = pa.array(batch[0], pa.string())
        if served is None:
            unknown = batch[0]
        else:
            known = pc.is_in(sent, value_set=served["row_id"].combine_chunks())
            unknown = sent.filter(pc.invert(known)).to_pylist()
        return {"accepted": len(batch[0]), "unknown_ids": unknown}

    def inputs(self, table: Any) -> pd.DataFrame:
        """The ``inputs`` of logged rows as records the model reads again.

        Date-times come back as the declaration takes them: naive UTC for
        ``Datetime(name)``, timezone-aware for ``Datetime(name, timezone="UTC")``.
        """
        struct = table["inputs"].combine_chunks()
        aware = {
            name for m in self.models().values() for name in m.get("utc_datetimes", [])
        }
        columns = {}
        for k in range(struct.type.num_fields):
            name = struct.type.field(k).name
            col = struct.field(k).to_pandas()
            if isinstance(col.dtype, pd.DatetimeTZDtype) and name not in aware:
                col = col.dt.tz_convert("UTC").dt.tz_localize(None)
            columns[name] = col
        return pd.DataFrame(columns)

    def _typed(self, texts: pd.Series) -> pd.Series:
        """Labels back in the classes' own type (they are stored as text)."""
        models = list(self.models().values())
        if any(m["kind"] == "regressor" for m in models):
            return texts.astype(np.float64)
        by_text = {str(c): c for m in models for c in m.get("classes") or []}
        return texts.map(by_text).astype(object)

    def coverage(self, *, model: str | None = None) -> pd.DataFrame:
        """Label coverage by the decision served: ``served``, ``labelled``, ``coverage``.

        When outcomes are known only for some decisions (repayment only for approved
        loans), the labelled rows are the model's own choices: a model retrained on
        them learns nothing about the others. See `frame`'s warning.
        """
        table = self.predictions(model=model, columns=["row_id", "label"])
        if table is None or "label" not in table.column_names:
            return pd.DataFrame(columns=["decision", "served", "labelled", "coverage"])
        import pyarrow as pa

        from featurekit.outcomes.joining import attach, last_per_id

        table = last_per_id(table)
        got, _ = attach(table, self.label_table(), ["label"])
        counts = (
            pa.table({"decision": table["label"], "labelled": got["label"].is_valid()})
            .group_by("decision")
            .aggregate([("labelled", "count"), ("labelled", "sum")])
            .to_pandas()
        )
        out = pd.DataFrame(
            {
                "decision": counts["decision"],
                "served": counts["labelled_count"].astype(int),
                "labelled": counts["labelled_sum"].astype(int),
            }
        ).sort_values("decision", ignore_index=True)
        out["coverage"] = out["labelled"] / out["served"]
        return out

    # -- training on what was served -----------------------------------------------------
    def frame(
        self,
        *,
        labelled: bool = True,
        since: TimeArg = None,
        until: TimeArg = None,
        model: str | None = None,
    ) -> pd.DataFrame:
        """The served raw inputs, one column each, with ``row_id``, ``timestamp`` and ``label``.

        Exactly what the model saw (columns declared ``pii=True`` are not in the
        log), ready for ``pipe.fit(frame[inputs], frame["label"])``. With
        ``labelled=True`` (default) only rows that have a label.
        """
        table = self.predictions(model=model, since=since, until=until)
        if table is None:
            return pd.DataFrame()
        from featurekit.outcomes.joining import attach

        got, _ = attach(table, self.label_table(), ["label"])
        if labelled:
            _warn_if_selective(self.coverage(model=model))
            keep = got["label"].is_valid()
            table, got["label"] = table.filter(keep), got["label"].filter(keep)
        frame = self.inputs(table)
        frame.insert(0, "row_id", table["row_id"].to_numpy(zero_copy_only=False))
        frame.insert(1, "timestamp", table["timestamp"].to_pandas())
        frame["label"] = self._typed(pd.Series(got["label"].to_pylist(), dtype=object))
        joined = frame
        for name in frame.columns[2:]:
            col = joined[name]
            if col.dtype == object:
                joined[name] = col.where(col.notna(), np.nan)
        return joined


class SelectiveLabelsWarning(UserWarning):
    """The labelled rows are dominated by some of the model's own decisions."""


#: A decision with at least this many served rows is compared with the others.
MIN_SERVED = 20


def _warn_if_selective(coverage: pd.DataFrame) -> None:
    """Warn when one decision's rows are labelled far less often than another's."""
    import warnings

    judged = coverage[coverage["served"] >= MIN_SERVED]
    if len(judged) < 2:
        return
    best = float(judged["coverage"].max())
    low = judged[judged["coverage"] < 0.2 * best]
    if best > 0 and not low.empty:
        shares = ", ".join(
            f"{d!r} {c:.0%} of {n}"
            for d, c, n in zip(
                judged["decision"], judged["coverage"], judged["served"], strict=True
            )
        )
        warnings.warn(
            f"Selective labels: the rows labelled are mostly the model's own decisions "
            f"(label coverage by decision served: {shares}). A model retrained on them "
            "learns little about the others; serve with --explore to label some of "
            "every kind, and weight by propensity.",
            SelectiveLabelsWarning,
            stacklevel=3,
        )


def _made_ids(metadata: Any) -> bool:
    """Whether a prediction file says every row id in it was made by the writer."""
    import json

    raw = (metadata or {}).get(META)
    try:
        return bool(json.loads(raw).get("made_ids", False)) if raw else False
    except ValueError:
        return False
