"""Render a comparison as one self-contained HTML page: verdict, tests, slices, contract, drift.

No script and no fetch: the interval plot of every row is an inline SVG drawn here,
the styles are inline, and a Content-Security-Policy forbids loading anything, so
the page works offline and from ``file://``. Every text that comes from data (model,
column and category names, failure cases) goes through `html.escape`.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

__all__ = ["render_html"]

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
header { display: flex; gap: 24px; align-items: center; flex-wrap: wrap; }
.verdict { font-size: 22px; font-weight: 700; padding: 6px 16px; border-radius: 6px;
  color: #fff; }
.verdict.promote { background: #2e7d32; } .verdict.keep { background: #c62828; }
.verdict.inconclusive { background: #757575; }
.meta { color: #555; } code { font-size: 13px; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }
td:first-child { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.bad td { background: #fdecea; } tr.untested td { color: #777; }
svg.ci line.zero { stroke: #888; } svg.ci line.margin { stroke: #e53935;
  stroke-dasharray: 3 2; } svg.ci rect { fill: #1e88e5; }
tr.bad svg.ci rect { fill: #e53935; } svg.ci circle { fill: #0d47a1; }
"""

VERDICT_CLASS = {"promote": "promote", "keep": "keep", "inconclusive": "inconclusive"}
WIDTH, HEIGHT = 220, 16


