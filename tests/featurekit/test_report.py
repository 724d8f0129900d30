"""The HTML drift report: rendered offline, escaped, and drawn by a real headless chromium.

The browser tests load a real report from file:// in Debian's chromium (`.ci/run`
installs it) and read back the DOM the page's script built, and a screenshot.
"""

from __future__ import annotations

import html
import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import featurekit as fk
from featurekit.monitoring.report import render_html
from tests.browser import chromium as _chromium

# a feature name and a category that would run script if they reached the page raw
NAME = 'q</script><script>document.body.dataset.injected="1"</script>&amp'
CATEGORY = '<img src=x onerror="document.body.dataset.injected=2">&co'
FEATURES = fk.FeatureSet(
    "shop<&>",
    [
        fk.Numeric("age", scale="standard"),
        fk.Numeric(NAME, scale="standard"),
        fk.Categorical("plan", unknown="ignore"),
    ],
    version=2,
)
# the bar colours of report.STYLE, as a screenshot shows them
REFERENCE_BAR, DRIFTED_BAR = (0x90, 0xA4, 0xAE), (0xE5, 0x39, 0x35)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, n) + shift,
            NAME: rng.normal(size=n),
            "plan": rng.choice(["basic", CATEGORY, "plus"], n),
        }
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """A real report: "age" shifted by 1.5 standard deviations, the rest unchanged."""
    reference = _frame(400, seed=0)
    y = (reference["age"] > 40).astype(int)
    pipe = fk.make_pipeline(FEATURES, LogisticRegression()).fit(reference, y)
    path = tmp_path_factory.mktemp("report") / "shop"
    fk.export(pipe, path, reference=reference)
    got = fk.drift(path, _frame(300, seed=1, shift=15.0)).to_dict()
    verdicts = {f["feature"]: f["verdict"] for f in got["features"]}
    assert verdicts["age"] == "drift"
    assert verdicts[NAME] == verdicts["plan"] == "ok"
    return got


@pytest.fixture(scope="module")
def page(report, tmp_path_factory, system_tool) -> Path:
    system_tool(
        "chromium", "chromium", "the report tests drive a real headless browser"
    )
    path = tmp_path_factory.mktemp("page") / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def dom(page, tmp_path_factory) -> str:
    """The page's DOM after its script ran, as chromium serialises it."""
    profile = tmp_path_factory.mktemp("chromium")
    return _chromium(page, profile, "--dump-dom").stdout


@pytest.fixture(scope="module")
def screenshot(page, tmp_path_factory) -> np.ndarray:
    """The top 1200x1000 pixels of the page, as an (height, width, rgb) array."""
    profile = tmp_path_factory.mktemp("chromium")
    png = profile / "shot.png"
    _chromium(
        page,
        profile,
        "--window-size=1200,1000",
        "--hide-scrollbars",
        f"--screenshot={png}",
    )
    return _png_pixels(png.read_bytes())


def _plots(dom: str) -> dict[str, str]:
    """Each plot section of the DOM, by its heading's text (escaped, as in the DOM)."""
    sections = re.findall(r'<section class="plot.*?</section>', dom, re.S)
    return {re.search(r"<h3>(.*?)(?: <span|</h3>)", s).group(1): s for s in sections}


def _bars(histogram: dict) -> int:
    return sum(f > 0 for f in histogram["reference"] + histogram["current"])


# -- in a real browser ----------------------------------------------------------------
def test_browser_draws_every_plot(report, dom):
    body = re.search(r"<body[^>]*>", dom).group(0)
    # one plot per histogram: every feature's; the multivariate row has none
    assert f'data-plots-rendered="{len(report["histograms"])}"' in body
    assert dom.count('<svg class="hist"') == len(report["histograms"]) == 5
    assert len(report["features"]) == 6 and report["features"][-1]["kind"] == (
        "multivariate"
    )


def test_browser_draws_one_rect_per_nonzero_fraction(report, dom):
    plots = _plots(dom)
    for h in report["histograms"]:
        section = plots[html.escape(h["feature"], quote=False)]
        assert section.count("<rect") == section.count('<rect class="bar') == _bars(h)
        assert _bars(h) > 0


def test_browser_labels_every_bin_under_its_own_bar(report, dom):
    """No label sits under a neighbour's bar: one per bin, centred on its own slot."""
    plots = _plots(dom)
    for h in report["histograms"]:
        section = plots[html.escape(h["feature"], quote=False)]
        labels = re.findall(r'<text x="([\d.]+)"[^>]*class="label"', section)
        assert len(labels) == len(h["labels"])
        xs = [float(x) for x in labels]
        slots = np.diff(xs)
        assert (slots > 0).all() and np.allclose(slots, slots[0])  # one per slot
        if len(xs) > 8:  # upright: a label's text runs down from its own bar only
            assert section.count('transform="rotate(-90 ') == len(xs)


