"""The reports of ``featurekit check``: what the contract and parity found, as text and JSON.

`featurekit.testing` builds them; the command prints them (`str`) or dumps them
(`to_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from featurekit.missing import is_missing

__all__ = ["ContractReport", "ParityReport"]

_EXAMPLES = 3  # example values and row labels shown per failing check
WORST = 5  # rows shown when parity fails


@dataclass
class ContractReport:
    """What the contract made of a frame: the failure table and the rows that passed.

    Attributes
    ----------
    name, version : str, int
        The artifact's FeatureSet.
    rows : int
        Rows checked.
    failures : DataFrame
        column, check, failure_case, index (the frame's row labels; None for a
        failure of a whole column, such as a missing one).
    passed : ndarray of bool
        Per row, in order, whether it passed.
    columns : list of str
        The declared columns, in order.
    """

    name: str
    version: int
    rows: int
    failures: pd.DataFrame
    passed: np.ndarray
    columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return len(self.failures) == 0

    @property
    def failing(self) -> int:
        """How many rows fail (all of them when a whole column fails)."""
        return int(self.rows - self.passed.sum())

    def groups(self) -> list[dict[str, Any]]:
        """The failures grouped by column and check, with a few example values."""
        out = []
        # in the order of the declarations; undeclared columns last
        order = {c: k for k, c in enumerate(self.columns)}
        grouped = self.failures.groupby(["column", "check"], sort=False)
        for (column, check), group in sorted(
            grouped, key=lambda g: order.get(g[0][0], len(order))
        ):
            cases = _distinct(group["failure_case"])
            labels = [i for i in group["index"] if not is_missing(i)]
            out.append(
                {
                    "column": column,
                    "check": check,
                    "count": len(group),
                    "examples": cases[:_EXAMPLES],
                    # None: the whole column failed, so every row did
                    "rows": labels[:_EXAMPLES] if labels else None,
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.ok,
            "rows": self.rows,
            "rows_failing": self.failing,
            "failures": self.groups(),
        }

    def table(self) -> str:
        """The grouped failures as an aligned text table."""
        rows = [
            [
                str(g["column"]),
                _shorten(str(g["check"]), 40),
                str(g["count"]),
                ", ".join(_shorten(repr(plain(v)), 24) for v in g["examples"])
                + (", ..." if g["count"] > len(g["examples"]) else ""),
                "all"
                if g["rows"] is None
                else ", ".join(repr(plain(i)) for i in g["rows"])
                + (", ..." if g["count"] > len(g["rows"]) else ""),
            ]
            for g in self.groups()
        ]
        return _table(["column", "check", "failures", "examples", "rows"], rows)

    def __str__(self) -> str:
        if self.ok:
            return f"contract: passed, {self.rows} of {count_of(self.rows, 'row')}"
        return (
            f"contract: FAILED, {self.failing} of {count_of(self.rows, 'row')} fail the "
            f"contract "
            f"of {self.name!r} v{self.version}\n{indented(self.table())}"
        )


@dataclass
class ParityReport:
    """Parity on this machine: golden rows, or scikit-learn against serving on data.

    Attributes
    ----------
    status : {"passed", "failed", "skipped"}
    reason : str
        Why parity was skipped, or what failed beyond the numbers; for golden rows,
        the runtime and CPU they ran on.
    kind : {"classifier", "regressor"}
    rows : int
        Rows compared.
    failing : int
        Rows whose labels differ, whose difference exceeds the tolerance, or that
        serving refused.
    labels_agreeing : int or None
        Rows whose labels agree (classifiers).
    max_abs_diff : float or None
        Largest |Δ| of a probability (classifiers) or a prediction (regressors).
    max_rel_diff : float or None
        Regressors: largest |Δ| / max(scale, |prediction|), which the tolerance bounds.
    tolerance, scale : float or None
        From the artifact's certificate.
    worst : list of dict
        Up to five failing rows: label, inputs, both answers and the difference;
        for golden rows, the first differing row and its differences.
    source : {"data", "golden rows"}
        What was compared: the data's rows (scikit-learn against serving) or the
        artifact's golden rows (their certified answers against serving).
    """

    status: str
    reason: str = ""
    kind: str = ""
    rows: int = 0
    failing: int = 0
    labels_agreeing: int | None = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    tolerance: float | None = None
    scale: float | None = None
    worst: list[dict[str, Any]] = field(default_factory=list)
    source: str = "data"

    @property
    def ok(self) -> bool:
        """False only when parity was checked and failed; a skip is not a failure."""
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "reason": self.reason or None,
            "kind": self.kind or None,
            "rows": self.rows,
            "rows_failing": self.failing,
            "labels_agreeing": self.labels_agreeing,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": self.max_rel_diff,
            "tolerance": self.tolerance,
            "scale": self.scale,
            "worst": self.worst,
        }

    def summary(self) -> str:
        """One line: rows compared, labels agreeing, largest difference."""
        if self.source != "data":
            return (
                f"{self.rows - self.failing} of {count_of(self.rows, 'golden row')} "
                f"answer as certified {self.reason}"
            )
        parts = [f"{count_of(self.rows, 'row')} compared"]
        if self.labels_agreeing is not None:
            parts.append(f"{self.labels_agreeing} of {self.rows} labels agree")
        if self.max_abs_diff is not None and self.kind == "classifier":
            parts.append(
                f"max |Δp| {self.max_abs_diff:.3g} (tolerance {self.tolerance:g})"
            )
        elif self.max_abs_diff is not None:
            parts.append(
                f"max |Δ| {self.max_abs_diff:.3g}, relative {self.max_rel_diff:.3g} "
                f"(tolerance {self.tolerance:g} × max({self.scale:.3g}, |prediction|))"
            )
        return ", ".join(parts)

    def __str__(self) -> str:
        title = "parity" if self.source == "data" else self.source
        if self.status == "skipped":
            return f"{title}: skipped, {self.reason}"
        if self.status == "passed":
            return f"{title}: passed, {self.summary()}"
        if self.source != "data":
            return (
                f"{title}: FAILED, {self.summary()}\n  first differing row:\n"
                + "\n".join(f"    {describe_row(w)}" for w in self.worst)
            )
        head = (
            f"parity: FAILED, {self.failing} of {count_of(self.rows, 'row')} disagree"
        )
        if self.reason:
            head += f"; {self.reason}"
        lines = [f"{head}\n  {self.summary()}"]
        if self.worst:
            lines.append("  worst rows:")
            lines += [f"    {describe_row(w)}" for w in self.worst]
        return "\n".join(lines)


# -- rows in reports ---------------------------------------------------------------
def refused_rows(rows: pd.DataFrame, split: Any) -> list[dict[str, Any]]:
    """Rows the reference contract accepted but serving's compiled checks refused."""
    out = []
    for pos in np.flatnonzero(~split.passed):
        label = rows.index[pos]
        why = split.failures[split.failures["index"] == split.index[pos]]
        checks = [f"{c} {k}" for c, k in zip(why["column"], why["check"], strict=True)]
        out.append(
            {
                "row": plain(label),
                "inputs": inputs_of(rows.iloc[pos]),
                "sklearn": None,
                "onnx": None,
                "diff": None,
                "label_agrees": None,
                "refused_by_serving": checks or ["(no failure recorded)"],
            }
        )
    return out


