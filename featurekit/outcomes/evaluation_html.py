"""The HTML page of an `EvaluationReport`: self-contained (inline SVG, no scripts)."""

from __future__ import annotations

import html
import math
from typing import Any

__all__ = ["metric_chart", "render"]

_W, _H, _PAD = 640, 180, 36
_LABEL = 56  # room right of the plot for the names of its lines


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _num(x: Any) -> float:
    return float(x) if _finite(x) else math.nan


def metric_chart(
    windows: list[dict[str, Any]],
    name: str,
    reference: float | None,
    threshold: float | None,
    *,
    reference_label: str = "holdout",
) -> str:
    """An SVG line of `name` per window, its 95 % band, the holdout and decay lines.

    `reference_label` names the `reference` line (the live dashboard's confidence
    chart compares with the reference profile, not a holdout metric).

    Examples
    --------
    >>> svg = metric_chart([{"a": .8, "a_low": .7, "a_high": .9}, {"a": .6}], "a",
    ...                    .85, .83)
    >>> svg.count("<line "), ">holdout<" in svg, ">decay line<" in svg
    (2, True, True)
    """
    pts = [
        (i, _num(w.get(name)), _num(w.get(f"{name}_low")), _num(w.get(f"{name}_high")))
        for i, w in enumerate(windows)
        if _finite(w.get(name))
    ]
    if not pts:
        return f"<p>No labelled window has {html.escape(name)} yet.</p>"
    values = [v for _, *vs in pts for v in vs if _finite(v)]
    values += [_num(v) for v in (reference, threshold) if _finite(v)]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    n = max(len(windows) - 1, 1)

    def x(i: float) -> float:
        return _PAD + (_W - 2 * _PAD) * i / n

    def y(v: float) -> float:
        return _H - _PAD / 2 - (_H - _PAD) * (v - lo) / (hi - lo)

    band_pts = [(x(i), y(h)) for i, _, _, h in pts if _finite(h)] + [
        (x(i), y(low)) for i, _, low, _ in reversed(pts) if _finite(low)
    ]
    band = " ".join(f"{a:.1f},{b:.1f}" for a, b in band_pts)
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v, _, _ in pts)
    parts = [
        f'<svg class="chart" width="{_W + _LABEL}" height="{_H}" role="img" '
        f'aria-label="{html.escape(name)} per window">',
        f'<polygon points="{band}" fill="#9ecae1" opacity="0.5"/>',
        f'<polyline points="{line}" fill="none" stroke="#08519c" stroke-width="2"/>',
    ]
    lines = [
        (v, colour, label)
        for v, colour, label in (
            (reference, "#2ca02c", html.escape(reference_label)),
            (threshold, "#d62728", "decay line"),
        )
        if v is not None and _finite(v)
    ]
    for value, colour, label in lines:
        # with two lines, the upper one's label sits above it, the lower one's below
        upper = len(lines) == 2 and value == max(v for v, _, _ in lines)
        dy = -3 if upper else (10 if len(lines) == 2 else 4)
        parts.append(
            f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="{colour}" stroke-dasharray="4 3"/><text x="{_W - _PAD + 2}" '
            f'y="{y(value) + dy:.1f}" font-size="10">{label}</text>'
        )
    parts.append(
        f'<text x="2" y="{y(hi - 0.05 * span) + 4:.1f}" font-size="10">{hi:.3g}</text>'
        f'<text x="2" y="{y(lo + 0.05 * span):.1f}" font-size="10">{lo:.3g}</text></svg>'
    )
    return "".join(parts)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    return html.escape(str(v))


def render(report: dict[str, Any]) -> str:
    """The page for `EvaluationReport.to_dict()`."""
    windows = report["windows"]
    holdout = report["holdout"]
    metric = report["metric"]
    model = report["model"]
    verdict = report["verdict"]
    colour = {"ok": "#2ca02c", "decay": "#d62728"}.get(verdict, "#7f7f7f")
    charts = []
    for name in holdout:
        ref = holdout[name]["value"]
        charts.append(
            f"<h3>{html.escape(name)}</h3>"
            + metric_chart(
                windows, name, ref, report["threshold"] if name == metric else None
            )
        )
    coverage = [
        {
            "c": w.get("coverage"),
            "c_low": w.get("coverage"),
            "c_high": w.get("coverage"),
        }
        for w in windows
    ]
    cols = [
        "start",
        "served",
        "labelled",
        "coverage",
        "latency_median_s",
        metric,
        f"{metric}_low",
        f"{metric}_high",
        "ece",
        "label_drift",
        "worse",
    ]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(w.get(c, ''))}</td>" for c in cols) + "</tr>"
        for w in windows
    )
    start = report.get("decay_start")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>featurekit evaluation: {html.escape(str(model.get("name")))}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px}}
.verdict{{color:{colour};font-weight:bold}}</style></head><body>
<h1>Online evaluation of {html.escape(str(model.get("name")))} v{html.escape(str(model.get("version")))}</h1>
<p>Verdict: <span class="verdict" id="verdict">{html.escape(verdict)}</span>
{f"(decay from the window starting {html.escape(start)})" if start else ""}.
Decided on {html.escape(metric)}: holdout {holdout[metric]["value"]:.4g}, decay line {report["threshold"]:.4g}.
{report["labelled"]} of {report["served"]} served rows labelled; {report["unmatched_labels"]} labels match no served row.</p>
<h2>Label coverage</h2>{metric_chart(coverage, "c", None, None)}
<h2>Metrics per window (95 % intervals)</h2>{"".join(charts)}
<h2>Windows</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>model sha256 {html.escape(str(model.get("sha256")))}</p>
</body></html>
"""
