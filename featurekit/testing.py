"""Check data against an artifact: its contract, and parity on this machine.

`check_contract`, `check_golden` and `check_parity` return reports, which
``featurekit check`` prints; `assert_contract` and `assert_parity` turn them into
pytest assertions::

    from featurekit.testing import assert_contract, assert_parity

    def test_the_weekly_extract_fits_the_model():
        batch = pd.read_parquet("data/weekly.parquet")
        assert_contract("artifacts/credit", batch)
        assert_parity("artifacts/credit", batch)

Parity comes in two forms. Without unpickling anything, the artifact's golden rows
(certified rows and their answers, stored at export) run through `serving.Predictor`
on this machine and must answer as certified. With ``trust_pickle=True``, the fitted
pipeline saved in ``pipeline.joblib`` is also compared with serving on the data's rows
that pass the contract. Unpickling runs any code the file names, and its sha256 in
``manifest.json`` proves nothing (whoever rewrites the file rewrites the manifest), so
pass ``trust_pickle=True`` only for artifacts you produced, never for one from an
untrusted pull request.
"""

from __future__ import annotations

import os
from typing import Any, cast

import numpy as np
import pandas as pd

from featurekit.contract import reference
from featurekit.contract.schema import Contract
from featurekit.errors import ArtifactError, ContractError
from featurekit.exporting.loading import Artifact, load
from featurekit.golden import machine
from featurekit.missing import is_missing
from featurekit.reports import (
    WORST,
    ContractReport,
    ParityReport,
    count_of,
    describe_row,
    indented,
    plain,
    refused_rows,
    worst_rows,
)
from serving import Predictor

__all__ = [
    "ContractReport",
    "ParityReport",
    "assert_contract",
    "assert_parity",
    "check_contract",
    "check_golden",
    "check_parity",
]

_COLUMNS = ["column", "check", "failure_case", "index"]
GOLDEN = "golden rows"


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
    contract = art.contract
    frame = _frame(data)
    # row labels may repeat; positions do not. Records go in as records, so that a
    # key one record lacks is refused for that record, as serving refuses it
    source: Any = (
        frame.reset_index(drop=True)
        if isinstance(data, pd.DataFrame)
        else [data]
        if isinstance(data, dict)
        else list(data)
    )
    failures = _reference_failures(contract, source)
    passed = np.ones(len(frame), dtype=bool)
    if failures["index"].isna().any():  # a whole column failed
        passed[:] = False
    else:
        passed[failures["index"].to_numpy(dtype=np.int64)] = False
    labels = list(frame.index)
    failures["index"] = [
        None if is_missing(i) else labels[int(i)] for i in failures["index"]
    ]
    f = contract.features
    return ContractReport(
        f.name, f.version, len(frame), failures, passed, list(f.columns)
    )


def check_golden(artifact: Artifact | str | os.PathLike[str]) -> ParityReport:
    """Run the artifact's golden rows through serving on this machine.

    The golden rows are certified rows stored at export with scikit-learn's answers
    (and, for tree models, the features' exact bits). They need no pickle: this is
    the parity check that is safe on any artifact.

    Parameters
    ----------
    artifact : Artifact, str or Path

    Returns
    -------
    ParityReport
        ``source="golden rows"``. Status "skipped" for an artifact exported before
        golden rows; "failed" names the first differing row, the onnxruntime
        version and the CPU.

    Raises
    ------
    ArtifactError
        The artifact is missing, partial or tampered with.
    """
    art = _artifact(artifact)
    kind = art.manifest["kind"]
    cert = art.manifest["certificate"]
    v = Predictor.load(art.path, verify="off", monitor=False).verify()
    tolerance, scale = float(cert["tolerance"]), float(cert.get("scale", 1.0))
    if v.status == "absent":
        reason = (
            f"artifact {art.features.name!r} v{art.features.version} was exported "
            "before featurekit stored golden rows; re-export it to have them checked"
        )
        return ParityReport("skipped", reason, kind, source=GOLDEN)
    worst = []
    if v.first is not None:
        worst.append(
            {
                "row": v.first["name"],
                "index": v.first["index"],
                "inputs": v.first["inputs"],
                "differences": v.first["differences"],
            }
        )
    return ParityReport(
        "passed" if v.ok else "failed",
        f"on {machine(simd=not v.ok)}",
        kind,
        v.rows,
        v.failing,
        tolerance=tolerance,
        scale=scale,
        worst=worst,
        source=GOLDEN,
    )


