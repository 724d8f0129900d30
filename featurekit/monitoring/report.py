"""Render a drift report as one self-contained HTML page, with a histogram per feature.

The page needs nothing but a browser: the styles and the plotting script are inline,
the histogram data is embedded as JSON, and a Content-Security-Policy forbids any
fetch, so it works offline and from ``file://``. Every text that comes from data
(feature names, category labels) is escaped by `html.escape` in the table and set
with ``textContent`` in the plots.
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from featurekit.monitoring.verdicts import deciding

__all__ = ["COLUMNS", "render_html", "summary_row"]

#: The summary table's columns, on the page and in ``featurekit drift``'s output.
COLUMNS = (
    "feature",
    "kind",
    "verdict",
    "signals",
    "statistic",
    "effect / threshold",
    "p / adjusted p",
    "detectable shift",
    "missing ref -> cur",
    "unseen",
)
CELL_CLASSES = (
    "name",
    "kind",
    "verdict-cell",
    "",
    "",
    "num",
    "num",
    "num",
    "num",
    "num",
)
VERDICT_CLASS = {
    "drift": "drift",
    "no drift": "ok",
    "ok": "ok",
    "insufficient data": "insufficient",
}

# The plotting script: one grouped-bar SVG per histogram, bars only where a fraction
# is > 0, so a plot's <rect> elements are exactly its visible bars (the legend uses
# <path>). When every plot is drawn, it sets body[data-plots-rendered].
SCRIPT = """
(function () {
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("histograms").textContent);
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, s, attrs) {
    var t = el("text", Object.assign({x: x, y: y}, attrs || {}), parent);
    t.textContent = s;
    return t;
  }
  function pct(f) { return (100 * f).toFixed(f > 0 && f < 0.001 ? 3 : 1) + "%"; }
  function short(s) { return s.length > 18 ? s.slice(0, 17) + "\\u2026" : s; }
  function draw(h, box) {
    // many bins: narrower slots (never below a line of text) and every label
    // turned upright under its own bar, so none sits under a neighbour's bar
    var n = h.labels.length, tilt = n > 8, slot = Math.max(14, Math.min(72, 640 / n));
    var left = 48, top = 28, plotH = 160, bottom = tilt ? 124 : 40;
    var width = left + n * slot + 16, height = top + plotH + bottom;
    var top1 = Math.max.apply(null, h.reference.concat(h.current, [1e-9]));
    var svg = el("svg", {"class": "hist", width: width, height: height,
                         viewBox: "0 0 " + width + " " + height, role: "img"}, box);
    [[0, "0%"], [top1 / 2, pct(top1 / 2)], [top1, pct(top1)]].forEach(function (t) {
      var y = top + plotH - (t[0] / top1) * plotH;
      el("line", {x1: left, x2: width - 8, y1: y, y2: y, "class": "grid"}, svg);
      text(svg, left - 4, y + 4, t[1], {"class": "tick", "text-anchor": "end"});
    });
    var barW = (slot - 4) / 2;
    h.labels.forEach(function (label, i) {
      var x0 = left + i * slot + 2;
      [["reference", "ref", 0], ["current", "cur", 1]].forEach(function (s) {
        var f = h[s[0]][i];
        if (!(f > 0)) return;
        var bh = Math.max(1, (f / top1) * plotH);
        var bar = el("rect", {"class": "bar " + s[1], x: x0 + s[2] * barW,
                              y: top + plotH - bh, width: barW, height: bh}, svg);
        el("title", {}, bar).textContent = label + " \\u2014 " + s[0] + " " + pct(f);
      });
      var lx = x0 + barW, ly = top + plotH + 8;
      text(svg, lx, ly, short(label), tilt
        ? {"class": "label", "text-anchor": "end", "dominant-baseline": "middle",
           transform: "rotate(-90 " + lx + " " + ly + ")"}
        : {"class": "label", "text-anchor": "middle", dy: "0.6em"});
    });
    el("line", {x1: left, x2: width - 8, y1: top + plotH, y2: top + plotH,
                "class": "axis"}, svg);
    [["ref", "reference"], ["cur", "current"]].forEach(function (s, k) {
      var x = left + k * 100;
      el("path", {d: "M" + x + " 8h10v10h-10z", "class": "swatch " + s[0]}, svg);
      text(svg, x + 14, 17, s[1], {"class": "legend"});
    });
  }
  var drawn = 0;
  data.forEach(function (h, i) {
    draw(h, document.querySelector('[data-plot="' + i + '"] .canvas'));
    drawn += 1;
  });
  document.body.dataset.plotsRendered = String(drawn);
})();
"""

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
header { display: flex; gap: 24px; align-items: center; flex-wrap: wrap; }
.verdict { font-size: 22px; font-weight: 700; padding: 6px 16px; border-radius: 6px; }
.verdict.drift { background: #c62828; color: #fff; }
.verdict.ok { background: #2e7d32; color: #fff; }
.verdict.insufficient { background: #757575; color: #fff; }
.meta { color: #555; } code { font-size: 13px; }
table { border-collapse: collapse; margin: 16px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }
td.num, th { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.drift td { background: #fdecea; } tr.drift td.verdict-cell { color: #c62828; font-weight: 700; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
.plot { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; overflow-x: auto; }
.plot.drift { border: 2px solid #c62828; background: #fffafa; }
.plot h3 { margin: 0 0 4px; font-size: 15px; } .plot h3 .badge { color: #c62828; }
svg.hist .bar.ref, svg.hist .swatch.ref { fill: #90a4ae; }
svg.hist .bar.cur, svg.hist .swatch.cur { fill: #1e88e5; }
.plot.drift svg.hist .bar.cur, .plot.drift svg.hist .swatch.cur { fill: #e53935; }
svg.hist .grid { stroke: #eee; } svg.hist .axis { stroke: #888; }
svg.hist text { font-size: 11px; fill: #444; }
"""

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:"
)


