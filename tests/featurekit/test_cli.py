"""`featurekit check ARTIFACT DATA`: contract, golden rows and parity, for CI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import onnxruntime as ort
import pytest
from tampering import (
    LeavesAMark,
    alter_model,
    change_initializer,
    pickled,
    replace_file,
)

from featurekit.cli import main

FORMATS = ["csv", "parquet", "jsonl"]


def _check(capsys, *args: object) -> tuple[int, str, str]:
    status = main(["check", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module", params=FORMATS)
def good_file(request, good_frame, write_data) -> Path:
    return write_data(good_frame, f"good.{request.param}")


@pytest.fixture(scope="module", params=FORMATS)
def bad_file(request, bad_frame, write_data) -> Path:
    return write_data(bad_frame, f"bad.{request.param}")


# -- exit 0 ---------------------------------------------------------------------------
def test_check_passes_good_data_with_exit_0(capsys, classifier_artifact, good_file):
    status, out, err = _check(capsys, classifier_artifact, good_file)
    assert status == 0, out + err
    assert "contract: passed, 40 of 40 rows" in out
    assert re.search(r"golden rows: passed, (\d+) of \1 golden rows answer as", out)
    assert f"certified on onnxruntime {ort.__version__}, CPU " in out
    assert "parity: skipped, DATA is not compared with scikit-learn" in out
    assert "only with --trust-pickle" in out
    assert out.rstrip().endswith("result: passed")
    assert err == ""


def test_check_with_trust_pickle_also_compares_the_pipeline_on_the_data(
    capsys, classifier_artifact, good_file
):
    status, out, err = _check(capsys, classifier_artifact, good_file, "--trust-pickle")
    assert status == 0, out + err
    assert "golden rows: passed" in out
    assert "parity: passed, 40 rows compared, 40 of 40 labels agree" in out


def test_check_json_of_good_data_is_one_object_on_stdout(
    capsys, classifier_artifact, good_file
):
    status, out, _ = _check(
        capsys, classifier_artifact, good_file, "--json", "--trust-pickle"
    )
    report = json.loads(out)
    assert status == 0
    assert report["passed"] is True
    assert report["artifact"]["name"] == "credit"
    assert report["artifact"]["version"] == 3
    assert report["data"] == {
        "path": str(good_file),
        "format": good_file.suffix[1:],
        "rows": 40,
    }
    assert report["contract"] == {
        "passed": True,
        "rows": 40,
        "rows_failing": 0,
        "failures": [],
    }
    golden = report["golden"]
    assert (golden["source"], golden["status"], golden["rows_failing"]) == (
        "golden rows",
        "passed",
        0,
    )
    assert golden["rows"] > 40
    parity = report["parity"]
    assert (parity["source"], parity["status"]) == ("data", "passed")
    assert parity["rows"] == parity["labels_agreeing"] == 40
    assert parity["max_abs_diff"] <= parity["tolerance"] == 1e-5


def test_check_regressor_compares_predictions_relative_to_scale(
    capsys, regressor_artifact, good_file
):
    status, out, _ = _check(
        capsys, regressor_artifact, good_file, "--json", "--trust-pickle"
    )
    parity = json.loads(out)["parity"]
    assert status == 0
    assert parity["kind"] == "regressor"
    assert parity["labels_agreeing"] is None
    assert parity["rows"] == 40
    assert parity["max_rel_diff"] <= 1e-5
    assert parity["scale"] > 0


# -- exit 1 ---------------------------------------------------------------------------
def test_check_fails_bad_data_with_exit_1_and_the_failures(
    capsys, classifier_artifact, bad_file
):
    status, out, err = _check(capsys, classifier_artifact, bad_file, "--trust-pickle")
    assert status == 1
    assert err == ""
    assert "contract: FAILED, 3 of 40 rows fail the contract of 'credit' v3" in out
    lines = out.splitlines()
    [x_line] = [ln for ln in lines if "in_range(-10, 10)" in ln]
    assert x_line.split()[0] == "x" and "50.0" in x_line and x_line.endswith(" 2")
    [c_line] = [ln for ln in lines if "isin(" in ln]
    assert c_line.split()[0] == "c" and "'zzz'" in c_line and c_line.endswith(" 5")
    [k_line] = [ln for ln in lines if "dtype('Int64')" in ln]
    assert k_line.split()[0] == "k" and "1.5" in k_line and k_line.endswith(" 7")
    # the 37 rows that pass are still compared
    assert "parity: passed, 37 rows compared, 37 of 37 labels agree" in out
    assert out.rstrip().endswith("result: FAILED (contract)")


def test_check_json_of_bad_data_groups_failures_by_column_and_check(
    capsys, classifier_artifact, bad_file
):
    status, out, _ = _check(
        capsys, classifier_artifact, bad_file, "--json", "--trust-pickle"
    )
    report = json.loads(out)
    assert status == 1
    assert report["passed"] is False
    contract = report["contract"]
    assert (contract["passed"], contract["rows"], contract["rows_failing"]) == (
        False,
        40,
        3,
    )
    groups = {(g["column"], g["check"].split("(")[0]): g for g in contract["failures"]}
    assert groups.keys() == {("x", "in_range"), ("c", "isin"), ("k", "dtype")}
    assert groups["x", "in_range"]["examples"] == [50.0]
    assert groups["x", "in_range"]["rows"] == [2]
    assert groups["c", "isin"]["examples"] == ["zzz"]
    assert groups["k", "dtype"] == {
        "column": "k",
        "check": "dtype('Int64')",
        "count": 1,
        "examples": [1.5],
        "rows": [7],
    }
    assert report["parity"]["rows"] == 37


def test_check_lists_a_few_examples_per_check(
    capsys, classifier_artifact, good_frame, write_data
):
    frame = good_frame.assign(c=[f"new{i}" for i in range(len(good_frame))])
    data = write_data(frame, "data.csv")
    status, out, _ = _check(capsys, classifier_artifact, data, "--json")
    [group] = json.loads(out)["contract"]["failures"]
    assert status == 1
    assert group["count"] == 40
    assert group["examples"] == ["new0", "new1", "new2"]
    assert group["rows"] == [0, 1, 2]


def test_check_missing_column_fails_every_row_and_skips_parity(
    capsys, classifier_artifact, good_frame, write_data
):
    data = write_data(good_frame.drop(columns=["k"]), "data.jsonl")
    status, out, _ = _check(capsys, classifier_artifact, data, "--trust-pickle")
    assert status == 1
    assert "40 of 40 rows fail" in out
    assert "column_in_dataframe" in out and out.count("column_in_dataframe") == 1
    assert "parity: skipped, no row passes the contract" in out


def test_check_fails_with_exit_1_when_serving_and_pipeline_disagree(
    capsys, skewed_artifact, good_file
):
    status, out, _ = _check(capsys, skewed_artifact, good_file, "--trust-pickle")
    assert status == 1
    assert "contract: passed" in out
    assert "golden rows: passed" in out  # the graph is as certified; the pickle is not
    assert "parity: FAILED, 40 of 40 rows disagree" in out
    assert "0 of 40 labels agree" in out
    assert "worst rows:" in out
    assert "(labels differ)" in out
    assert out.rstrip().endswith("result: FAILED (parity)")


def test_check_json_reports_the_worst_rows_with_their_inputs(
    capsys, skewed_artifact, good_frame, write_data
):
    data = write_data(good_frame, "data.parquet")
    status, out, _ = _check(capsys, skewed_artifact, data, "--json", "--trust-pickle")
    parity = json.loads(out)["parity"]
    assert status == 1
    assert parity["status"] == "failed"
    assert parity["rows_failing"] == 40
    assert len(parity["worst"]) == 5
    worst = parity["worst"][0]
    assert worst["label_agrees"] is False
    assert worst["inputs"].keys() == {"x", "k", "c", "plan"}
    assert worst["sklearn"][0] != worst["onnx"][0]


# -- no pipeline.joblib ---------------------------------------------------------------
def test_check_without_pipeline_joblib_skips_parity_and_says_so(
    capsys, lean_artifact, good_file
):
    status, out, _ = _check(capsys, lean_artifact, good_file, "--trust-pickle")
    assert status == 0
    assert (
        "parity: skipped, artifact 'credit' v3 was exported without pipeline.joblib"
        in out
    )


def test_check_json_without_pipeline_joblib_says_skipped(
    capsys, lean_artifact, bad_file
):
    status, out, _ = _check(capsys, lean_artifact, bad_file, "--json", "--trust-pickle")
    report = json.loads(out)
    assert status == 1  # the contract still fails
    assert report["parity"]["status"] == "skipped"
    assert "pipeline.joblib" in report["parity"]["reason"]


# -- reading files --------------------------------------------------------------------
def test_csv_keeps_code_like_categories_as_strings(
    capsys, classifier_artifact, tmp_path
):
    data = tmp_path / "codes.csv"
    data.write_text("x,k,c,plan\n0.5,3,a,01\n,4,,10\n-1.25,0,b,NA\n")
    status, out, _ = _check(capsys, classifier_artifact, data, "--json")
    [failure] = json.loads(out)["contract"]["failures"]
    assert status == 1
    # "01" and "10" are known codes; "NA" is an unknown one, not a missing value
    assert failure["column"] == "plan"
    assert failure["check"].startswith("isin(")
    assert failure["examples"] == ["NA"]
    assert failure["rows"] == [2]


def test_csv_reports_only_the_cells_of_a_numeric_column_that_are_not_numbers(
    capsys, classifier_artifact, tmp_path
):
    data = tmp_path / "text.csv"
    data.write_text("x,k,c,plan\n0.5,3,a,01\nabc,4,b,02\n1e-3,5,c,10\nNaN,6,a,01\n")
    status, out, _ = _check(
        capsys, classifier_artifact, data, "--json", "--trust-pickle"
    )
    report = json.loads(out)
    assert status == 1
    assert report["contract"]["rows_failing"] == 1
    [failure] = report["contract"]["failures"]
    assert failure == {
        "column": "x",
        "check": "dtype('float64')",
        "count": 1,
        "examples": ["abc"],
        "rows": [1],
    }
    assert report["parity"]["rows"] == 3


def test_jsonl_keeps_json_types_so_a_quoted_number_is_refused(
    capsys, classifier_artifact, tmp_path
):
    data = tmp_path / "typed.jsonl"
    rows = [
        {"x": 0.5, "k": 3, "c": "a", "plan": "01"},
        {"x": "0.5", "k": 3, "c": "a", "plan": "01"},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    status, out, _ = _check(capsys, classifier_artifact, data, "--json")
    [failure] = json.loads(out)["contract"]["failures"]
    assert status == 1
    assert (failure["column"], failure["examples"], failure["rows"]) == (
        "x",
        ["0.5"],
        [1],
    )


def test_check_reads_a_parquet_dataset_directory(
    capsys, classifier_artifact, good_frame, tmp_path
):
    data = tmp_path / "dataset.parquet"
    data.mkdir()
    good_frame.iloc[:25].to_parquet(data / "part-0.parquet", index=False)
    good_frame.iloc[25:].to_parquet(data / "part-1.parquet", index=False)
    status, out, _ = _check(capsys, classifier_artifact, data, "--json")
    assert status == 0
    assert json.loads(out)["data"]["rows"] == 40


def test_json_spells_infinity_as_a_string(capsys, classifier_artifact, tmp_path):
    data = tmp_path / "inf.csv"
    data.write_text("x,k,c,plan\ninf,3,a,01\n")
    status, out, _ = _check(capsys, classifier_artifact, data, "--json")
    report = json.loads(out)  # strict JSON: no bare Infinity
    assert status == 1
    assert {tuple(g["examples"]) for g in report["contract"]["failures"]} == {("inf",)}


# -- exit 2 ---------------------------------------------------------------------------
def _one_line_error(err: str) -> str:
    assert "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith("featurekit check: error: ")
    return line


def test_tampered_artifact_exits_2_with_the_artifact_error(
    capsys, tampered_artifact, good_frame, write_data
):
    data = write_data(good_frame, "data.csv")
    status, out, err = _check(capsys, tampered_artifact, data)
    assert status == 2
    assert out == ""
    line = _one_line_error(err)
    assert "was modified: sha256 of 'model.onnx'" in line
    assert "Re-export it." in line


@pytest.mark.parametrize(
    ("artifact", "data", "message"),
    [
        ("{tmp}/nowhere", "{good}", "No artifact at '{tmp}/nowhere': not a directory."),
        ("{tmp}", "{good}", "has no manifest.json; it is not a featurekit artifact"),
        ("{art}", "{tmp}/missing.csv", "No data file at '{tmp}/missing.csv'."),
        ("{art}", "{tmp}/data.xlsx", "expected a .csv, .parquet or .jsonl file"),
        ("{art}", "{tmp}/garbage.jsonl", "Cannot read '{tmp}/garbage.jsonl' as jsonl"),
        ("{art}", "{tmp}/garbage.parquet", "as parquet"),
        ("{art}", "{tmp}/empty.csv", "Cannot read '{tmp}/empty.csv' as csv"),
        ("{art}", "{tmp}/header.csv", "has no rows; there is nothing to check."),
    ],
    ids=[
        "no-artifact",
        "not-an-artifact",
        "no-data",
        "unknown-suffix",
        "bad-jsonl",
        "bad-parquet",
        "empty-csv",
        "no-rows",
    ],
)
def test_usage_errors_exit_2_with_one_line_on_stderr(
    capsys,
    classifier_artifact,
    good_frame,
    write_data,
    tmp_path,
    artifact,
    data,
    message,
):
    good = write_data(good_frame, "good.csv")
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    (tmp_path / "garbage.jsonl").write_text("{not json\n")
    (tmp_path / "garbage.parquet").write_text("x,k\n1,2\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("x,k,c,plan\n")
    names = {"tmp": tmp_path, "good": good, "art": classifier_artifact}
    status, out, err = _check(
        capsys, artifact.format(**names), data.format(**names), "--json"
    )
    assert status == 2
    assert out == ""
    assert message.format(**names) in _one_line_error(err)


def test_parquet_without_pyarrow_says_how_to_install_it(
    capsys, monkeypatch, classifier_artifact, good_frame, write_data
):
    data = write_data(good_frame, "data.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    status, _, err = _check(capsys, classifier_artifact, data)
    assert status == 2
    assert _one_line_error(err).endswith(
        "needs pyarrow, which is not installed: pip install pyarrow"
    )


def test_bad_arguments_exit_2_with_usage(capsys):
    assert main(["check", "only-one-argument"]) == 2
    assert "usage: featurekit check" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "check" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert main(["check", "--help"]) == 0
    assert "--json" in capsys.readouterr().out


def test_help_says_why_trust_pickle_is_explicit(capsys):
    assert main(["check", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--trust-pickle" in help_text
    assert "Unpickling runs any code the file holds" in help_text
    assert "never in CI for an artifact from an untrusted pull request" in help_text


# -- the real command -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "tamper", "status"),
    [("good.csv", False, 0), ("bad.jsonl", False, 1), ("good.parquet", True, 2)],
    ids=["good-csv", "bad-jsonl", "tampered"],
)
def test_python_m_featurekit_check_in_a_subprocess(
    classifier_artifact,
    good_frame,
    bad_frame,
    write_data,
    tmp_path,
    data,
    tamper,
    status,
):
    artifact = classifier_artifact
    if tamper:
        artifact = Path(shutil.copytree(artifact, tmp_path / "art"))
        (artifact / "features.json").write_text("{}")
    frame = bad_frame if data.startswith("bad") else good_frame
    path = write_data(frame, data)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "featurekit",
            "check",
            str(artifact),
            str(path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == status, result.stderr
    if status == 2:
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        assert "was modified: sha256 of 'features.json'" in result.stderr
    else:
        assert json.loads(result.stdout)["passed"] is (status == 0)


def test_console_script_is_featurekit_cli_main():
    [script] = entry_points(group="console_scripts", name="featurekit")
    assert script.value == "featurekit.cli:main"


# -- golden rows and pickles ----------------------------------------------------------
@pytest.fixture(scope="module")
def good_csv(good_frame, write_data) -> Path:
    return write_data(good_frame, "good.csv")


@pytest.fixture
def hostile_artifact(classifier_artifact, tmp_path) -> tuple[Path, Path]:
    path = Path(shutil.copytree(classifier_artifact, tmp_path / "hostile"))
    mark = tmp_path / "pwned.txt"
    replace_file(path, "pipeline.joblib", pickled(LeavesAMark(mark)))
    return path, mark


def test_check_never_unpickles_without_trust_pickle(capsys, hostile_artifact, good_csv):
    path, mark = hostile_artifact
    status, out, err = _check(capsys, path, good_csv, "--json")
    assert not mark.exists()  # the pickle's code did not run
    report = json.loads(out)
    assert status == 0, err
    assert report["golden"]["status"] == "passed"  # parity from the golden rows
    assert report["parity"]["status"] == "skipped"


def test_the_hostile_pickle_really_runs_code_when_trusted(
    capsys, hostile_artifact, good_csv
):
    # guards the test above against passing vacuously
    path, mark = hostile_artifact
    status, _, err = _check(capsys, path, good_csv, "--trust-pickle")
    assert mark.read_text() == "pwned"
    assert status == 2
    assert "not the fitted Pipeline that fk.make_pipeline builds" in err


def test_trust_pickle_on_a_joblib_without_a_pipeline_exits_2_with_a_message(
    capsys, classifier_artifact, good_csv, tmp_path
):
    path = Path(shutil.copytree(classifier_artifact, tmp_path / "art"))
    replace_file(path, "pipeline.joblib", pickled({"model": "not a pipeline"}))
    status, out, err = _check(capsys, path, good_csv, "--trust-pickle")
    assert status == 2
    assert out == ""
    line = _one_line_error(err)
    assert "pipeline.joblib of " in line
    assert "holds a builtins.dict, not the fitted Pipeline" in line
    assert "Re-export the artifact with save_pipeline=True." in line


def test_trust_pickle_on_a_joblib_that_does_not_unpickle_exits_2(
    capsys, classifier_artifact, good_csv, tmp_path
):
    path = Path(shutil.copytree(classifier_artifact, tmp_path / "art"))
    replace_file(path, "pipeline.joblib", b"not a pickle")
    status, _, err = _check(capsys, path, good_csv, "--trust-pickle")
    assert status == 2
    assert "Cannot unpickle pipeline.joblib" in _one_line_error(err)


@pytest.fixture
def altered_artifact(classifier_artifact, tmp_path) -> Path:
    """model.onnx with a coefficient changed after export, its hash rewritten."""
    path = Path(shutil.copytree(classifier_artifact, tmp_path / "altered"))
    alter_model(path, change_initializer("coef", lambda coef: coef + 0.5))
    return path


def test_check_fails_with_exit_1_when_golden_rows_answer_otherwise(
    capsys, altered_artifact, good_csv
):
    status, out, err = _check(capsys, altered_artifact, good_csv)
    assert status == 1, err
    assert re.search(r"golden rows: FAILED, \d+ of \d+ golden rows answer", out)
    assert re.search(r"first differing row:\n    golden row \d+ \(", out)
    assert f"onnxruntime {ort.__version__}" in out and "numpy SIMD" in out
    assert out.rstrip().endswith("result: FAILED (golden rows)")


def test_check_json_reports_the_first_differing_golden_row(
    capsys, altered_artifact, good_csv
):
    status, out, _ = _check(capsys, altered_artifact, good_csv, "--json")
    golden = json.loads(out)["golden"]
    assert status == 1
    assert golden["status"] == "failed"
    assert 0 < golden["rows_failing"] <= golden["rows"]
    [first] = golden["worst"]
    assert first["inputs"].keys() == {"x", "k", "c", "plan"}
    assert any("tolerance" in d or "label" in d for d in first["differences"])