def render_html(report: dict[str, Any]) -> str:
    """The comparison (`Comparison.to_dict`) as an HTML page.

    Examples
    --------
    >>> page = render_html({"verdict": "keep", "reasons": ["<why>"], "metric": "m",
    ...     "models": {"champion": {"name": "<a>", "version": 1, "sha256": "ab"},
    ...                "challenger": {"name": "b", "version": 2, "sha256": "cd"}},
    ...     "settings": {"margin": 0, "alpha": 0.05}, "rows": {}, "overall": {},
    ...     "slices": [], "compatibility": {"failures": []}, "drift": []})
    >>> page.startswith("<!DOCTYPE html>"), "&lt;a&gt;" in page, "<why>" in page
    (True, True, False)
    """
    models = report.get("models", {})
    a, b = models.get("champion", {}), models.get("challenger", {})
    verdict = str(report.get("verdict", ""))
    s = report.get("settings", {})
    margin = float(s.get("margin") or 0.0)
    overall = report.get("overall", {})
    scoped = [("all rows", overall)] + [
        (f"{r['column']} = {r['value']}", r) for r in report.get("slices", [])
    ]
    span = _span([r for _, r in scoped], margin)
    tests = "\n".join(_test_row(name, r, span, margin) for name, r in scoped)
    title = escape(f"Comparison: {a.get('name')} v{a.get('version')} -> "
                   f"{b.get('name')} v{b.get('version')}")  # fmt: skip
    reasons = "".join(f"<li>{escape(str(r))}</li>" for r in report.get("reasons", []))
    rows = report.get("rows", {})
    counts = " &middot; ".join(
        f"{escape(k.replace('_', ' '))} <b>{int(v):,}</b>" for k, v in rows.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{STYLE}</style></head>
<body>
<header><h1>{title}</h1>
<div class="verdict {VERDICT_CLASS.get(verdict, "inconclusive")}" id="verdict">{
        escape(verdict)
    }</div></header>
<ul id="reasons">{reasons}</ul>
<p class="meta">champion {_model(a)} &middot; challenger {_model(b)}<br>
metric <b>{escape(str(report.get("metric")))}</b>
({"higher" if report.get("higher_is_better") else "lower"} is better) &middot;
margin {escape(str(s.get("margin")))} &middot; one-sided alpha
{escape(str(s.get("alpha")))} (slices: Holm) &middot; intervals at
{_pct(1 - 2 * float(s.get("alpha") or 0.05))}</p>
<p class="meta" id="rows">{counts}</p>
<h2>Paired tests</h2>
<p class="meta">improvement: positive when the challenger is better. p is one-sided:
for all rows, against the challenger being better (or, with a margin, within it);
for a slice, against it being worse by more than the margin. The bar is the interval,
the grey line no difference, the red dashes the margin.</p>
<table id="tests"><thead><tr><th>scope</th><th>rows</th><th>champion</th>
<th>challenger</th><th>improvement</th><th>interval</th><th>test</th><th>p</th>
<th>p adjusted</th><th>detectable</th><th>status</th></tr></thead>
<tbody>
{tests}
</tbody></table>
<h2>Contract compatibility</h2>
{_compatibility(report.get("compatibility", {}))}
<h2>Drift between the reference profiles</h2>
{_drift(report.get("drift", []))}
</body></html>
"""


def _model(m: dict[str, Any]) -> str:
    sha = str(m.get("sha256", ""))
    return (
        f"<b>{escape(str(m.get('name')))}</b> v{escape(str(m.get('version')))} "
        f'<code title="{escape(sha)}">{escape(sha[:12])}</code>'
    )


def _span(rows: list[dict[str, Any]], margin: float) -> tuple[float, float]:
    lo = min([-margin, 0.0] + [r["ci_low"] for r in rows if _finite(r.get("ci_low"))])
    hi = max([0.0] + [r["ci_high"] for r in rows if _finite(r.get("ci_high"))])
    pad = (hi - lo) * 0.05 or 1.0
    return lo - pad, hi + pad


def _ci_svg(r: dict[str, Any], span: tuple[float, float], margin: float) -> str:
    if not (_finite(r.get("ci_low")) and _finite(r.get("ci_high"))):
        return ""
    lo, hi = span

    def x(v: float) -> float:
        return round((v - lo) / (hi - lo) * WIDTH, 1)

    left, right = x(r["ci_low"]), x(r["ci_high"])
    marks = f'<line class="zero" x1="{x(0)}" x2="{x(0)}" y1="0" y2="{HEIGHT}"/>'
    if margin:
        marks += (
            f'<line class="margin" x1="{x(-margin)}" x2="{x(-margin)}" '
            f'y1="0" y2="{HEIGHT}"/>'
        )
    return (
        f'<svg class="ci" width="{WIDTH}" height="{HEIGHT}" role="img">{marks}'
        f'<rect x="{left}" y="6" width="{max(right - left, 1)}" height="4"/>'
        f'<circle cx="{x(r["improvement"])}" cy="8" r="3"/></svg>'
    )


def _test_row(
    scope: str, r: dict[str, Any], span: tuple[float, float], margin: float
) -> str:
    if "improvement" not in r:
        note = escape(str(r.get("note", "")))
        return (
            f'<tr class="untested"><td>{escape(scope)}</td>'
            f'<td class="num">{int(r.get("rows", 0)):,}</td>'
            f'<td colspan="9">{note}</td></tr>'
        )
    bad = bool(r.get("regressed"))
    status = "regressed" if bad else ("ok" if "regressed" in r else "")
    interval = f"[{_num(r.get('ci_low'))}, {_num(r.get('ci_high'))}] " + _ci_svg(
        r, span, margin
    )
    cells = [
        escape(scope),
        f"{int(r['rows']):,}",
        _num(r.get("champion")),
        _num(r.get("challenger")),
        _num(r.get("improvement"), signed=True),
        interval,
        escape(str(r.get("test", ""))),
        _num(r.get("p_better") if scope == "all rows" else r.get("p_worse")),
        _num(r.get("p_adjusted")),
        _num(r.get("detectable")),
        status,
    ]
    klass = ["", "num", "num", "num", "num", "num", "", "num", "num", "num", ""]
    tds = "".join(
        f'<td class="{k}">{c}</td>' if k else f"<td>{c}</td>"
        for k, c in zip(klass, cells, strict=True)
    )
    return f'<tr class="{"bad" if bad else "ok"}">{tds}</tr>'


def _compatibility(c: dict[str, Any]) -> str:
    only = int(c.get("refused_by_challenger_only", 0))
    head = (
        f'<p id="compatibility">The challenger refuses <b>{only:,}</b> rows '
        f"({_pct(c.get('share', 0.0))}) that the champion accepts; the champion "
        f"refuses {int(c.get('refused_by_champion_only', 0)):,} that the challenger "
        "accepts.</p>"
    )
    failures = c.get("failures", [])
    if not failures:
        return head
    rows = "".join(
        f'<tr class="bad"><td>{escape(str(f["column"]))}</td>'
        f'<td>{escape(str(f["check"]))}</td><td class="num">{int(f["rows"]):,}</td>'
        f"<td>{escape(', '.join(map(str, f.get('examples', []))))}</td></tr>"
        for f in failures
    )
    return (
        f'{head}<table id="refusals"><thead><tr><th>column</th><th>check</th>'
        f"<th>rows</th><th>examples</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _drift(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>No profiles to compare (an artifact was exported without one).</p>"
    body = "".join(
        f'<tr class="{"bad" if r.get("verdict") == "drift" else "ok"}">'
        f"<td>{escape(str(r['feature']))}</td><td>{escape(str(r.get('verdict')))}</td>"
        f"<td>{escape(', '.join(map(str, r.get('signals', []))))}</td>"
        f'<td class="num">{_num(r.get("effect"))} / {_num(r.get("threshold"))}</td>'
        f'<td class="num">{_num(r.get("p_adjusted"))}</td>'
        f"<td>{'yes' if r.get('rebinned') else ''}</td></tr>"
        for r in rows
    )
    return (
        '<table id="drift"><thead><tr><th>feature</th><th>verdict</th><th>signals</th>'
        "<th>effect / threshold</th><th>adjusted p</th><th>re-binned</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _num(x: Any, *, signed: bool = False) -> str:
    if not _finite(x):
        return ""
    return f"{x:+.4g}" if signed else f"{x:.4g}"


def _pct(x: Any) -> str:
    return f"{float(x):.1%}" if _finite(x) else ""