def render_html(report: dict[str, Any]) -> str:
    """The drift report as a self-contained HTML page.

    Parameters
    ----------
    report : dict
        `featurekit.DriftReport.to_dict` output.

    Returns
    -------
    str

    Examples
    --------
    >>> page = render_html({"model": {"name": "<m>", "version": 1, "sha256": "ab"},
    ...                     "verdict": "no drift", "rows": 0, "features": [],
    ...                     "histograms": []})
    >>> page.startswith("<!DOCTYPE html>"), "&lt;m&gt;" in page, "<m>" in page
    (True, True, False)
    """
    model = report.get("model", {})
    name, version = str(model.get("name")), str(model.get("version"))
    sha = str(model.get("sha256", ""))
    verdict = str(report.get("verdict", ""))
    verdict_class = VERDICT_CLASS.get(verdict, "insufficient")
    histograms = report.get("histograms", [])
    plot_of = {h["feature"]: i for i, h in enumerate(histograms)}
    features = report.get("features", [])
    rows = "\n".join(_table_row(f, plot_of.get(f["feature"])) for f in features)
    by_name = {f["feature"]: f for f in features}
    plots = "\n".join(
        _plot(i, h["feature"], by_name.get(h["feature"], {}))
        for i, h in enumerate(histograms)
    )
    settings = report.get("settings", {})
    alpha, window = settings.get("alpha", "?"), settings.get("window", "?")
    sizes = ", ".join(str(n) for n in settings.get("sizes", [window]))
    min_rows = settings.get("min_rows", "?")
    joint = any(f.get("kind") == "multivariate" for f in features)
    joint_note = " and the multivariate row" if joint else ""
    joint_text = (
        " The (multivariate) row tests every input together: the rise of the PCA "
        "reconstruction error over the reference's, which sees joint shifts (a "
        "correlation that flips, a new cluster) that leave each feature's own "
        "distribution unchanged."
        if joint
        else ""
    )
    current, reference = report.get("rows", 0), report.get("reference_rows", 0)
    title = escape(f"Drift report: {name} v{version}")
    header = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{STYLE}</style></head>
