"""Check data against an artifact: its contract, and scikit-learn/serving parity on it.

`check_contract` and `check_parity` return reports, which ``featurekit check`` prints;
`assert_contract` and `assert_parity` turn them into pytest assertions::

    from featurekit.testing import assert_contract, assert_parity

    def test_the_weekly_extract_fits_the_model():
        batch = pd.read_parquet("data/weekly.parquet")
        assert_contract("artifacts/credit", batch)
        assert_parity("artifacts/credit", batch)

Parity here is the direct comparison: the fitted pipeline saved in ``pipeline.joblib``
against `serving.Predictor`, on the rows that pass the contract, with the tolerance of
the artifact's certificate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from featurekit.contract import reference
from featurekit.contract.schema import Contract
from featurekit.errors import ArtifactError, ContractError
from featurekit.exporting.exporter import Artifact, load
from serving import Predictor

__all__ = [
    "ContractReport",
    "ParityReport",
    "assert_contract",
    "assert_parity",
    "check_contract",
    "check_parity",
]

_COLUMNS = ["column", "check", "failure_case", "index"]
_EXAMPLES = 3  # example values and row labels shown per failing check
_WORST = 5  # rows shown when parity fails


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
            labels = [i for i in group["index"] if not _is_missing(i)]
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
                ", ".join(_shorten(repr(_plain(v)), 24) for v in g["examples"])
                + (", ..." if g["count"] > len(g["examples"]) else ""),
                "all"
                if g["rows"] is None
                else ", ".join(repr(_plain(i)) for i in g["rows"])
                + (", ..." if g["count"] > len(g["rows"]) else ""),
            ]
            for g in self.groups()
        ]
        return _table(["column", "check", "failures", "examples", "rows"], rows)

    def __str__(self) -> str:
        if self.ok:
            return f"contract: passed, {self.rows} of {_count(self.rows, 'row')}"
        return (
            f"contract: FAILED, {self.failing} of {_count(self.rows, 'row')} fail the "
            f"contract "
            f"of {self.name!r} v{self.version}\n{_indent(self.table())}"
        )


@dataclass
class ParityReport:
    """scikit-learn against serving on the rows that passed the contract.

    Attributes
    ----------
    status : {"passed", "failed", "skipped"}
    reason : str
        Why parity was skipped, or what failed beyond the numbers.
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
        Up to five failing rows: label, inputs, both answers and the difference.
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

    @property
    def ok(self) -> bool:
        """False only when parity was checked and failed; a skip is not a failure."""
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
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
        parts = [f"{_count(self.rows, 'row')} compared"]
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
        if self.status == "skipped":
            return f"parity: skipped, {self.reason}"
        if self.status == "passed":
            return f"parity: passed, {self.summary()}"
        head = f"parity: FAILED, {self.failing} of {_count(self.rows, 'row')} disagree"
        if self.reason:
            head += f"; {self.reason}"
        lines = [f"{head}\n  {self.summary()}"]
        if self.worst:
            lines.append("  worst rows:")
            lines += [f"    {_describe(w)}" for w in self.worst]
        return "\n".join(lines)


# -- the checks ---------------------------------------------------------------------
def check_contract(
    artifact: Artifact | str | os.PathLike[str], data: Any
) -> ContractReport:
    """Check `data` against the artifact's contract with the reference (pandera) check.

    Parameters
    ----------
    artifact : Artifact, str or Path
        An artifact directory, or what `featurekit.load` returned.
    data : DataFrame, list of dict or dict
        Raw records, as served.

    Returns
    -------
    ContractReport
        Never raises on bad data: every failure is in the report.

    Raises
    ------
    ArtifactError
        The artifact is missing, partial or tampered with.
    """
    art = _artifact(artifact)
    contract = Predictor.load(art.path).contract
    frame = _frame(data)
    positions = frame.reset_index(drop=True)  # row labels may repeat; positions do not
    failures = _reference_failures(contract, positions)
    passed = np.ones(len(frame), dtype=bool)
    if failures["index"].isna().any():  # a whole column failed
        passed[:] = False
    else:
        passed[failures["index"].to_numpy(dtype=np.int64)] = False
    labels = list(frame.index)
    failures["index"] = [
        None if _is_missing(i) else labels[int(i)] for i in failures["index"]
    ]
    f = contract.features
    return ContractReport(
        f.name, f.version, len(frame), failures, passed, list(f.columns)
    )


