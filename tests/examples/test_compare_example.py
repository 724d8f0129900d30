"""Run examples/compare.py end to end, as `make demo` does after examples/train.py."""

from __future__ import annotations

from pathlib import Path

from tests.examples.test_examples import _run


def test_compare_example_keeps_the_worse_and_promotes_the_better(
    tmp_path: Path,
) -> None:
    champion = tmp_path / "credit"
    _run("examples/train.py", "--out", str(champion), "--rows", "1500")
    html = tmp_path / "compare.html"
    out = _run("examples/compare.py", str(champion), "--html", str(html))
    assert "challenger 'hurried' (RandomForestClassifier): keep" in out
    assert "challenger 'logistic' (LogisticRegression): promote" in out
    assert "challenger 'no-premium' (LogisticRegression): keep" in out
    assert "that the champion serves: plan (isin(" in out
    assert "without an outcome 300, compared 5700" in out
    assert html.read_text().startswith("<!DOCTYPE html>")
