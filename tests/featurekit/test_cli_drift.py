"""`featurekit drift ARTIFACT DATA`: a data file, read in chunks, tested for drift."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

import featurekit as fk
from featurekit.cli import files as cli_files
from featurekit.cli import main
from featurekit.detection import Drift

FORMATS = ["csv", "parquet", "jsonl"]
ROWS = 300


def _drift(capsys, *args: object) -> tuple[int, str, str]:
    status = main(["drift", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def steady_frame(check_train) -> pd.DataFrame:
    """Resampled from the reference rows: nothing drifts."""
    return check_train[0].sample(ROWS, replace=True, random_state=1, ignore_index=True)


@pytest.fixture(scope="module")
def shifted_frame(steady_frame) -> pd.DataFrame:
    """x moved by 2 standard deviations; k, c and plan as in the reference."""
    return steady_frame.assign(x=steady_frame["x"] + 2)


@pytest.fixture(scope="module")
def steady_csv(steady_frame, write_data):
    return write_data(steady_frame, "steady.csv")


@pytest.fixture(scope="module")
def shifted_csv(shifted_frame, write_data):
    return write_data(shifted_frame, "shifted.csv")


def _assert_same(got: dict, want: dict) -> None:
    """Two reports agree: verdicts and counts exactly, statistics to 1e-9."""
    assert (got["verdict"], got["rows"]) == (want["verdict"], want["rows"])
    assert [f["feature"] for f in got["features"]] == [
        f["feature"] for f in want["features"]
    ]
    for g, w in zip(got["features"], want["features"], strict=True):
        for key in ("verdict", "signals", "rows", "missing_current", "unseen_rate"):
            assert g[key] == w[key], (g["feature"], key)
        for key in ("effect", "threshold", "p_value", "p_adjusted"):
            assert g[key] == pytest.approx(w[key], rel=1e-9), (g["feature"], key)
    for g, w in zip(got["histograms"], want["histograms"], strict=True):
        assert g["labels"] == w["labels"]
        assert g["current"] == pytest.approx(w["current"], abs=1e-12)


@pytest.fixture(scope="module")
def shifted_report(classifier_artifact, shifted_frame) -> dict:
    """The one-shot report of the whole shifted frame, to compare chunked runs with."""
    return fk.drift(classifier_artifact, shifted_frame).to_dict()


# -- exit status ----------------------------------------------------------------------
def test_drift_exits_0_and_prints_the_table_when_nothing_drifted(
    capsys, classifier_artifact, steady_csv
):
    status, out, err = _drift(capsys, classifier_artifact, steady_csv)
    assert status == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("artifact: 'credit' v3 (sha256 ")
    assert (
        lines[1]
        == f"data: {str(steady_csv)!r} (csv), 300 rows against 120 reference rows"
    )
    assert re.split(r"\s{2,}", lines[2]) == [
        "feature",
        "verdict",
        "signals",
        "effect / threshold",
        "p / adjusted p",
        "missing ref -> cur",
        "unseen",
    ]  # the HTML page adds the detectable shift
    assert [line.split()[:2] for line in lines[3:10]] == [
        [name, "ok"]
        for name in (
            "x",
            "k",
            "c",
            "plan",
            "output:label",
            "output:score",
            "(multivariate)",
        )
    ]
    assert lines[10:] == ["result: no drift"]
    assert err == ""


def test_drift_exits_1_and_names_the_drifted_features(
    capsys, classifier_artifact, shifted_csv
):
    status, out, err = _drift(capsys, classifier_artifact, shifted_csv)
    assert status == 1, out + err
    row = next(line.split() for line in out.splitlines() if line.startswith("x "))
    assert row[1:3] == ["drift", "distribution"]
    assert out.splitlines()[-1] == (
        "result: drift in 3 of 7 (x, output:label, output:score)"
    )


def test_drift_without_outputs_tests_the_inputs_only(
    capsys, classifier_artifact, shifted_csv
):
    status, out, _ = _drift(
        capsys, classifier_artifact, shifted_csv, "--no-outputs", "--json"
    )
    report = json.loads(out)
    assert status == 1
    assert [f["feature"] for f in report["features"]] == [
        *("x", "k", "c", "plan"),
        "(multivariate)",  # the inputs together
    ]
    assert [h["feature"] for h in report["histograms"]] == ["x", "k", "c", "plan"]


@pytest.fixture(scope="module")
def unprofiled_artifact(classifier_artifact, tmp_path_factory) -> Path:
    """As exported before featurekit profiled reference data: no profile.json."""
    path = Path(
        shutil.copytree(classifier_artifact, tmp_path_factory.mktemp("old") / "a")
    )
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["files"]["profile.json"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "profile.json").unlink()
    return path


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("no such data", r"No data file at '.*nope\.csv'\.$"),
        (
            "unknown format",
            r"Cannot tell the format of '.*data\.txt': expected a \.csv",
        ),
        ("no rows", r"'.*empty\.csv' has no rows; there is nothing to test\.$"),
        ("not parquet", r"Cannot read '.*junk\.parquet' as parquet: "),
        ("not an artifact", r"No artifact at '.*nowhere': not a directory\.$"),
        ("no profile", r"has no profile\.json .* re-export it to monitor drift\.$"),
    ],
)
def test_drift_reports_a_usage_error_on_one_line_with_exit_2(
    capsys, classifier_artifact, unprofiled_artifact, steady_csv, tmp_path, case, match
):
    artifact, data = classifier_artifact, steady_csv
    if case == "no such data":
        data = tmp_path / "nope.csv"
    elif case == "unknown format":
        data = tmp_path / "data.txt"
        data.write_text("x\n1\n")
    elif case == "no rows":
        data = tmp_path / "empty.csv"
        data.write_text("x,k,c,plan\n")
    elif case == "not parquet":
        data = tmp_path / "junk.parquet"
        data.write_bytes(b"not a parquet file")
    elif case == "not an artifact":
        artifact = tmp_path / "nowhere"
    else:
        artifact = unprofiled_artifact
    status, out, err = _drift(capsys, artifact, data)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("featurekit drift: error: ")
    assert re.search(match, err.rstrip("\n")), err


# -- output ---------------------------------------------------------------------------
def test_drift_json_is_the_report_as_one_object(
    capsys, classifier_artifact, shifted_csv, shifted_report
):
    status, out, _ = _drift(capsys, classifier_artifact, shifted_csv, "--json")
    report = json.loads(out)
    assert status == 1
    assert report["verdict"] == "drift" and report["drifted"] is True
    assert report["model"]["name"] == "credit" and report["model"]["version"] == 3
    assert report["rows"] == ROWS and report["reference_rows"] == 120
    _assert_same(report, shifted_report)


def test_drift_html_writes_the_report_page(
    capsys, classifier_artifact, shifted_csv, tmp_path
):
    page = tmp_path / "drift.html"
    status, out, _ = _drift(capsys, classifier_artifact, shifted_csv, "--html", page)
    text = page.read_text(encoding="utf-8")
    assert status == 1
    assert out.splitlines()[-1].startswith("result: drift")  # the table still prints
    assert text.startswith("<!DOCTYPE html>")
    assert text.count('<section class="plot') == 6
    assert text.count('<section class="plot drift"') == 3


def test_drift_html_to_an_unwritable_path_is_a_usage_error(
    capsys, classifier_artifact, steady_csv, tmp_path
):
    page = tmp_path / "no" / "such" / "dir.html"
    status, out, err = _drift(capsys, classifier_artifact, steady_csv, "--html", page)
    assert status == 2
    assert out == ""
    assert err.startswith(f"featurekit drift: error: Cannot write {str(page)!r}: ")


# -- reading in chunks ----------------------------------------------------------------
@pytest.fixture
def adds(monkeypatch) -> list[int]:
    """Rows of each `Drift.add` call."""
    sizes: list[int] = []
    add = Drift.add

    def counted(self: Drift, frame: pd.DataFrame) -> Drift:
        sizes.append(len(frame))
        return add(self, frame)

    monkeypatch.setattr(Drift, "add", counted)
    return sizes


@pytest.mark.parametrize("fmt", FORMATS)
def test_drift_in_chunks_equals_drift_of_the_whole_frame(
    capsys, classifier_artifact, shifted_frame, shifted_report, write_data, adds, fmt
):
    data = write_data(shifted_frame, f"shifted.{fmt}")
    status, out, _ = _drift(
        capsys, classifier_artifact, data, "--json", "--chunk-rows", 7
    )
    assert status == 1
    assert adds == [7] * (ROWS // 7) + [ROWS % 7]
    _assert_same(json.loads(out), shifted_report)


def test_drift_reads_a_directory_of_parquet_files_as_one_dataset(
    capsys, classifier_artifact, shifted_frame, shifted_report, tmp_path, adds
):
    data = tmp_path / "shifted.parquet"
    data.mkdir()
    shifted_frame.iloc[:100].to_parquet(data / "part-0.parquet", index=False)
    shifted_frame.iloc[100:].to_parquet(data / "part-1.parquet", index=False)
    status, out, _ = _drift(capsys, classifier_artifact, data, "--json")
    assert status == 1
    assert sorted(adds) == [100, 200]
    _assert_same(json.loads(out), shifted_report)


def test_drift_keeps_csv_codes_as_strings_in_every_chunk(
    capsys, classifier_artifact, steady_frame, write_data
):
    # chunks where every code looks like a number: "01" must not become 1
    frame = steady_frame.sort_values("plan", ignore_index=True)
    data = write_data(frame, "codes.csv")
    status, out, _ = _drift(
        capsys, classifier_artifact, data, "--json", "--chunk-rows", 50
    )
    plan = next(f for f in json.loads(out)["features"] if f["feature"] == "plan")
    assert status == 0
    assert plan["unseen_rate"] == 0.0
    assert plan["verdict"] == "ok"


def test_drift_shows_progress_on_stderr_for_a_large_file(
    capsys, classifier_artifact, steady_csv, monkeypatch
):
    monkeypatch.setattr(cli_files, "PROGRESS_BYTES", 0)  # every file counts as large
    status, out, err = _drift(capsys, classifier_artifact, steady_csv, "--json")
    size = steady_csv.stat().st_size / 2**20
    assert status == 0
    assert json.loads(out)["rows"] == ROWS  # stdout stays clean
    assert err.startswith("\rreading [")
    assert err.endswith(f"] 100% {size:.1f} of {size:.1f} MB\n")