def check_parity(
    artifact: Artifact | str | os.PathLike[str],
    data: Any,
    *,
    contract: ContractReport | None = None,
) -> ParityReport:
    """Score the rows of `data` that pass the contract with scikit-learn and serving.

    Classifiers pass when every label agrees and every probability is within the
    certificate's tolerance; regressors when |Δ| ≤ tolerance × max(scale,
    |prediction|), with the certificate's scale. A row serving refuses although the
    reference contract accepted it fails too.

    Parameters
    ----------
    artifact : Artifact, str or Path
    data : DataFrame, list of dict or dict
    contract : ContractReport, optional
        `check_contract` of the same data, if already run.

    Returns
    -------
    ParityReport
        Status "skipped" when the artifact has no ``pipeline.joblib`` or no row
        passes the contract.

    Raises
    ------
    ArtifactError
        The artifact is damaged, or its ``pipeline.joblib`` cannot be unpickled.
    """
    art = _artifact(artifact)
    frame = _frame(data)
    cert = art.manifest["certificate"]
    kind = art.manifest["kind"]
    if "pipeline.joblib" not in art.manifest["files"]:
        return ParityReport(
            "skipped",
            f"artifact {art.features.name!r} v{art.features.version} was exported "
            "without pipeline.joblib (save_pipeline=False), so there is no "
            "scikit-learn pipeline to compare serving with",
            kind,
        )
    if contract is None:
        contract = check_contract(art, frame)
    rows = frame[contract.passed]
    if not len(rows):
        return ParityReport("skipped", "no row passes the contract", kind)
    pipeline = _pipeline(art)
    predictor = Predictor.load(art.path)
    tolerance, scale = float(cert["tolerance"]), float(cert["scale"])
    is_clf = kind == "classifier"
    try:
        sk = [np.asarray(pipeline.predict(rows))]
        if is_clf:
            sk.append(np.asarray(pipeline.predict_proba(rows), dtype=np.float64))
    except (ValueError, TypeError) as exc:  # ContractError is a ValueError
        return ParityReport(
            "failed",
            f"scikit-learn fails on rows the contract accepts: {exc}",
            kind,
            len(rows),
            len(rows),
            tolerance=tolerance,
            scale=scale,
        )
    split = predictor.predict(rows, on_error="split")
    served = split.passed  # False where serving refused a row the reference accepted
    onx = [np.asarray(split.scores)]
    if is_clf:
        onx.append(np.asarray(predictor.predict_proba(rows[served]), np.float64))
    sk = [s[served] for s in sk]

    if is_clf:
        agree = sk[0].astype(object) == onx[0].astype(object)
        delta = np.abs(sk[1] - onx[1])
        both_nan = np.isnan(sk[1]) & np.isnan(onx[1])
        delta = np.where(both_nan, 0.0, np.where(np.isnan(delta), np.inf, delta))
        diff = delta.max(axis=1) if delta.size else np.zeros(len(agree))
        rel = diff
    else:
        pred, out = sk[0].astype(np.float64), onx[0].astype(np.float64)
        agree = np.ones(len(pred), dtype=bool)
        both_nan = np.isnan(pred) & np.isnan(out)
        diff = np.where(both_nan, 0.0, np.abs(pred - out))
        diff = np.where(np.isnan(diff), np.inf, diff)
        # as in the certificate: relative to the target's scale, or to the prediction
        # itself where it lies far beyond, since float64 rounding scales with it
        rel = diff / np.maximum(scale, np.abs(np.where(np.isnan(pred), 0.0, pred)))
    bad = ~agree | (rel > tolerance)
    n_refused = int((~served).sum())
    worst = _refused(rows, split) + _worst(rows[served], sk, onx, diff, agree, bad)
    failing = int(bad.sum()) + n_refused
    return ParityReport(
        "failed" if failing else "passed",
        f"serving refused {n_refused} of them" if n_refused else "",
        kind,
        len(rows),
        failing,
        int(agree.sum()) if is_clf else None,
        float(diff.max()) if len(diff) else 0.0,
        None if is_clf else (float(rel.max()) if len(rel) else 0.0),
        tolerance,
        scale,
        worst[:_WORST],
    )


