"""Long exports report their phases: through `progress=`, and on stderr."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.exporting import progress, tree_probes
from featurekit.exporting.progress import Progress, Reporter

FEATURES = fk.FeatureSet(
    "progress",
    [
        fk.Numeric("x", impute="median", scale="standard"),
        fk.Numeric("k", dtype="int", clip=(0, 30)),
        fk.Categorical("c", impute="most_frequent", unknown="ignore"),
    ],
)


def _fitted(model: object) -> tuple[object, pd.DataFrame]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=300),
            "k": rng.integers(0, 30, 300),
            "c": rng.choice(["a", "b", "c"], 300),
        }
    )
    y = ((frame["x"] > 0) ^ (frame["c"] == "a")).astype(int)
    return fk.make_pipeline(FEATURES, model).fit(frame, y), frame


@pytest.fixture(scope="module")
def forest() -> tuple[object, pd.DataFrame]:
    return _fitted(RandomForestClassifier(n_estimators=12, random_state=0))


def test_an_export_reports_its_phases_through_the_callback_in_order(
    forest, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(tree_probes, "GROUP_NODES", 50)  # a big forest's many groups
    pipe, frame = forest
    events: list[Progress] = []

    art = fk.export(pipe, tmp_path / "a", reference=frame, progress=events.append)

    phases = list(dict.fromkeys(e.phase for e in events))
    assert phases == ["compile", "certify", "golden", "write"]
    for phase in phases:
        mine = [e for e in events if e.phase == phase]
        assert mine[0].done == 0
        assert mine[-1].done == mine[-1].total  # every phase ends done
        assert [e.done for e in mine] == sorted(e.done for e in mine)
    certify = [e for e in events if e.phase == "certify"]
    assert certify[0].unit == "splits"
    assert certify[-1].total == art.certificate["checks"]["trees"]["splits"]
    assert len(certify) > 2  # splits done / total while it runs, not only the ends
    elapsed = [e.elapsed for e in events]
    assert elapsed == sorted(elapsed)


def test_an_export_reports_rows_for_models_not_probed_tree_by_tree(
    tmp_path: Path,
) -> None:
    pipe, frame = _fitted(LogisticRegression())
    events: list[Progress] = []

    fk.export(pipe, tmp_path / "a", reference=frame, progress=events.append)

    certify = [e for e in events if e.phase == "certify"]
    assert certify[0].unit == "rows"
    assert certify[-1].done == certify[-1].total > len(frame)


def test_a_long_export_prints_its_phases_on_stderr(
    forest, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setattr(progress, "QUIET", 0.0)  # every export counts as long
    pipe, frame = forest

    fk.export(pipe, tmp_path / "a", reference=frame)  # progress=True by default

    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("featurekit: compile started (")
    assert any(
        line.startswith("featurekit: certify started, 0 / ") and "splits" in line
        for line in lines
    )
    assert lines[-1].startswith("featurekit: write done, 2 / 2 steps (")
    assert "\r" not in err  # stderr is not a terminal here: lines, no bar


def test_progress_false_prints_nothing(
    forest, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setattr(progress, "QUIET", 0.0)
    pipe, frame = forest

    fk.export(pipe, tmp_path / "a", reference=frame, progress=False)

    assert capsys.readouterr().err == ""


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_shown_within_the_first_seconds() -> None:
    clock, out = _Clock(), io.StringIO()
    report = Reporter(True, stream=out, clock=clock)

    report.phase("compile")
    clock.now = progress.QUIET - 0.1
    report.phase("certify", total=10, unit="splits")
    report.advance(10)
    report.finish()

    assert out.getvalue() == ""


def test_plain_lines_come_at_phase_changes_and_at_most_every_few_seconds() -> None:
    clock, out = _Clock(), io.StringIO()
    report = Reporter(True, stream=out, clock=clock)
    clock.now = 10.0

    report.phase("certify", total=1000, unit="splits")
    for _ in range(9):  # 9 advances within one LINE_EVERY: no line
        clock.now += progress.LINE_EVERY / 10
        report.advance(10)
    clock.now += progress.LINE_EVERY
    report.advance(10)
    report.phase("write")
    report.finish()

    assert out.getvalue().splitlines() == [
        "featurekit: certify started, 0 / 1,000 splits (10.0 s)",
        "featurekit: certify 10%, 100 / 1,000 splits (19.5 s)",
        "featurekit: certify done, 1,000 / 1,000 splits (19.5 s)",
        "featurekit: write started (19.5 s)",
        "featurekit: write done (19.5 s)",
    ]


def test_a_terminal_gets_one_bar_redrawn_in_place_per_phase() -> None:
    clock, out = _Clock(), _Terminal()
    report = Reporter(True, stream=out, clock=clock)
    clock.now = 5.0

    report.phase("certify", total=4, unit="splits")
    for _ in range(4):
        clock.now += 1.0
        report.advance(1)
    report.finish()

    text = out.getvalue()
    assert text.count("\n") == 1  # one line per phase, ended when it is done
    frames = text.rstrip("\n").split("\r")[1:]
    assert frames[0].startswith("certify  [------------------------] 0 / 4 splits")
    assert frames[-1].startswith("certify  [########################] 4 / 4 splits")


def test_a_callback_that_is_not_callable_is_refused() -> None:
    with pytest.raises(TypeError, match=r"progress must be True, False or a callable"):
        Reporter("yes")  # type: ignore[arg-type]


def test_a_long_check_prints_its_phases_on_stderr(
    forest, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    from featurekit.cli import main

    pipe, frame = forest
    fk.export(pipe, tmp_path / "a", reference=frame, progress=False)
    frame.to_csv(tmp_path / "data.csv", index=False)
    monkeypatch.setattr(progress, "QUIET", 0.0)

    status = main(["check", str(tmp_path / "a"), str(tmp_path / "data.csv")])

    out, err = capsys.readouterr()
    assert status == 0
    assert "result: passed" in out  # the report on stdout, progress on stderr
    phases = [line.split()[1] for line in err.splitlines()]
    assert list(dict.fromkeys(phases)) == ["read", "contract", "golden"]
    assert err.splitlines()[-1].startswith("featurekit: golden done (")
