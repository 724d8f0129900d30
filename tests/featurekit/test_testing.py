"""`featurekit.testing`: pytest helpers for a team's own CI."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tampering import (
    LeavesAMark,
    alter_model,
    change_initializer,
    pickled,
    replace_file,
)

import featurekit as fk
from featurekit.contract.columns import Columns
from featurekit.testing import (
    assert_contract,
    assert_parity,
    check_contract,
    check_golden,
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


def test_check_contract_refuses_a_record_without_a_key_as_serving_does(
    classifier_artifact, good_frame
):
    records = _records(good_frame.iloc[:3])
    column = next(iter(records[1]))
    del records[1][column]
    report = check_contract(classifier_artifact, records)
    assert report.passed.tolist() == [True, False, True]
    assert report.failures[["column", "check", "index"]].values.tolist() == [
        [column, "column_in_dataframe", 1]
    ]


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
    assert_parity(request.getfixturevalue(artifact), good_frame, trust_pickle=True)


def test_assert_parity_compares_only_the_rows_that_pass_the_contract(
    classifier_artifact, bad_frame
):
    assert_parity(classifier_artifact, bad_frame, trust_pickle=True)
    report = check_parity(classifier_artifact, bad_frame, trust_pickle=True)
    assert (report.status, report.rows, report.labels_agreeing) == ("passed", 37, 37)


def test_assert_parity_message_shows_the_worst_rows_with_their_inputs(
    skewed_artifact, good_frame
):
    with pytest.raises(AssertionError) as info:
        assert_parity(skewed_artifact, good_frame, trust_pickle=True)
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
        assert_parity(
            classifier_artifact, good_frame.assign(c="zzz"), trust_pickle=True
        )


def test_assert_parity_needs_pipeline_joblib(lean_artifact, good_frame):
    with pytest.raises(
        fk.ArtifactError,
        match=r"exported without pipeline\.joblib; export it with save_pipeline=True",
    ):
        assert_parity(lean_artifact, good_frame, trust_pickle=True)


# -- check_parity ---------------------------------------------------------------------
def test_check_parity_skips_an_artifact_without_pipeline_joblib(
    lean_artifact, good_frame
):
    report = check_parity(lean_artifact, good_frame, trust_pickle=True)
    assert report.ok
    assert report.status == "skipped"
    assert "save_pipeline=False" in report.reason


def test_check_parity_of_a_regressor_uses_the_certificate_scale(
    regressor_artifact, good_frame
):
    report = check_parity(regressor_artifact, good_frame, trust_pickle=True)
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
        check_parity(path, good_frame, trust_pickle=True)


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
    report = check_parity(classifier_artifact, good_frame, trust_pickle=True)
    assert (report.status, report.rows, report.failing) == ("failed", 40, 1)
    assert report.reason == "serving refused 1 of them"
    assert report.worst[0]["row"] == 3
    assert report.worst[0]["refused_by_serving"] == ["x a_drifted_check"]
    assert "row 3 {'x': " in str(report) and "serving refused it" in str(report)


# -- golden rows and trust_pickle -----------------------------------------------------
@pytest.fixture
def hostile_artifact(classifier_artifact, tmp_path) -> tuple[Path, Path]:
    """pipeline.joblib replaced by a pickle that writes a file, its hash rewritten."""
    path = Path(shutil.copytree(classifier_artifact, tmp_path / "hostile"))
    mark = tmp_path / "pwned.txt"
    replace_file(path, "pipeline.joblib", pickled(LeavesAMark(mark)))
    return path, mark


@pytest.fixture
def altered_artifact(classifier_artifact, tmp_path) -> Path:
    path = Path(shutil.copytree(classifier_artifact, tmp_path / "altered"))
    alter_model(path, change_initializer("coef", lambda coef: coef + 0.5))
    return path


def test_check_parity_without_trust_compares_the_golden_rows(
    classifier_artifact, good_frame
):
    report = check_parity(classifier_artifact, good_frame)
    golden = fk.load(classifier_artifact).golden
    assert (report.source, report.status, report.failing) == (
        "golden rows",
        "passed",
        0,
    )
    assert report.rows == len(golden)
    assert str(report).startswith(
        f"golden rows: passed, {len(golden)} of {len(golden)}"
    )


def test_check_golden_equals_check_parity_without_trust(classifier_artifact):
    assert check_golden(classifier_artifact) == check_parity(classifier_artifact, None)


def test_check_parity_and_assert_parity_never_unpickle_without_trust(
    hostile_artifact, good_frame
):
    path, mark = hostile_artifact
    assert check_parity(path, good_frame).status == "passed"
    assert_parity(path, good_frame)
    assert not mark.exists()


def test_assert_parity_with_trust_unpickles_and_refuses_what_is_no_pipeline(
    hostile_artifact, good_frame
):
    path, mark = hostile_artifact
    with pytest.raises(fk.ArtifactError, match=r"holds a builtins\.NoneType, not the"):
        assert_parity(path, good_frame, trust_pickle=True)
    assert mark.exists()  # the hostile pickle ran: why trust must be explicit


@pytest.mark.parametrize("trust_pickle", [False, True])
def test_assert_parity_fails_on_golden_rows_answering_otherwise(
    altered_artifact, good_frame, trust_pickle
):
    with pytest.raises(AssertionError) as info:
        assert_parity(altered_artifact, good_frame, trust_pickle=trust_pickle)
    message = str(info.value)
    assert re.match(
        r"'credit' v3 fails its golden rows on this machine: \d+ of \d+ rows answer "
        r"otherwise than certified, on onnxruntime ",
        message,
    )
    assert re.search(r"First:\n  golden row \d+ \(.+\) \{'x': ", message)
    assert "numpy SIMD" in message


def test_check_golden_reports_the_first_differing_row(altered_artifact):
    report = check_golden(altered_artifact)
    assert (report.status, report.ok) == ("failed", False)
    [first] = report.worst
    assert set(first) == {"row", "index", "inputs", "differences"}
    assert "first differing row:\n    golden row " in str(report)


def test_an_artifact_without_golden_rows_skips_them_and_says_why(
    classifier_artifact, good_frame, tmp_path
):
    path = Path(shutil.copytree(classifier_artifact, tmp_path / "old"))
    (path / "golden.json").unlink()
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["files"]["golden.json"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    report = check_golden(path)
    assert (report.status, report.ok) == ("skipped", True)
    assert "exported before featurekit stored golden rows" in report.reason
    with pytest.raises(AssertionError, match=r"or pass trust_pickle=True to compare"):
        assert_parity(path, good_frame)
    assert_parity(path, good_frame, trust_pickle=True)  # the pipeline still can


def test_a_failing_assert_contract_shows_the_report_not_the_helpers_source(
    classifier_artifact, bad_frame, tmp_path
):
    bad = tmp_path / "bad.csv"
    bad_frame.to_csv(bad, index=False)
    test = tmp_path / "test_user.py"
    test.write_text(
        "import pandas as pd\n"
        "from featurekit.testing import assert_contract\n\n"
        "def test_data():\n"
        f"    assert_contract({str(classifier_artifact)!r}, pd.read_csv({str(bad)!r}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert "fail the contract of" in run.stdout
    assert "Assert that every row of `data` passes" not in run.stdout  # the docstring
    assert "report = check_contract(artifact, data)" not in run.stdout