# -- the pytest helpers ---------------------------------------------------------------
def assert_contract(artifact: Artifact | str | os.PathLike[str], data: Any) -> None:
    """Assert that every row of `data` passes the artifact's contract.

    Parameters
    ----------
    artifact : Artifact, str or Path
        An artifact directory, or what `featurekit.load` or `featurekit.export`
        returned.
    data : DataFrame, list of dict or dict
        Raw records, as they will be served.

    Raises
    ------
    AssertionError
        Listing the failures by column and check, with example values and row
        labels.
    ArtifactError
        The artifact is missing, partial or tampered with.

    Examples
    --------
    >>> import pandas as pd
    >>> import featurekit as fk
    >>> from sklearn.linear_model import LogisticRegression
    >>> from featurekit.testing import assert_contract
    >>> features = fk.FeatureSet("demo", [fk.Numeric("age", "int", bounds=(18, 120))])
    >>> train = pd.DataFrame({"age": [20, 30, 40, 50, 60, 70]})
    >>> pipe = fk.make_pipeline(features, LogisticRegression())
    >>> pipe = pipe.fit(train, [0, 0, 0, 1, 1, 1])
    >>> path = getfixture("tmp_path") / "demo"  # in pytest; any directory will do
    >>> artifact = fk.export(pipe, path, reference=train)
    >>> assert_contract(artifact, pd.DataFrame({"age": [25, 64]}))
    >>> assert_contract(path, pd.DataFrame({"age": [25, 130, 7]}))
    Traceback (most recent call last):
    ...
    AssertionError: 2 of 3 rows fail the contract of 'demo' v1:
      column  check              failures  examples  rows
      age     in_range(18, 120)  2         130, 7    1, 2
    """
    report = check_contract(artifact, data)
    if not report.ok:
        raise AssertionError(
            f"{report.failing} of {_count(report.rows, 'row')} fail the contract of "
            f"{report.name!r} v{report.version}:\n{_indent(report.table())}"
        )


def assert_parity(artifact: Artifact | str | os.PathLike[str], data: Any) -> None:
    """Assert that serving answers what the scikit-learn pipeline answers on `data`.

    Only the rows that pass the contract are compared (check the others with
    `assert_contract`), with the tolerance of the artifact's parity certificate.

    Parameters
    ----------
    artifact : Artifact, str or Path
        An artifact exported with its ``pipeline.joblib`` (the default).
    data : DataFrame, list of dict or dict
        Raw records.

    Raises
    ------
    AssertionError
        Some rows disagree (the message shows the worst, with their inputs), or no
        row passes the contract, so nothing could be compared.
    ArtifactError
        The artifact is damaged, or was exported without ``pipeline.joblib``.

    Examples
    --------
    >>> import pandas as pd
    >>> import featurekit as fk
    >>> from sklearn.linear_model import LogisticRegression
    >>> from featurekit.testing import assert_parity
    >>> features = fk.FeatureSet("demo", [fk.Numeric("age", "int", bounds=(18, 120))])
    >>> train = pd.DataFrame({"age": [20, 30, 40, 50, 60, 70]})
    >>> pipe = fk.make_pipeline(features, LogisticRegression())
    >>> pipe = pipe.fit(train, [0, 0, 0, 1, 1, 1])
    >>> path = getfixture("tmp_path") / "demo"  # in pytest; any directory will do
    >>> _ = fk.export(pipe, path, reference=train)
    >>> assert_parity(path, pd.DataFrame({"age": [18, 44, 120]}))
    >>> lean = fk.export(pipe, path, reference=train, save_pipeline=False)
    >>> assert_parity(lean, pd.DataFrame({"age": [18]}))
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: assert_parity needs the fitted pipeline, but ...
    """
    art = _artifact(artifact)
    if "pipeline.joblib" not in art.manifest["files"]:
        raise ArtifactError(
            "assert_parity needs the fitted pipeline, but artifact "
            f"{str(art.path)!r} was exported without pipeline.joblib; export it with "
            "save_pipeline=True (the default)."
        )
    report = check_parity(art, data)
    if report.status == "skipped":
        raise AssertionError(
            f"Nothing to compare for {art.features.name!r} v{art.features.version}: "
            f"{report.reason}. Check the data with assert_contract."
        )
    if not report.ok:
        raise AssertionError(
            f"scikit-learn and serving disagree on {report.failing} of "
            f"{_count(report.rows, 'row')} for {art.features.name!r} v{art.features.version}"
            + (f"; {report.reason}" if report.reason else "")
            + f" ({report.summary()}). Worst rows:\n"
            + "\n".join(f"  {_describe(w)}" for w in report.worst)
        )


