"""`featurekit.testing`: pytest helpers for a team's own CI."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

import featurekit as fk
from featurekit.contract.columns import Columns
from featurekit.testing import (
    assert_contract,
    assert_parity,
    check_contract,
    check_parity,
)
from serving import Predictor


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


# -- assert_contract ------------------------------------------------------------------
@pytest.mark.parametrize("how", ["path", "str", "artifact"])
def test_assert_contract_passes_good_data_given_any_form_of_artifact(
    classifier_artifact, good_frame, how
):
    artifact = {
        "path": classifier_artifact,
        "str": str(classifier_artifact),
        "artifact": fk.load(classifier_artifact),
    }[how]
    assert_contract(artifact, good_frame)


def test_assert_contract_takes_records_as_served(classifier_artifact, good_frame):
    assert_contract(classifier_artifact, _records(good_frame))
    assert_contract(classifier_artifact, _records(good_frame)[0])


def test_assert_contract_message_is_the_failure_table(classifier_artifact, bad_frame):
    with pytest.raises(AssertionError) as info:
        assert_contract(classifier_artifact, bad_frame)
    lines = str(info.value).splitlines()
    assert lines[0] == "3 of 40 rows fail the contract of 'credit' v3:"
    assert lines[1].split() == ["column", "check", "failures", "examples", "rows"]
    # in the order of the declarations: x, k, c
    assert [ln.split()[0] for ln in lines[2:]] == ["x", "k", "c"]
    assert re.fullmatch(r"\s+x\s+in_range\(-10, 10\)\s+1\s+50\.0\s+2", lines[2])
    assert re.fullmatch(r"\s+k\s+dtype\('Int64'\)\s+1\s+1\.5\s+7", lines[3])
    assert re.fullmatch(r"\s+c\s+isin\(\['a', 'b', 'c'\]\)\s+1\s+'zzz'\s+5", lines[4])


def test_assert_contract_names_rows_by_the_frames_own_labels(
    classifier_artifact, bad_frame
):
    labelled = bad_frame.set_axis([f"id{i}" for i in range(len(bad_frame))])
    with pytest.raises(AssertionError, match=r"50\.0\s+'id2'"):
        assert_contract(classifier_artifact, labelled)


def test_assert_contract_refuses_a_tampered_artifact(tampered_artifact, good_frame):
    with pytest.raises(fk.ArtifactError, match="was modified"):
        assert_contract(tampered_artifact, good_frame)


# -- check_contract -------------------------------------------------------------------
def test_check_contract_reports_the_rows_that_pass(classifier_artifact, bad_frame):
    report = check_contract(classifier_artifact, bad_frame)
    assert not report.ok
    assert (report.rows, report.failing) == (40, 3)
    assert np.flatnonzero(~report.passed).tolist() == [2, 5, 7]


def test_check_contract_agrees_with_what_serving_refuses(
    classifier_artifact, bad_frame
):
    """The reference check (pandera) and serving's compiled checks: same rows."""
    report = check_contract(classifier_artifact, bad_frame)
    _, passed, _, failures = Columns(
        Predictor.load(classifier_artifact).contract
    ).split(bad_frame)
    np.testing.assert_array_equal(report.passed, passed)
    key = ["column", "check", "index"]
    assert (
        report.failures[key].sort_values(key).values.tolist()
        == failures[key].sort_values(key).values.tolist()
    )


def test_check_contract_counts_each_missing_column_once(
    classifier_artifact, good_frame
):
    report = check_contract(classifier_artifact, good_frame.drop(columns=["k", "c"]))
    assert report.failures[["column", "check"]].values.tolist() == [
        ["k", "column_in_dataframe"],
        ["c", "column_in_dataframe"],
    ]
    assert report.failing == 40
    assert report.groups()[0]["rows"] is None  # the whole column, so every row


# -- assert_parity --------------------------------------------------------------------
@pytest.mark.parametrize("artifact", ["classifier_artifact", "regressor_artifact"])
def test_assert_parity_passes_where_serving_answers_as_sklearn(
    request, artifact, good_frame
):
    assert_parity(request.getfixturevalue(artifact), good_frame)