def check_parity(
    artifact: Artifact | str | os.PathLike[str],
    data: Any,
    *,
    contract: ContractReport | None = None,
    trust_pickle: bool = False,
) -> ParityReport:
    """Parity on this machine: golden rows, or scikit-learn against serving on `data`.

    Without `trust_pickle`, this is `check_golden`: `data` is not compared, since
    there is no reference answer for it without the pipeline. With it, the rows of
    `data` that pass the contract are scored with the pipeline unpickled from
    ``pipeline.joblib`` and with serving: classifiers pass when every label agrees
    and every probability is within the certificate's tolerance; regressors when
    |Δ| ≤ tolerance × max(scale, |prediction|), with the certificate's scale. A row
    serving refuses although the reference contract accepted it fails too.

    Parameters
    ----------
    artifact : Artifact, str or Path
    data : DataFrame, list of dict or dict
    contract : ContractReport, optional
        `check_contract` of the same data, if already run.
    trust_pickle : bool
        Unpickle ``pipeline.joblib``. Unpickling runs any code the file names, and
        the manifest's sha256 does not say who wrote it: only for artifacts you
        trust.

    Returns
    -------
    ParityReport
        With `trust_pickle`, status "skipped" when the artifact has no
        ``pipeline.joblib`` or no row passes the contract.

    Raises
    ------
    ArtifactError
        The artifact is damaged; with `trust_pickle`, its ``pipeline.joblib``
        cannot be unpickled or holds no featurekit pipeline.
    """
    if not trust_pickle:
        return check_golden(artifact)
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
    pipeline = art.pipeline
    # the golden rows are check_golden's business; this compares the data
    predictor = Predictor.load(art.path, verify="off", monitor=False)
    tolerance, scale = float(cert["tolerance"]), float(cert["scale"])
    is_clf = kind == "classifier"
    # a classifier's scores: its probabilities, else its decision function, else none
    scores = [o for o in art.manifest["outputs"] if is_clf and o != "label"]
    method = {
        "probabilities": "predict_proba",
        "decision_function": "decision_function",
    }
    try:
        sk = [np.asarray(pipeline.predict(rows))]
        for output in scores:
            answer = getattr(pipeline, method[output])(rows)
            sk.append(np.asarray(answer, dtype=np.float64).reshape(len(rows), -1))
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
    for output in scores:
        got = cast(dict[str, np.ndarray], predictor.score(rows[served], [output]))
        onx.append(np.asarray(got[output], np.float64).reshape(int(served.sum()), -1))
    sk = [s[served] for s in sk]

    if is_clf:
        agree = sk[0].astype(object) == onx[0].astype(object)
        diff = rel = np.zeros(len(agree))
        if scores:
            delta = np.abs(sk[1] - onx[1])
            if scores[0] == "decision_function":  # relative, as certified
                delta = delta / np.maximum(scale, np.abs(np.nan_to_num(sk[1])))
            both_nan = np.isnan(sk[1]) & np.isnan(onx[1])
            delta = np.where(both_nan, 0.0, np.where(np.isnan(delta), np.inf, delta))
            diff = rel = delta.max(axis=1) if delta.size else diff
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
    worst = refused_rows(rows, split) + worst_rows(
        rows[served], sk, onx, diff, agree, bad
    )
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
        worst[:WORST],
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
    __tracebackhide__ = True  # pytest shows the report, not this helper's source
    report = check_contract(artifact, data)
    if not report.ok:
        raise AssertionError(
            f"{report.failing} of {count_of(report.rows, 'row')} fail the contract of "
            f"{report.name!r} v{report.version}:\n{indented(report.table())}"
        )


