"""`Comparison`: the verdict of a champion/challenger comparison, its reasons and numbers.

The verdict is decided here, from the parts `featurekit.comparing.gate` measured,
in this order: contract compatibility (a challenger that refuses rows the champion
serves is kept), sample size (too few rows is inconclusive), the overall paired test,
then the slices.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from featurekit.comparing.metrics import Metric

__all__ = ["TABLE_COLUMNS", "Comparison"]

#: The columns of `Comparison.table`: the whole comparison first, then each slice.
TABLE_COLUMNS = [
    "scope",
    "rows",
    "champion",
    "challenger",
    "improvement",
    "ci_low",
    "ci_high",
    "test",
    "statistic",
    "p_value",
    "p_better",
    "p_worse",
    "p_adjusted",
    "detectable",
    "status",
]


class Comparison:
    """A champion/challenger comparison on the same rows.

    Attributes
    ----------
    verdict : {"promote", "keep", "inconclusive"}
    reasons : list of str
        Why, one sentence each, the deciding one first.
    metric : str
    overall : dict
        The paired test on every row both models accept that has a label:
        ``champion``, ``challenger``, ``improvement`` (positive: the challenger is
        better), ``ci_low``/``ci_high``, ``test``, ``p_value`` (two-sided, no
        difference), ``p_better`` (the one-sided test the verdict reads),
        ``detectable`` (the smallest improvement found with 80 % power here).
    slices : list of dict
        The same per value of each slice column; tested ones carry ``p_adjusted``
        (Holm) and ``regressed``.
    rows : dict
        ``total``, ``labelled``, ``unlabelled``, ``refused_by_champion``,
        ``refused_by_challenger`` and ``compared``.
    compatibility : dict
        ``refused_by_challenger_only`` (rows the champion accepts and the challenger
        refuses), its ``share``, ``failures`` by column and check, and
        ``refused_by_champion_only``.
    drift : list of dict
        Per feature, the challenger's reference profile against the champion's.
    """

    def __init__(
        self,
        *,
        metric: Metric,
        settings: dict[str, Any],
        models: dict[str, dict[str, Any]],
        rows: dict[str, int],
        overall: dict[str, Any],
        slices: list[dict[str, Any]],
        compatibility: dict[str, Any],
        drift: list[dict[str, Any]],
    ) -> None:
        self.metric = metric.name
        self.higher_is_better = metric.higher_is_better
        self.settings = settings
        self.models = models
        self.rows = rows
        self.overall = overall
        self.slices = slices
        self.compatibility = compatibility
        self.drift = drift
        self.verdict, self.reasons = self._decide()

    def _decide(self) -> tuple[str, list[str]]:
        s, o, c = self.settings, self.overall, self.compatibility
        margin, alpha = s["margin"], s["alpha"]
        if c["refused_by_challenger_only"] and c["share"] > s["max_refused"]:
            named = ", ".join(f"{f['column']} ({f['check']})" for f in c["failures"])
            return "keep", [
                f"The challenger refuses {c['refused_by_challenger_only']} rows "
                f"({c['share']:.1%}) that the champion serves: {named or 'see failures'}."
            ]
        n = self.rows["compared"]
        if n < s["min_rows"] or "p_better" not in o:
            why = o.get("note") or f"{n} labelled rows accepted by both models"
            size = (
                f"; at this size only a difference of {o['detectable']:.4g} in "
                f"{self.metric} would be found (80 % power)"
                if "detectable" in o
                else ""
            )
            return "inconclusive", [
                f"Too few rows to decide: {why}, {s['min_rows']} needed{size}."
            ]
        goal = "better" if margin == 0 else f"within {margin:g} of the champion"
        effect = (
            f"{self.metric} {o['champion']:.4g} -> {o['challenger']:.4g} "
            f"(improvement {o['improvement']:+.4g}, "
            f"{1 - 2 * alpha:.0%} CI [{o['ci_low']:+.4g}, {o['ci_high']:+.4g}], "
            f"{o['test']} p={o['p_better']:.3g})"
        )
        if o["p_better"] > alpha:
            return "keep", [
                f"The challenger is not shown {goal}: {effect}; a difference of "
                f"{o['detectable']:.4g} would be found at this size."
            ]
        worse = [r for r in self.slices if r.get("regressed")]
        if worse:
            named = ", ".join(f"{r['column']}={r['value']}" for r in worse)
            return "keep", [
                f"Better overall ({effect}) but worse on {len(worse)} slice(s) by more "
                f"than the margin (Holm-adjusted p <= {alpha:g}): {named}."
            ]
        tested = sum(1 for r in self.slices if "regressed" in r)
        return "promote", [
            f"The challenger is {goal}: {effect}; worse on none of {tested} slices."
        ]

    def __repr__(self) -> str:
        a, b = self.models["champion"], self.models["challenger"]
        return (
            f"Comparison({a['name']!r} v{a['version']} -> {b['name']!r} v{b['version']}: "
            f"{self.verdict} on {self.metric}, {self.rows['compared']} rows)"
        )

    @property
    def table(self) -> Any:
        """One row for all compared rows, then one per slice, in `TABLE_COLUMNS`."""
        import pandas as pd

        rows = [{"scope": "all rows", **self.overall, "status": self.verdict}]
        for r in self.slices:
            status = r.get("note") or ("regressed" if r.get("regressed") else "ok")
            rows.append({"scope": f"{r['column']}={r['value']}", **r, "status": status})
        frame = pd.DataFrame(rows)
        for column in TABLE_COLUMNS:
            if column not in frame:
                frame[column] = None
        return frame[TABLE_COLUMNS]

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready data."""
        out: dict[str, Any] = _jsonable(
            {
                "verdict": self.verdict,
                "reasons": self.reasons,
                "metric": self.metric,
                "higher_is_better": self.higher_is_better,
                "settings": self.settings,
                "models": self.models,
                "rows": self.rows,
                "overall": self.overall,
                "slices": self.slices,
                "compatibility": self.compatibility,
                "drift": self.drift,
            }
        )
        return out

    def to_json(self) -> str:
        """`to_dict` as JSON (non-finite numbers as null)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """A self-contained HTML page (no CDN, no script); written to `path` if given."""
        from featurekit.comparing.report import render_html

        html = render_html(self.to_dict())
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    return value
