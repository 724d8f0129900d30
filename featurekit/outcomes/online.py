"""Online performance in the server: served answers kept by id, joined to labels as they come.

`Online` keeps the answers of the most recent served rows (at most `served_cap`, the
oldest forgotten first) so that a label posted later finds what the model said, and
the last `window` labelled rows, from which the online figures and their intervals
are computed (`featurekit.outcomes.metrics`). Memory is bounded by both caps, whatever
clients send.

Examples
--------
>>> import numpy as np
>>> o = Online("classifier", [0, 1], window=100)
>>> o.served(["a", "b"], {"label": np.array([0, 1]),
...                       "probabilities": np.array([[.8, .2], [.3, .7]])})
>>> o.label(["a", "b", "zz"], ["0", "0", "1"])
['zz']
>>> o.figures()["accuracy"]["value"], o.labelled
(0.5, 2)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from featurekit.outcomes import metrics as M

__all__ = ["Online"]


class Online:
    """Online figures over the last `window` labelled rows (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        classes: Sequence[Any] | None,
        *,
        holdout: Mapping[str, Any] | None = None,
        window: int = 1000,
        served_cap: int = 100_000,
    ) -> None:
        if window < 2 or served_cap < 1:
            raise ValueError("window must be >= 2 and served_cap >= 1.")
        self.kind = kind
        self.classes = list(classes or [])
        self._index = {str(c): i for i, c in enumerate(self.classes)}
        self.holdout = dict(holdout or {})
        self.window = window
        self.served_cap = served_cap
        self._served: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._y: list[Any] = []
        self._hat: list[Any] = []
        self._proba: list[Any] = []
        self.served_rows = 0
        self.labelled = 0  # labels matched to a served row, ever
        self.unknown = 0  # labels whose id was not found

    def served(self, ids: Sequence[str], outputs: Mapping[str, np.ndarray]) -> None:
        """Remember what the model answered for `ids`."""
        # Python values, not numpy rows: a view per row costs more to make and keeps
        # the whole output array alive for as long as its row is remembered
        if self.kind == "classifier":
            index = self._index
            hats = [
                index.get(str(v), -1) for v in np.asarray(outputs["label"]).tolist()
            ]
            proba = outputs.get("probabilities")
            # tuples of numbers: the collector stops tracking them (lists it walks
            # at every collection, 100,000 of them)
            rows = (
                list(map(tuple, np.asarray(proba).tolist()))
                if proba is not None
                else [None] * len(hats)
            )
        else:
            hats = np.asarray(outputs["prediction"], np.float64).tolist()
            rows = [None] * len(hats)
        with self._lock:
            seen = self._served
            for i, h, r in zip(ids, hats, rows, strict=True):
                if i in seen:
                    del seen[i]  # a re-scored id moves to the newest end
                seen[i] = (h, r)
            self.served_rows += len(hats)
            for _ in range(len(seen) - self.served_cap):
                seen.popitem(last=False)  # the oldest (a dict's first key rescans)

    def label(self, ids: Sequence[str], labels: Sequence[str]) -> list[str]:
        """Join labels (as text) to remembered rows; returns the ids not remembered."""
        missing = []
        with self._lock:
            for i, text in zip(ids, labels, strict=True):
                got = self._served.get(i)
                if got is None:
                    missing.append(i)
                    continue
                self._add(got[0], got[1], text)
        return missing

    def found(
        self, ids: Sequence[str], labels: Sequence[str], answers: Mapping[str, Any]
    ) -> None:
        """Labels whose rows were found in the log on disk: ``answers[id] = (hat, proba)``."""
        with self._lock:
            for i, text in zip(ids, labels, strict=True):
                if i in answers:
                    hat, proba = answers[i]
                    self._add(hat, proba, text)

    def count_unknown(self, n: int) -> None:
        with self._lock:
            self.unknown += n

    def _add(self, hat: Any, proba: Any, text: str) -> None:
        if self.kind == "classifier":
            y: Any = self._index.get(text, -1)
            if y < 0:
                return
        else:
            y = float(text)
        self._y.append(y)
        self._hat.append(hat)
        self._proba.append(proba)
        self.labelled += 1
        if len(self._y) > self.window:
            del self._y[0], self._hat[0], self._proba[0]

    def figures(self) -> dict[str, dict[str, Any]]:
        """The online figures over the last `window` labelled rows, with intervals."""
        with self._lock:
            y, hat, proba = list(self._y), list(self._hat), list(self._proba)
        return self._figures(y, hat, proba) if y else {}

    def _figures(
        self, y: list[Any], hat: list[Any], proba: list[Any]
    ) -> dict[str, dict[str, Any]]:
        if self.kind == "classifier":
            p = (
                np.asarray(proba, np.float64)
                if all(r is not None for r in proba)
                else None
            )
            return M.from_indices(np.asarray(y, np.int64), np.asarray(hat, np.int64), p)
        return M.regression(np.asarray(y), np.asarray(hat))

    def blocks(self, size: int = 50, most: int = 10) -> list[dict[str, Any]]:
        """The figures over consecutive blocks of the last labelled rows, oldest first.

        The last `window` labelled rows are cut into at most `most` blocks of about
        `size` rows (fewer rows: one block). Each block is flat, ``{"rows": n,
        "accuracy": v, "accuracy_low": lo, "accuracy_high": hi, ...}``: a line over
        time with its 95 % band (`featurekit.outcomes.evaluation_html.metric_chart`).

        Examples
        --------
        >>> o = Online("classifier", [0, 1], window=100)
        >>> o.served([str(i) for i in range(120)], {"label": np.zeros(120, int)})
        >>> _ = o.label([str(i) for i in range(120)], ["0"] * 60 + ["1"] * 60)
        >>> [(b["rows"], b["accuracy"]) for b in o.blocks(size=50)]
        [(50, 0.8), (50, 0.0)]
        """
        with self._lock:
            y, hat, proba = list(self._y), list(self._hat), list(self._proba)
        if not y:
            return []
        out = []
        parts = max(1, min(most, len(y) // size))
        for part in np.array_split(np.arange(len(y)), parts):
            lo, hi = int(part[0]), int(part[-1]) + 1
            block: dict[str, Any] = {"rows": hi - lo}
            for name, f in self._figures(y[lo:hi], hat[lo:hi], proba[lo:hi]).items():
                block[name] = f["value"]
                block[f"{name}_low"], block[f"{name}_high"] = f["low"], f["high"]
            out.append(block)
        return out

    def coverage(self) -> float:
        """Labelled rows over served rows, since the server started."""
        return self.labelled / self.served_rows if self.served_rows else 0.0

    def status(self) -> dict[str, Any]:
        """What ``/monitor`` shows under ``online``."""
        return {
            "window": self.window,
            "served_rows": self.served_rows,
            "labelled_rows": self.labelled,
            "unknown_labels": self.unknown,
            "label_coverage": self.coverage(),
            "metrics": self.figures(),
            "holdout": {
                k: v["value"] for k, v in (self.holdout.get("metrics") or {}).items()
            },
        }