<body>
<header><h1>{title}</h1>
<div class="verdict {verdict_class}" id="verdict">{escape(verdict)}</div></header>
<p class="meta">model <b>{escape(name)}</b> v{escape(version)}, sha256
<code title="{escape(sha)}">{escape(sha[:12])}</code>
&middot; {current:,} rows against {reference:,} reference rows
&middot; alpha {escape(str(alpha))} (Simes within a feature,
Benjamini&ndash;Hochberg across features{joint_note}),
thresholds calibrated at {escape(sizes)} rows</p>
<p class="meta">detectable shift: the smallest change this window detects with 80 %
power (numbers: a mean shift in reference standard deviations; categories: a
category's share, in points). Windows under {escape(str(min_rows))} rows say
&ldquo;insufficient data&rdquo;.{joint_text}</p>
<table>
<thead><tr>{header}</tr></thead>
<tbody>
{rows}
</tbody></table>
{_estimate_block(report.get("estimate"))}
<h2>Reference vs current</h2>
<div class="plots">
{plots}
</div>
<script type="application/json" id="histograms">{_json_for_script(histograms)}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def summary_row(feature: dict[str, Any]) -> dict[str, str]:
    """One feature's row of the summary table, as plain text keyed by `COLUMNS`.

    The HTML page and ``featurekit drift`` print the same cells.

    Examples
    --------
    >>> row = summary_row({"feature": "age", "verdict": "drift", "effect": 0.31,
    ...                    "threshold": 0.12, "signals": ["distribution"],
    ...                    "missing_reference": 0.0, "missing_current": 0.125})
    >>> row["effect / threshold"], row["missing ref -> cur"], row["unseen"]
    ('0.31 / 0.12', '0.0% -> 12.5%', '-')
    """
    signals = feature.get("signals") or []
    shown = deciding(feature)
    statistic, effect, threshold = (
        shown["statistic"],
        shown["effect"],
        shown["threshold"],
    )
    p, p_adjusted = shown["p_value"], shown["p_adjusted"]
    cells = [
        str(feature["feature"]),
        str(feature.get("kind", "")),
        str(feature.get("verdict", "")),
        ", ".join(signals) or "-",
        str(statistic).replace("_", " ") if statistic else "-",
        f"{_num(effect)} / {_num(threshold)}",
        f"{_p(p)} / {_p(p_adjusted)}",
        _detectable(feature),
        f"{_pct(feature.get('missing_reference'))} -> "
        f"{_pct(feature.get('missing_current'))}",
        _pct(feature.get("unseen_rate")),
    ]
    return dict(zip(COLUMNS, cells, strict=True))


def _table_row(feature: dict[str, Any], plot: int | None) -> str:
    verdict = str(feature.get("verdict", ""))
    cells = [escape(c) for c in summary_row(feature).values()]
    if plot is not None:
        cells[0] = f'<a href="#plot-{plot}">{cells[0]}</a>'
    tds = "".join(
        f'<td class="{kind}">{c}</td>'
        for kind, c in zip(CELL_CLASSES, cells, strict=True)
    )
    return f'<tr class="{VERDICT_CLASS.get(verdict, "")}">{tds}</tr>'


def _plot(index: int, name: str, feature: dict[str, Any]) -> str:
    verdict = str(feature.get("verdict", ""))
    badge = ' <span class="badge">drift</span>' if verdict == "drift" else ""
    signals = ", ".join(feature.get("signals") or [])
    note = escape(f"{verdict}: {signals}" if signals else verdict)
    return (
        f'<section class="plot {VERDICT_CLASS.get(verdict, "")}" id="plot-{index}" '
        f'data-plot="{index}" data-verdict="{escape(verdict)}">'
        f"<h3>{escape(str(name))}{badge}</h3>"
        f'<div class="meta">{note}</div><div class="canvas"></div></section>'
    )


def _estimate_block(est: dict[str, Any] | None) -> str:
    """The label-free performance estimate, with its interval and its assumptions."""
    if not est or est.get("accuracy") is None:
        return ""

    def figure(name: str, key: str) -> str:
        lo, hi = est.get(f"{key}_ci95") or (None, None)
        return (
            f"<li>{name}: <b>{_num(est[key])}</b> (estimate; 95 % interval "
            f"{_num(lo)} to {_num(hi)})</li>"
        )

    items = [figure("accuracy", "accuracy")]
    if est.get("roc_auc") is not None:
        items.append(figure("ROC AUC", "roc_auc"))
    cal = est.get("calibration", {})
    support = est.get("outside_support", {})
    where = support.get("feature")
    items.append(
        f"<li>holdout accuracy at export: {_num(est.get('holdout_accuracy'))}</li>"
        f"<li>assumption, calibration on the holdout: map {escape(str(cal.get('map')))}"
        f" (Brier score {_num(cal.get('brier_binned'))} binned, "
        f"{_num(cal.get('brier_model'))} the model's own; expected calibration error "
        f"{_num(cal.get('ece_model'))})</li>"
        f"<li>assumption, rows like the reference's: "
        f"{_pct(support.get('share'))} of "
        f"{escape(repr(where)) if where else 'any input'}'s values lie outside the "
        "reference's support</li>"
    )
    return (
        '<section id="estimate"><h2>Estimated performance (an estimate: no labels)'
        "</h2><ul>" + "".join(items) + '</ul><p class="meta">From the scores '
        "alone, through the calibration map fitted on the holdout: right while the "
        "model stays calibrated. A concept shift (the same inputs now meaning other "
        "labels) moves no score, so it moves no estimate.</p></section>"
    )


def _json_for_script(value: Any) -> str:
    # "<", ">" and "&" only occur inside JSON strings, where \\u escapes mean the same;
    # without them "</script>" or "<!--" in a label would end or break the block
    text = json.dumps(value, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _detectable(feature: dict[str, Any]) -> str:
    """The smallest shift the window detects (80 % power), in the feature's units."""
    x = feature.get("detectable_shift")
    if x is None or not math.isfinite(float(x)):
        return "-"
    if feature.get("kind") == "numeric":
        return f"{float(x):.2g} sd"
    return f"{100 * float(x):.0f} pts"


def _num(x: Any) -> str:
    return "-" if x is None else f"{float(x):.4g}"


def _p(x: Any) -> str:
    if x is None:
        return "-"
    return f"{float(x):.2g}" if x == 0 or float(x) >= 1e-3 else f"{float(x):.1e}"


def _pct(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * float(x):.1f}%"
