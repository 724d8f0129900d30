"""The comparison's HTML page: offline, escaped, and read back from a real headless chromium."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from tests.featurekit.test_report import _chromium

# a model name and a category that would run script if they reached the page raw
NAME = 'm<\\title><script>document.body.dataset.injected="1"<\\script>'
CATEGORY = '<img src=x onerror="document.body.dataset.injected=2">&co'
FEATURES = fk.FeatureSet(
    NAME, [fk.Numeric("x", scale="standard"), fk.Categorical("plan", unknown="ignore")]
)


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"x": rng.normal(size=n), "plan": rng.choice(["basic", CATEGORY], n)}
    )
    return X, (X["x"] + rng.normal(0, 0.7, n) > 0).astype(int).to_numpy()


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare-report")
    X, y = _frame(600, 0)
    good = fk.make_pipeline(FEATURES, LogisticRegression()).fit(X, y)
    bad = fk.make_pipeline(FEATURES, LogisticRegression()).fit(X, 1 - y)
    fk.export(good, root / "good", reference=X)
    fk.export(bad, root / "bad", reference=X)
    Xt, yt = _frame(800, 1)
    got = fk.compare(root / "bad", root / "good", Xt, yt, min_rows=100, margin=0.01)
    assert got.verdict == "promote"
    return got


@pytest.fixture(scope="module")
def dom(comparison, tmp_path_factory, system_tool) -> str:
    system_tool(
        "chromium", "chromium", "the report tests drive a real headless browser"
    )
    page = tmp_path_factory.mktemp("page") / "compare.html"
    comparison.to_html(page)
    return _chromium(page, tmp_path_factory.mktemp("chromium"), "--dump-dom").stdout


def test_render_fetches_nothing_and_runs_no_script(comparison):
    page = comparison.to_html()
    assert "<script" not in page.replace("&lt;script", "")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "default-src 'none'" in page


def test_render_escapes_names_and_categories(comparison):
    page = comparison.to_html()
    assert NAME not in page and CATEGORY not in page
    assert "&lt;img src=x onerror=" in page


def test_browser_shows_the_verdict_and_one_row_per_scope(comparison, dom):
    assert re.search(r'id="verdict">promote</div>', dom)
    body = re.search(r'<table id="tests">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    rows = re.findall(r"<tr ", body)
    assert len(rows) == 1 + len(comparison.slices)
    # every tested row draws its interval, the margin line among them
    assert body.count('<svg class="ci"') == 1 + len(comparison.slices)
    assert 'class="margin"' in body


def test_browser_shows_hostile_names_as_text_and_runs_none_of_them(dom):
    assert "data-injected" not in dom
    assert "plan = &lt;img src=x onerror=" in dom


def test_to_html_writes_the_page(comparison, tmp_path: Path):
    target = tmp_path / "page.html"
    html = comparison.to_html(target)
    assert target.read_text(encoding="utf-8") == html