def test_assert_parity_compares_only_the_rows_that_pass_the_contract(
    classifier_artifact, bad_frame
):
    assert_parity(classifier_artifact, bad_frame)
    report = check_parity(classifier_artifact, bad_frame)
    assert (report.status, report.rows, report.labels_agreeing) == ("passed", 37, 37)


def test_assert_parity_message_shows_the_worst_rows_with_their_inputs(
    skewed_artifact, good_frame
):
    with pytest.raises(AssertionError) as info:
        assert_parity(skewed_artifact, good_frame)
    head, *worst = str(info.value).splitlines()
    assert head.startswith(
        "scikit-learn and serving disagree on 40 of 40 rows for 'credit' v3 "
        "(40 rows compared, 0 of 40 labels agree, max |Δp| "
    )
    assert head.endswith("(tolerance 1e-05)). Worst rows:")
    assert len(worst) == 5
    assert all(re.match(r"  row \d+ \{'x': ", line) for line in worst)
    assert all(line.endswith("(labels differ)") for line in worst)


def test_assert_parity_fails_when_no_row_can_be_compared(
    classifier_artifact, good_frame
):
    with pytest.raises(
        AssertionError,
        match=r"^Nothing to compare for 'credit' v3: no row passes the contract\.",
    ):
        assert_parity(classifier_artifact, good_frame.assign(c="zzz"))


def test_assert_parity_needs_pipeline_joblib(lean_artifact, good_frame):
    with pytest.raises(
        fk.ArtifactError,
        match=r"exported without pipeline\.joblib; export it with save_pipeline=True",
    ):
        assert_parity(lean_artifact, good_frame)


# -- check_parity ---------------------------------------------------------------------
def test_check_parity_skips_an_artifact_without_pipeline_joblib(
    lean_artifact, good_frame
):
    report = check_parity(lean_artifact, good_frame)
    assert report.ok
    assert report.status == "skipped"
    assert "save_pipeline=False" in report.reason


def test_check_parity_of_a_regressor_uses_the_certificate_scale(
    regressor_artifact, good_frame
):
    report = check_parity(regressor_artifact, good_frame)
    cert = fk.load(regressor_artifact).certificate
    assert report.status == "passed"
    assert (report.tolerance, report.scale) == (cert["tolerance"], cert["scale"])
    assert report.max_rel_diff is not None and report.max_rel_diff <= 1e-5
    assert report.max_abs_diff is not None
    assert report.max_abs_diff <= 1e-5 * max(cert["scale"], 30.0)


def test_check_parity_says_when_the_pipeline_cannot_be_unpickled(
    classifier_artifact, good_frame, tmp_path
):
    path = shutil.copytree(classifier_artifact, tmp_path / "art")
    (path / "pipeline.joblib").write_bytes(b"not a pickle")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["pipeline.joblib"] = hashlib.sha256(b"not a pickle").hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(fk.ArtifactError, match=r"Cannot unpickle pipeline\.joblib"):
        check_parity(path, good_frame)


def test_check_parity_fails_rows_serving_refuses_though_the_contract_accepts_them(
    monkeypatch, classifier_artifact, good_frame
):
    original = Predictor.predict

    def refuse_row_3(self, records, *, on_error="raise"):
        split = original(self, records, on_error=on_error)
        split.passed[3] = False
        split.scores = np.delete(split.scores, 3)
        split.failures = pd.DataFrame(
            [["x", "a_drifted_check", 1.0, split.index[3]]],
            columns=["column", "check", "failure_case", "index"],
        )
        return split

    monkeypatch.setattr(Predictor, "predict", refuse_row_3)
    report = check_parity(classifier_artifact, good_frame)
    assert (report.status, report.rows, report.failing) == ("failed", 40, 1)
    assert report.reason == "serving refused 1 of them"
    assert report.worst[0]["row"] == 3
    assert report.worst[0]["refused_by_serving"] == ["x a_drifted_check"]
    assert "row 3 {'x': " in str(report) and "serving refused it" in str(report)