def test_browser_highlights_only_the_drifted_plots(report, dom):
    drifted = {
        html.escape(f["feature"], quote=False)
        for f in report["features"]
        if f["verdict"] == "drift" and f["kind"] != "multivariate"  # has no plot
    }
    plots = _plots(dom)
    assert "age" in drifted
    assert {
        n for n, s in plots.items() if s.startswith('<section class="plot drift"')
    } == (drifted)


def test_browser_shows_hostile_names_as_text_and_runs_none_of_them(dom):
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert "data-injected" not in body
    assert "<img" not in dom
    assert dom.count("<script") == 2  # the data block and the plotting script
    assert f"<h3>{html.escape(NAME, quote=False)}</h3>" in dom
    # the category label reaches the bars' tooltips as text
    assert html.escape(CATEGORY, quote=False) in dom


def test_browser_screenshot_shows_the_bars_in_their_colours(screenshot):
    packed = screenshot.astype(np.int32) @ np.array([1 << 16, 1 << 8, 1])
    assert len(np.unique(packed)) > 16, "blank page"
    for colour in (REFERENCE_BAR, DRIFTED_BAR):
        assert np.all(screenshot == colour, axis=-1).sum() > 500, colour


def _png_pixels(data: bytes) -> np.ndarray:
    """Decode an 8-bit RGB or RGBA PNG (what chromium writes), without Pillow."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {b"IHDR": b"", b"IDAT": b""}
    while pos < len(data):
        (size,), kind = (
            struct.unpack(">I", data[pos : pos + 4]),
            data[pos + 4 : pos + 8],
        )
        if kind in chunks:
            chunks[kind] += data[pos + 8 : pos + 8 + size]
        pos += size + 12
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = width * bpp
    out = np.zeros((height + 1, stride), dtype=np.int64)  # row 0: the zero row above
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)],
        )
        cur, up = np.frombuffer(line, np.uint8).astype(np.int64), out[y]
        if kind in (0, 2):
            out[y + 1] = (cur + (up if kind == 2 else 0)) % 256
        elif kind == 1:  # left neighbours: a running sum per channel
            out[y + 1] = np.cumsum(cur.reshape(-1, bpp), axis=0).reshape(-1) % 256
        else:  # average and Paeth depend on the decoded left byte: one by one
            row, prev = [0] * stride, up.tolist()
            for i, v in enumerate(cur.tolist()):
                a = row[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                if kind == 3:
                    row[i] = (v + (a + b) // 2) % 256
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    row[i] = (v + pred) % 256
            out[y + 1] = row
    return out[1:].reshape(height, width, bpp)[..., :3].astype(np.uint8)


# -- the page itself ------------------------------------------------------------------
def test_render_escapes_names_and_labels_everywhere(report):
    text = render_html(report)
    assert NAME not in text and CATEGORY not in text
    assert html.escape(NAME) in text
    assert "<img" not in text
    # only the two script elements close: the JSON block cannot be broken out of
    assert text.count("</script") == 2
    assert html.escape("shop<&>") in text and "shop<&>" not in text


def test_render_embeds_the_histograms_as_json_that_round_trips(report):
    text = render_html(report)
    block = re.search(
        r'<script type="application/json" id="histograms">(.*?)</script>', text, re.S
    ).group(1)
    assert json.loads(block) == report["histograms"]


def test_render_gives_every_feature_a_plot_container(report):
    text = render_html(report)
    indexes = re.findall(
        r'<section class="plot[^"]*" id="plot-(\d+)" data-plot="\1"', text
    )
    assert indexes == [str(i) for i in range(len(report["histograms"]))]
    # and the table links each feature to its plot
    assert re.findall(r'<a href="#plot-(\d+)">', text) == indexes


def test_render_fetches_nothing(report):
    text = render_html(report)
    assert not re.search(r"""(?:src|href|url)\s*[=(]\s*["']?\s*(?:https?:)?//""", text)
    assert "default-src 'none'" in text  # the CSP forbids any fetch as well


@pytest.mark.parametrize(
    ("verdict", "css"),
    [("drift", "drift"), ("no drift", "ok"), ("insufficient data", "insufficient")],
)
def test_render_colours_the_dataset_verdict(report, verdict, css):
    text = render_html({**report, "verdict": verdict})
    assert f'<div class="verdict {css}" id="verdict">{verdict}</div>' in text


def test_render_table_shows_effect_threshold_and_missing_rates(report):
    text = render_html(report)
    age = next(f for f in report["features"] if f["feature"] == "age")
    assert f"{age['effect']:.4g} / {age['threshold']:.4g}" in text
    assert "0.0% -&gt; 0.0%" in text