def worst_rows(
    rows: pd.DataFrame,
    sk: list[np.ndarray],
    onx: list[np.ndarray],
    diff: np.ndarray,
    agree: np.ndarray,
    bad: np.ndarray,
) -> list[dict[str, Any]]:
    order = np.lexsort((-diff, agree))[: min(WORST, int(bad.sum()))]
    out = []
    for i in order:
        if len(sk) == 2:  # classifier: label, and probabilities or decision function
            sk_answer: Any = [plain(sk[0][i]), [float(p) for p in np.ravel(sk[1][i])]]
            onnx_answer: Any = [
                plain(onx[0][i]),
                [float(p) for p in np.ravel(onx[1][i])],
            ]
        elif sk[0].dtype.kind != "f":  # a classifier answering its label alone
            sk_answer, onnx_answer = plain(sk[0][i]), plain(onx[0][i])
        else:
            sk_answer, onnx_answer = float(sk[0][i]), float(onx[0][i])
        out.append(
            {
                "row": plain(rows.index[i]),
                "inputs": inputs_of(rows.iloc[i]),
                "sklearn": sk_answer,
                "onnx": onnx_answer,
                "diff": float(diff[i]),
                "label_agrees": bool(agree[i]),
            }
        )
    return out


def inputs_of(row: pd.Series) -> dict[str, Any]:
    return {str(k): None if is_missing(v) else plain(v) for k, v in row.items()}


# -- formatting -----------------------------------------------------------------------
def describe_row(w: dict[str, Any]) -> str:
    if "differences" in w:  # a golden row
        where = f"golden row {w['index']} " if w.get("index") is not None else ""
        return (
            f"{where}({w['row']}) {w['inputs']!r}: {'; '.join(w['differences'])}"
            if w.get("inputs") is not None
            else f"{where}({w['row']}): {'; '.join(w['differences'])}"
        )
    if w.get("refused_by_serving"):
        return (
            f"row {w['row']!r} {w['inputs']!r}: serving refused it "
            f"({'; '.join(w['refused_by_serving'])})"
        )
    return (
        f"row {w['row']!r} {w['inputs']!r}: sklearn {_answer(w['sklearn'])}, "
        f"onnx {_answer(w['onnx'])}, |Δ| {w['diff']:.3g}"
        + ("" if w["label_agrees"] else " (labels differ)")
    )


def _answer(answer: Any) -> str:
    if isinstance(answer, list):  # classifier: label and probabilities
        label, proba = answer
        return f"{label!r} p=[{', '.join(f'{p:.6g}' for p in proba)}]"
    return repr(answer)


def plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _distinct(values: pd.Series) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        v = None if is_missing(v) else plain(v)
        if not any(v == s and type(v) is type(s) for s in seen):
            seen.append(v)
        if len(seen) == _EXAMPLES:
            break
    return seen


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[k]) for r in [headers, *rows]) for k in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in [headers, *rows]
    )


def indented(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def count_of(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