def assert_parity(
    artifact: Artifact | str | os.PathLike[str],
    data: Any,
    *,
    trust_pickle: bool = False,
) -> None:
    """Assert that serving answers on this machine as the artifact was certified to.

    Always runs the artifact's golden rows (`check_golden`), which needs no pickle.
    With ``trust_pickle=True`` it also unpickles ``pipeline.joblib`` and asserts that
    serving answers what the scikit-learn pipeline answers on the rows of `data` that
    pass the contract (check the others with `assert_contract`), with the tolerance
    of the artifact's parity certificate. Without it, `data` is not compared: there
    is no reference answer for it without the pipeline.

    Parameters
    ----------
    artifact : Artifact, str or Path
        An artifact directory, or what `featurekit.load` or `featurekit.export`
        returned.
    data : DataFrame, list of dict or dict
        Raw records; compared only with `trust_pickle`.
    trust_pickle : bool
        Unpickle ``pipeline.joblib`` to compare on `data`. Unpickling runs any code
        the file names, and its sha256 in the manifest proves nothing (whoever
        rewrites the file rewrites the manifest): never for an artifact from an
        untrusted source, such as a pull request.

    Raises
    ------
    AssertionError
        A golden row answers otherwise on this machine; some rows of `data`
        disagree (the message shows the worst, with their inputs); or nothing could
        be compared.
    ArtifactError
        The artifact is damaged; with `trust_pickle`, it has no usable
        ``pipeline.joblib``.

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
    >>> _ = fk.export(pipe, path, reference=train, save_pipeline=True)
    >>> assert_parity(path, None)  # the golden rows only: no pickle, no data needed
    >>> assert_parity(path, pd.DataFrame({"age": [18, 44, 120]}), trust_pickle=True)
    >>> lean = fk.export(pipe, path, reference=train, overwrite=True)  # no joblib
    >>> assert_parity(lean, pd.DataFrame({"age": [18]}), trust_pickle=True)
    Traceback (most recent call last):
    ...
    featurekit.errors.ArtifactError: assert_parity(trust_pickle=True) needs the ...
    """
    __tracebackhide__ = True  # pytest shows the report, not this helper's source
    art = _artifact(artifact)
    name = f"{art.features.name!r} v{art.features.version}"
    if trust_pickle and "pipeline.joblib" not in art.manifest["files"]:
        raise ArtifactError(
            "assert_parity(trust_pickle=True) needs the fitted pipeline, but artifact "
            f"{str(art.path)!r} was exported without pipeline.joblib; export it with "
            "save_pipeline=True, or compare the golden rows only "
            "(trust_pickle=False)."
        )
    golden = check_golden(art)
    if not golden.ok:
        raise AssertionError(
            f"{name} fails its golden rows on this machine: {golden.failing} of "
            f"{count_of(golden.rows, 'row')} answer otherwise than certified, "
            f"{golden.reason}. First:\n"
            + "\n".join(f"  {describe_row(w)}" for w in golden.worst)
        )
    if not trust_pickle:
        if golden.status == "skipped":
            raise AssertionError(
                f"Nothing to compare for {name}: {golden.reason}, or pass "
                "trust_pickle=True to compare its pipeline on the data."
            )
        return
    report = check_parity(art, data, trust_pickle=True)
    if report.status == "skipped":
        raise AssertionError(
            f"Nothing to compare for {name}: {report.reason}. Check the data with "
            "assert_contract."
        )
    if not report.ok:
        raise AssertionError(
            f"scikit-learn and serving disagree on {report.failing} of "
            f"{count_of(report.rows, 'row')} for {name}"
            + (f"; {report.reason}" if report.reason else "")
            + f" ({report.summary()}). Worst rows:\n"
            + "\n".join(f"  {describe_row(w)}" for w in report.worst)
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


def _reference_failures(contract: Contract, frame: Any) -> pd.DataFrame:
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
        None if is_missing(v) else plain(v) for v in table["failure_case"]
    ]
    table["index"] = pd.Series(
        [None if is_missing(i) else plain(i) for i in table["index"]],
        dtype=object,
    )
    return table