# -- helpers --------------------------------------------------------------------------
def _artifact(artifact: Artifact | str | os.PathLike[str]) -> Artifact:
    return artifact if isinstance(artifact, Artifact) else load(artifact)


def _frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict):
        data = [data]
    if isinstance(data, list | tuple) and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(list(data))
    raise TypeError(
        f"Expected a DataFrame, a list of dict or a dict, got {type(data).__name__}."
    )


def _pipeline(art: Artifact) -> Any:
    try:
        return art.pipeline
    except ArtifactError:
        raise
    # unpickling runs arbitrary reduce code, so any exception means "unusable here"
    except Exception as exc:
        made_with = art.manifest["versions"].get("scikit-learn", "?")
        raise ArtifactError(
            f"Cannot unpickle pipeline.joblib of {str(art.path)!r} ({exc!r}); it was "
            f"saved with scikit-learn {made_with}. Install that version, or re-export "
            "the artifact."
        ) from exc


def _reference_failures(contract: Contract, frame: pd.DataFrame) -> pd.DataFrame:
    """The failure table of `reference.validate`, the reference check; empty if none."""
    try:
        reference.validate(contract, frame)
    except ContractError as exc:
        table = exc.failures.copy()
    else:
        return pd.DataFrame(columns=_COLUMNS, dtype=object)
    # pandera reports a missing or undeclared column under the schema's name, with the
    # column as failure_case, and a missing one a second time after Columns.read did
    whole = table["check"].isin(["column_in_dataframe", "column_in_schema"])
    table.loc[whole, "column"] = table.loc[whole, "failure_case"]
    table = table[~(whole & table.duplicated())].reset_index(drop=True)
    table["failure_case"] = [
        None if _is_missing(v) else _plain(v) for v in table["failure_case"]
    ]
    table["index"] = pd.Series(
        [None if _is_missing(i) else _plain(i) for i in table["index"]], dtype=object
    )
    return table


def _refused(rows: pd.DataFrame, split: Any) -> list[dict[str, Any]]:
    """Rows the reference contract accepted but serving's compiled checks refused."""
    out = []
    for pos in np.flatnonzero(~split.passed):
        label = rows.index[pos]
        why = split.failures[split.failures["index"] == split.index[pos]]
        checks = [f"{c} {k}" for c, k in zip(why["column"], why["check"], strict=True)]
        out.append(
            {
                "row": _plain(label),
                "inputs": _inputs(rows.iloc[pos]),
                "sklearn": None,
                "onnx": None,
                "diff": None,
                "label_agrees": None,
                "refused_by_serving": checks or ["(no failure recorded)"],
            }
        )
    return out


def _worst(
    rows: pd.DataFrame,
    sk: list[np.ndarray],
    onx: list[np.ndarray],
    diff: np.ndarray,
    agree: np.ndarray,
    bad: np.ndarray,
) -> list[dict[str, Any]]:
    order = np.lexsort((-diff, agree))[: min(_WORST, int(bad.sum()))]
    out = []
    for i in order:
        if len(sk) == 2:  # classifier: label and probabilities
            sk_answer: Any = [_plain(sk[0][i]), [float(p) for p in sk[1][i]]]
            onnx_answer: Any = [_plain(onx[0][i]), [float(p) for p in onx[1][i]]]
        else:
            sk_answer, onnx_answer = float(sk[0][i]), float(onx[0][i])
        out.append(
            {
                "row": _plain(rows.index[i]),
                "inputs": _inputs(rows.iloc[i]),
                "sklearn": sk_answer,
                "onnx": onnx_answer,
                "diff": float(diff[i]),
                "label_agrees": bool(agree[i]),
            }
        )
    return out


def _inputs(row: pd.Series) -> dict[str, Any]:
    return {str(k): None if _is_missing(v) else _plain(v) for k, v in row.items()}


def _describe(w: dict[str, Any]) -> str:
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


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array is a value, not missing
        return False


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _distinct(values: pd.Series) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        v = None if _is_missing(v) else _plain(v)
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


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
